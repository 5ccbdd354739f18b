#include "http/routes/Routes.h"

namespace consultd::http::routes {

void registerApiRoutes(Router& router, ApiServices& s, signal::SignalingService* signaling, AdminServices* admin) {
    const std::string read = "sessions:read";
    const std::string write = "sessions:write";
    router.add("POST", "/api/v1/sessions", write, makeCreateSession(s));
    router.add("GET", "/api/v1/sessions", read, makeListSessions(s));
    router.add("GET", "/api/v1/sessions/{id}", read, makeGetSession(s));
    router.add("POST", "/api/v1/sessions/{id}/start", write, makeStartSession(s));
    router.add("POST", "/api/v1/sessions/{id}/end", write, makeEndSession(s));
    router.add("POST", "/api/v1/sessions/{id}/cancel", write, makeCancelSession(s));
    router.add("POST", "/api/v1/sessions/{id}/token", write, makeIssueToken(s));
    router.add("GET", "/api/v1/sessions/{id}/can-join", read, makeCanJoin(s));
    router.add("POST", "/api/v1/sessions/{id}/invites", write, makeCreateInvite(s));
    router.add("POST", "/api/v1/sessions/{id}/events", write, makePostEvent(s));
    router.add("GET", "/api/v1/sessions/{id}/events", read, makeListEvents(s));
    router.add("GET", "/api/v1/sessions/{id}/analytics", read, makeAnalytics(s));
    router.add("GET", "/api/v1/providers", read, makeListProviders(s));
    router.add("GET", "/api/v1/ice-servers", write, makeIceServers(s));
    // Exam-room devices (kiosks).
    const std::string devices = "devices:write";
    router.add("GET", "/api/v1/devices", devices, makeListDevices(s));
    router.add("POST", "/api/v1/devices", devices, makeCreateDevice(s));
    router.add("POST", "/api/v1/devices/{id}/enrollment-code", devices, makeNewEnrollmentCode(s));
    router.add("POST", "/api/v1/devices/{id}/revoke", devices, makeRevokeDevice(s));
    // Public, for the appliance's own pages: an invite id, an enrollment code
    // or the device cookie authenticates; each is rate-limited per address.
    router.add("POST", "/api/v1/invites/redeem", "", makeRedeemInvite(s));
    router.add("POST", "/api/v1/kiosk/enroll", "", makeKioskEnroll(s));
    router.add("GET", "/api/v1/kiosk/state", "", makeKioskState(s));
    router.add("POST", "/api/v1/kiosk/grant", "", makeKioskGrant(s));
    // Public: the provider's signature check authenticates (rate-limited per address).
    router.add("POST", "/api/v1/webhooks/{provider}", "", makeProviderWebhook(s));
    // Local recordings: start/stop by the host's system, catalog, audited download and deletion.
    router.add("POST", "/api/v1/sessions/{id}/recording/start", "recordings:write", makeStartRecording(s));
    router.add("POST", "/api/v1/sessions/{id}/recording/stop", "recordings:write", makeStopRecording(s));
    router.add("GET", "/api/v1/recordings", "recordings:read", makeListRecordings(s));
    router.add("GET", "/api/v1/recordings/{id}", "recordings:read", makeGetRecording(s));
    // Downloads need recordings:read, or admin alone when recording.media_scope says so.
    router.add("GET", "/api/v1/recordings/{id}/media",
               s.config()->getString("recording.media_scope") != "admin" ? "recordings:read" : "admin",
               makeRecordingMedia(s));
    router.add("DELETE", "/api/v1/recordings/{id}", "recordings:write", makeDeleteRecording(s));
    router.add("GET", "/healthz", "", makeHealthz(s));
    router.add("GET", "/readyz", "", makeReadyz(s));
    router.add("GET", "/api/v1/healthz", "", makeHealthz(s));
    router.add("GET", "/api/v1/readyz", "", makeReadyz(s));
    // Public: the signaling token in the first message authenticates.
    if (signaling != nullptr) router.add("GET", "/api/v1/signal", "", makeSignal(s, *signaling));
    // Admin console (docs/admin-guide.md). Key and audit management work with
    // an admin-scope API key too; login is public and rate-limited.
    const std::string adminScope = "admin";
    router.add("GET", "/api/v1/api-keys", adminScope, makeListApiKeys(s));
    router.add("POST", "/api/v1/api-keys", adminScope, makeCreateApiKey(s));
    router.add("POST", "/api/v1/api-keys/{id}/revoke", adminScope, makeRevokeApiKey(s));
    router.add("GET", "/api/v1/audit", adminScope, makeListAudit(s));
    router.add("GET", "/api/v1/audit.csv", adminScope, makeExportAuditCsv(s));
    router.add("GET", "/api/v1/admin/config", adminScope, makeEffectiveConfig(s));
    if (admin != nullptr) {
        router.add("POST", "/api/v1/admin/login", "", makeAdminLogin(s, *admin));
        router.add("POST", "/api/v1/admin/logout", adminScope, makeAdminLogout(s, *admin));
        router.add("GET", "/api/v1/admin/session", adminScope, makeAdminWhoAmI(s, *admin));
        router.add("GET", "/api/v1/admin/dashboard", adminScope, makeAdminDashboard(s, *admin));
        router.add("GET", "/api/v1/admin/events", adminScope, makeAdminEvents(s, *admin));
    }
    // Scrapers without a key are allowed only when the operator says so.
    router.add("GET", "/metrics", s.config()->getBool("server.metrics_require_auth") ? "metrics:read" : "", makeMetrics(s));
}

}  // namespace consultd::http::routes
