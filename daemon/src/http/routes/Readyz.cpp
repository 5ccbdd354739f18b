#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

/// Readiness: 503 only when this daemon cannot serve at all (the store does
/// not answer, or the default provider is not loaded: a config problem).
/// A provider outage keeps it 200 with status "degraded": sessions are still
/// created (provider_status unavailable) and their rooms made when the
/// provider is back, so taking the appliance out of service would only add
/// an outage of consultd itself to the provider's (docs/providers.md).
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
            const auto circuit = s_.sessions.circuit(info.name);
            const Health health = effectiveHealth(*info.provider, circuit);
            std::string check = healthName(health.state);
            if (circuit.state != core::CircuitBreaker::State::Closed) {
                check += std::string(" (circuit ") + core::CircuitBreaker::stateName(circuit.state) + ")";
            }
            checks->set("provider:" + info.name, check);
            if (health.state != Health::State::Healthy) degraded = true;
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
