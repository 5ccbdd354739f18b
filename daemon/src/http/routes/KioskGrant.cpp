#include "core/ApiError.h"
#include "http/JoinJson.h"
#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

/// POST /api/v1/kiosk/grant: the enrolled kiosk (device cookie) gets its join
/// grant (role device) for a session assigned to it. Another device's
/// session is "not found", whatever its id.
class KioskGrant final : public Route {
public:
    explicit KioskGrant(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const auto device = authenticateDevice(*s_.devices, request);
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"session_id"});
        const auto sessionId = in.string("session_id", true, 128, kIdPattern, "must be a session id");
        in.finish();
        const auto session = s_.sessions.get(*sessionId);
        if (session.deviceId != device.id) {
            throw core::ApiError(404, "SESSION_NOT_FOUND", "no session " + *sessionId + " for this device")
                .withDetail("session_id", *sessionId);
        }
        const auto grant = s_.sessions.issueGrant(session.id, device.id, {"device:" + device.id, request.requestId()});
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("session", joinSessionJson(s_.sessions.get(session.id)));
        out.set("grant", grantJson(grant));
        response.json(200, out);
        response.headers.emplace_back("Pragma", "no-cache");
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeKioskGrant(ApiServices& services) { return std::make_unique<KioskGrant>(services); }

}  // namespace consultd::http::routes
