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

/// POST /api/v1/devices: registers an exam-room device and answers its
/// one-time enrollment code (shown once; stored only as a hash).
class CreateDevice final : public Route {
public:
    explicit CreateDevice(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"name", "room_name"});
        const auto name = in.string("name", true, 100);
        const auto room = in.string("room_name", false, 100);
        if (name && name->empty()) in.fail("name", "must not be empty");
        in.finish();
        const auto created = s_.devices->create(*name, room.value_or(""), {request.principal.actorName(), request.requestId()});
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        renderDevice(out, created.device);
        out.set("enrollment_code", created.enrollmentCode);
        response.json(201, out);
        response.headers.emplace_back("Pragma", "no-cache");
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeCreateDevice(ApiServices& services) { return std::make_unique<CreateDevice>(services); }

}  // namespace consultd::http::routes
