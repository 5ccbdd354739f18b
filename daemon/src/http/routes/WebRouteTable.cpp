#include "http/routes/WebRoutes.h"

namespace consultd::http::routes {

void registerWebRoutes(Router& router, ApiServices& s) {
    // Public: each page authenticates its own way (admin login, invite, device credential).
    router.add("GET", "/static/{*path}", "", makeStaticAsset(s));
    router.add("GET", "/admin", "", makeWebPage(s, "admin/index.html"));
    router.add("GET", "/admin/{*path}", "", makeWebPage(s, "admin/index.html"));
    router.add("GET", "/join/{invite}", "", makeWebPage(s, "join/index.html", joinPageCsp));
    router.add("GET", "/kiosk", "", makeWebPage(s, "kiosk/index.html", kioskPageCsp));
}

}  // namespace consultd::http::routes
