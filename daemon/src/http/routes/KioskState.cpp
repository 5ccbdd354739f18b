#include "http/JoinJson.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

namespace consultd::http::routes {
namespace {

/// GET /api/v1/kiosk/state: the enrolled kiosk (device cookie) asks what to
/// show: its room, its next session and the one the host has started. Kiosks
/// poll it every few seconds; every answer renews the cookie's lifetime.
class KioskState final : public Route {
public:
    explicit KioskState(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const auto device = authenticateDevice(*s_.devices, request);
        const auto state = s_.devices->state(device, s_.sessions);
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        Poco::JSON::Object::Ptr self = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        self->set("id", device.id);
        self->set("name", device.name);
        self->set("room_name", device.roomName);
        out.set("device", self);
        out.set("room_name", device.roomName);
        out.set("next_session", state.nextSession ? Poco::Dynamic::Var(joinSessionJson(*state.nextSession)) : Poco::Dynamic::Var());
        out.set("active_session",
                state.activeSession ? Poco::Dynamic::Var(joinSessionJson(*state.activeSession)) : Poco::Dynamic::Var());
        out.set("server_time", util::formatRfc3339(util::nowMillis()));
        response.json(200, out);
        response.headers.emplace_back("Set-Cookie", setCookie(kDeviceCookie, cookieValue(request, kDeviceCookie),
                                                              "/api/v1/kiosk", kDeviceCookieSeconds,
                                                              secureCookies(*s_.config())));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeKioskState(ApiServices& services) { return std::make_unique<KioskState>(services); }

}  // namespace consultd::http::routes
