#include "core/ApiError.h"
#include "http/routes/WebRoutes.h"
#include "web/WebAssets.h"

namespace consultd::http::routes {
namespace {

/// GET /static/{*path}: a file of the web root (scripts, styles, images).
/// Revalidated on every use (ETag, 304) rather than cached for a long time,
/// so an upgrade of the package is seen at the next page load.
class StaticAsset final : public Route {
public:
    explicit StaticAsset(ApiServices& services) : services_(services) {}

    void handle(Request& request, Response& response) override {
        const std::string root = services_.config()->getPath("server.web_root");
        const auto asset = web::readAsset(root, request.param("path"));
        if (!asset) throw core::ApiError(404, "NOT_FOUND", "no such file");
        web::addPageHeaders(response, web::contentSecurityPolicy(), "no-cache");
        response.headers.emplace_back("ETag", asset->etag);
        if (request.raw().get("If-None-Match", "") == asset->etag) {
            response.status = 304;
            response.contentType = asset->contentType;
            return;
        }
        response.text(200, asset->contentType, asset->body);
    }

private:
    ApiServices& services_;
};

}  // namespace

std::unique_ptr<Route> makeStaticAsset(ApiServices& services) { return std::make_unique<StaticAsset>(services); }

}  // namespace consultd::http::routes
