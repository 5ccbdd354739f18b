#include "http/JoinJson.h"
#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

void renderDevice(Poco::JSON::Object& out, const store::DeviceRecord& d) {
    out.set("id", d.id);
    out.set("name", d.name);
    out.set("room_name", d.roomName);
    out.set("status", d.status);
    out.set("enrolled_at", timeOrNullValue(d.enrolledAt));
    out.set("last_seen_at", timeOrNullValue(d.lastSeenAt));
    out.set("created_at", timeOrNullValue(d.createdAt));
    out.set("revoked_at", timeOrNullValue(d.revokedAt));
    out.set("enrollment_expires_at", timeOrNullValue(d.enrollmentExpiresAt));
}

/// POST /api/v1/devices/{id}/revoke: the device's credential and any
/// outstanding enrollment code stop working at once (audited).
class RevokeDevice final : public Route {
public:
    explicit RevokeDevice(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const auto device = s_.devices->revoke(request.param("id"), {request.principal.actorName(), request.requestId()});
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        renderDevice(out, device);
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeRevokeDevice(ApiServices& services) { return std::make_unique<RevokeDevice>(services); }

}  // namespace consultd::http::routes
