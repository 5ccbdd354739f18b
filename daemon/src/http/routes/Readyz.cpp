#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

/// Readiness: the store answers and the default provider is not unavailable.
/// Other providers' health is reported, and makes the answer "degraded".
class Readyz final : public Route {
public:
    explicit Readyz(ApiServices& services) : s_(services) {}

    void handle(Request&, Response& response) override {
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        Poco::JSON::Object::Ptr checks = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        const bool storeOk = s_.store.healthy();
        checks->set("store", storeOk ? "ok" : "unavailable");
        bool ready = storeOk;
        bool degraded = false;
        const std::string defaultProvider = s_.config()->getString("providers.default");
        if (s_.plugins.find(defaultProvider) == nullptr) {
            checks->set("provider:" + defaultProvider, "not enabled");
            ready = false;
        }
        for (const auto& info : s_.plugins.list()) {
            const Health health = safeHealth(*info.provider);
            checks->set("provider:" + info.name, healthName(health.state));
            if (health.state != Health::State::Healthy) degraded = true;
            if (info.name == defaultProvider && health.state == Health::State::Unavailable) ready = false;
        }
        out.set("status", !ready ? "unavailable" : degraded ? "degraded" : "ready");
        out.set("checks", checks);
        response.json(ready ? 200 : 503, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeReadyz(ApiServices& services) { return std::make_unique<Readyz>(services); }

}  // namespace consultd::http::routes
