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

/// POST /api/v1/devices/{id}/enrollment-code: a new one-time enrollment code
/// for a device that is not revoked (a wiped kiosk enrolls again with it; the
/// previous code stops working).
class NewEnrollmentCode final : public Route {
public:
    explicit NewEnrollmentCode(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const auto created = s_.devices->newEnrollmentCode(request.param("id"), {request.principal.actorName(), request.requestId()});
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        renderDevice(out, created.device);
        out.set("enrollment_code", created.enrollmentCode);
        response.json(200, out);
        response.headers.emplace_back("Pragma", "no-cache");
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeNewEnrollmentCode(ApiServices& services) { return std::make_unique<NewEnrollmentCode>(services); }

}  // namespace consultd::http::routes
