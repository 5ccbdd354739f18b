#include "http/JoinJson.h"
#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

/// POST /api/v1/kiosk/enroll: public, rate-limited per address. Uses a
/// one-time enrollment code and hands the browser the device's long-lived
/// credential as an HttpOnly cookie (never in the body, never logged).
class KioskEnroll final : public Route {
public:
    explicit KioskEnroll(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"code"});
        const auto code = in.string("code", true, 64);
        in.finish();
        const auto enrolled = s_.devices->enroll(*code, request.clientAddress(), request.requestId());
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("id", enrolled.device.id);
        out.set("name", enrolled.device.name);
        out.set("room_name", enrolled.device.roomName);
        out.set("status", enrolled.device.status);
        out.set("enrolled_at", timeOrNullValue(enrolled.device.enrolledAt));
        response.json(200, out);
        response.headers.emplace_back("Pragma", "no-cache");
        response.headers.emplace_back("Set-Cookie", setCookie(kDeviceCookie, enrolled.credential, "/api/v1/kiosk",
                                                              kDeviceCookieSeconds, secureCookies(*s_.config())));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeKioskEnroll(ApiServices& services) { return std::make_unique<KioskEnroll>(services); }

}  // namespace consultd::http::routes
