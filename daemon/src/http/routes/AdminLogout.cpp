// POST /api/v1/admin/logout: ends the admin console session of the cookie
// (audited) and clears both cookies. Like every state-changing request made
// with the cookie, it needs the X-CSRF-Token header.
#include "admin/AdminAuth.h"
#include "http/routes/AdminCookies.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class AdminLogout final : public Route {
public:
    AdminLogout(ApiServices& services, AdminServices& admin) : s_(services), admin_(admin) {}

    void handle(Request& request, Response& response) override {
        const std::string session = requestCookie(request, admin::kSessionCookie);
        // An API key caller has no console session: nothing to end.
        if (!session.empty() && !request.principal.adminUser.empty()) admin_.auth.logout(session, request.requestId());
        const bool secure = adminCookiesSecure(*s_.config());
        response.headers.emplace_back("Set-Cookie", admin::AdminAuth::clearSessionCookie(secure));
        response.headers.emplace_back("Set-Cookie", admin::AdminAuth::clearCsrfCookie(secure));
        Poco::JSON::Object out;
        out.set("logged_out", true);
        response.json(200, out);
    }

private:
    ApiServices& s_;
    AdminServices& admin_;
};

}  // namespace

std::unique_ptr<Route> makeAdminLogout(ApiServices& services, AdminServices& admin) {
    return std::make_unique<AdminLogout>(services, admin);
}

}  // namespace consultd::http::routes
