#include "core/ApiError.h"
#include "http/routes/WebRoutes.h"
#include "web/WebAssets.h"

namespace consultd::http::routes {
namespace {

/// GET of a page (/admin, /join/{invite}, /kiosk): always the same HTML file
/// of the web root; the page's script reads the path and talks to the REST
/// API. Never cached: the join page's URL carries an invite.
class WebPage final : public Route {
public:
    WebPage(ApiServices& services, std::string file, CspSources csp)
        : services_(services), file_(std::move(file)), csp_(std::move(csp)) {}

    void handle(Request&, Response& response) override {
        const std::string root = services_.config()->getPath("server.web_root");
        const auto asset = web::readAsset(root, file_);
        if (!asset) throw core::ApiError(404, "NOT_FOUND", "the web pages are not installed (server.web_root)");
        const auto extra = csp_ ? csp_(*services_.config()) : PageCsp{};
        web::addPageHeaders(response, web::contentSecurityPolicy(extra.connect, extra.script, extra.frame), "no-store");
        response.text(200, asset->contentType, asset->body);
    }

private:
    ApiServices& services_;
    std::string file_;
    CspSources csp_;
};

}  // namespace

std::unique_ptr<Route> makeWebPage(ApiServices& services, std::string file, CspSources csp) {
    return std::make_unique<WebPage>(services, std::move(file), std::move(csp));
}

}  // namespace consultd::http::routes
