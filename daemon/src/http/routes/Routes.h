#pragma once
// One factory per route; each route lives in the file named after it.

#include "http/AdminServices.h"
#include "http/ApiServices.h"
#include "http/Route.h"
#include "http/Router.h"

#include <memory>

namespace consultd::signal {
class SignalingService;
}

namespace consultd::http::routes {

std::unique_ptr<Route> makeCreateSession(ApiServices& services);
std::unique_ptr<Route> makeGetSession(ApiServices& services);
std::unique_ptr<Route> makeListSessions(ApiServices& services);
std::unique_ptr<Route> makeStartSession(ApiServices& services);
std::unique_ptr<Route> makeEndSession(ApiServices& services);
std::unique_ptr<Route> makeCancelSession(ApiServices& services);
std::unique_ptr<Route> makeIssueToken(ApiServices& services);
std::unique_ptr<Route> makeCanJoin(ApiServices& services);
std::unique_ptr<Route> makePostEvent(ApiServices& services);
std::unique_ptr<Route> makeListEvents(ApiServices& services);
std::unique_ptr<Route> makeAnalytics(ApiServices& services);
std::unique_ptr<Route> makeListProviders(ApiServices& services);
std::unique_ptr<Route> makeIceServers(ApiServices& services);
std::unique_ptr<Route> makeHealthz(ApiServices& services);
// Join page, devices and kiosks.
std::unique_ptr<Route> makeCreateInvite(ApiServices& services);
std::unique_ptr<Route> makeRedeemInvite(ApiServices& services);
std::unique_ptr<Route> makeListDevices(ApiServices& services);
std::unique_ptr<Route> makeCreateDevice(ApiServices& services);
std::unique_ptr<Route> makeNewEnrollmentCode(ApiServices& services);
std::unique_ptr<Route> makeRevokeDevice(ApiServices& services);
std::unique_ptr<Route> makeKioskEnroll(ApiServices& services);
std::unique_ptr<Route> makeKioskState(ApiServices& services);
std::unique_ptr<Route> makeKioskGrant(ApiServices& services);
std::unique_ptr<Route> makeReadyz(ApiServices& services);
std::unique_ptr<Route> makeMetrics(ApiServices& services);
/// POST /api/v1/webhooks/{provider} (public: the provider's signature check authenticates).
std::unique_ptr<Route> makeProviderWebhook(ApiServices& services);
std::unique_ptr<Route> makeStartRecording(ApiServices& services);
std::unique_ptr<Route> makeStopRecording(ApiServices& services);
std::unique_ptr<Route> makeListRecordings(ApiServices& services);
std::unique_ptr<Route> makeGetRecording(ApiServices& services);
std::unique_ptr<Route> makeRecordingMedia(ApiServices& services);
std::unique_ptr<Route> makeDeleteRecording(ApiServices& services);
/// GET /api/v1/signal (WebSocket upgrade into the signaling hub).
std::unique_ptr<Route> makeSignal(ApiServices& services, signal::SignalingService& signaling);

// The admin console (issue 5): login, session, dashboard, and the admin-scope
// management endpoints it uses.
std::unique_ptr<Route> makeAdminLogin(ApiServices& services, AdminServices& admin);
std::unique_ptr<Route> makeAdminLogout(ApiServices& services, AdminServices& admin);
std::unique_ptr<Route> makeAdminWhoAmI(ApiServices& services, AdminServices& admin);
std::unique_ptr<Route> makeAdminDashboard(ApiServices& services, AdminServices& admin);
std::unique_ptr<Route> makeAdminEvents(ApiServices& services, AdminServices& admin);
std::unique_ptr<Route> makeEffectiveConfig(ApiServices& services);
std::unique_ptr<Route> makeListApiKeys(ApiServices& services);
std::unique_ptr<Route> makeCreateApiKey(ApiServices& services);
std::unique_ptr<Route> makeRevokeApiKey(ApiServices& services);
std::unique_ptr<Route> makeListAudit(ApiServices& services);
std::unique_ptr<Route> makeExportAuditCsv(ApiServices& services);

/// "healthy" | "degraded" | "unavailable".
const char* healthName(Health::State state);
/// A provider's health; a throwing health() counts as unavailable.
Health safeHealth(Provider& provider);
/// safeHealth() combined with the provider's circuit breaker: open is
/// unavailable, half-open at most degraded.
Health effectiveHealth(Provider& provider, const core::CircuitBreaker::Snapshot& circuit);

/// The route table of REST API v1; the signaling route only with
/// `signaling`, the admin console's routes only with `admin`.
void registerApiRoutes(Router& router, ApiServices& services, signal::SignalingService* signaling = nullptr,
                       AdminServices* admin = nullptr);

}  // namespace consultd::http::routes
