#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

/// Liveness: the process serves HTTP. Deliberately checks nothing else, so a
/// slow database does not get the daemon restarted by an orchestrator.
class Healthz final : public Route {
public:
    explicit Healthz(ApiServices&) {}
    void handle(Request&, Response& response) override {
        Poco::JSON::Object out;
        out.set("status", "ok");
        response.json(200, out);
    }
};

}  // namespace

std::unique_ptr<Route> makeHealthz(ApiServices& services) { return std::make_unique<Healthz>(services); }

}  // namespace consultd::http::routes
