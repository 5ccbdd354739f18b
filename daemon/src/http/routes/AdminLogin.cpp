// POST /api/v1/admin/login: user name and password -> admin console session
// (HttpOnly cookie consultd_admin + readable cookie consultd_csrf). Public,
// rate-limited per address and per user name, lockout after repeated
// failures; every attempt is audited (admin/AdminAuth.h).
#include "admin/AdminAuth.h"
#include "core/ApiError.h"
#include "http/Json.h"
#include "http/routes/AdminCookies.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

namespace consultd::http::routes {
namespace {

class AdminLogin final : public Route {
public:
    AdminLogin(ApiServices& services, AdminServices& admin) : s_(services), admin_(admin) {}

    void handle(Request& request, Response& response) override {
        // Login CSRF: a cross-site page must not log the browser in (a JSON
        // body already needs a CORS preflight we never grant; this is the
        // second lock).
        if (!originMatchesHost(request)) {
            throw core::ApiError(403, "CSRF_REJECTED", "cross-origin request refused");
        }
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"username", "password"});
        const auto username = in.string("username", true, 64);
        const auto password = in.string("password", true, 1024);
        in.finish();
        const auto login = admin_.auth.login(*username, *password, request.clientAddress(), request.requestId());
        const bool secure = adminCookiesSecure(*s_.config());
        response.headers.emplace_back("Set-Cookie", admin::AdminAuth::sessionCookie(login, secure));
        response.headers.emplace_back("Set-Cookie", admin::AdminAuth::csrfCookie(login, secure));
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("username", login.username);
        out.set("csrf_token", login.csrfToken);
        out.set("expires_at", util::formatRfc3339(login.expiresAt));
        out.set("idle_timeout_seconds", login.idleTimeoutSeconds);
        response.json(200, out);
    }

private:
    ApiServices& s_;
    AdminServices& admin_;
};

}  // namespace

std::unique_ptr<Route> makeAdminLogin(ApiServices& services, AdminServices& admin) {
    return std::make_unique<AdminLogin>(services, admin);
}

}  // namespace consultd::http::routes
