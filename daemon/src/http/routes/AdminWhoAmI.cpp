// GET /api/v1/admin/session: who the caller is (the console asks it at start
// to decide between the login view and the dashboard; 401 when logged out).
#include "admin/AdminAuth.h"
#include "http/routes/AdminCookies.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

namespace consultd::http::routes {
namespace {

class AdminWhoAmI final : public Route {
public:
    AdminWhoAmI(ApiServices& services, AdminServices& admin) : s_(services), admin_(admin) {}

    void handle(Request& request, Response& response) override {
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("actor", request.principal.actorName());
        out.set("username", request.principal.adminUser);
        Poco::Dynamic::Var expires;
        if (!request.principal.adminUser.empty()) {
            // Not activity: asking who one is must not extend the session.
            if (const auto identity = admin_.auth.validate(requestCookie(request, admin::kSessionCookie), false)) {
                expires = util::formatRfc3339(identity->expiresAt);
            }
        }
        out.set("expires_at", expires);
        out.set("idle_timeout_seconds", s_.config()->getInt("admin.session_idle_minutes") * 60);
        response.json(200, out);
    }

private:
    ApiServices& s_;
    AdminServices& admin_;
};

}  // namespace

std::unique_ptr<Route> makeAdminWhoAmI(ApiServices& services, AdminServices& admin) {
    return std::make_unique<AdminWhoAmI>(services, admin);
}

}  // namespace consultd::http::routes
