#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

/// Prometheus text. Authentication (scope metrics:read or admin) is enforced
/// by the route table entry "metrics:read" unless server.metrics_require_auth
/// is false; see registerApiRoutes.
class MetricsRoute final : public Route {
public:
    explicit MetricsRoute(ApiServices& services) : s_(services) {}
    void handle(Request&, Response& response) override {
        response.text(200, "text/plain; version=0.0.4; charset=utf-8", s_.metrics.render());
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeMetrics(ApiServices& services) { return std::make_unique<MetricsRoute>(services); }

}  // namespace consultd::http::routes
