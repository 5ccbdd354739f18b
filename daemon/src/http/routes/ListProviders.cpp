#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {

const char* healthName(Health::State state) {
    switch (state) {
        case Health::State::Healthy: return "healthy";
        case Health::State::Degraded: return "degraded";
        case Health::State::Unavailable: return "unavailable";
    }
    return "unavailable";
}

Health effectiveHealth(Provider& provider, const core::CircuitBreaker::Snapshot& circuit) {
    Health health = safeHealth(provider);
    if (circuit.state == core::CircuitBreaker::State::Open) {
        health.state = Health::State::Unavailable;
        health.detail = "circuit open after " + std::to_string(circuit.consecutiveFailures) +
                        " consecutive failures; calls are refused until a probe succeeds (" + health.detail + ")";
    } else if (circuit.state == core::CircuitBreaker::State::HalfOpen && health.state == Health::State::Healthy) {
        health.state = Health::State::Degraded;
        health.detail = "circuit half-open: the next call probes the provider";
    }
    return health;
}

/// A provider's health, with a plugin exception reported as unavailable.
Health safeHealth(Provider& provider) {
    try {
        return provider.health();
    } catch (const std::exception& e) {
        return {Health::State::Unavailable, std::string("health check failed: ") + e.what()};
    } catch (...) {
        return {Health::State::Unavailable, "health check failed"};
    }
}

namespace {

class ListProviders final : public Route {
public:
    explicit ListProviders(ApiServices& services) : s_(services) {}

    void handle(Request&, Response& response) override {
        const std::string defaultProvider = s_.config()->getString("providers.default");
        Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
        for (const auto& info : s_.plugins.list()) {
            Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            item->set("name", info.name);
            item->set("module", info.moduleName);
            item->set("version", info.moduleVersion);
            item->set("default", info.name == defaultProvider);
            const auto caps = info.provider->capabilities();
            Poco::JSON::Object::Ptr c = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            c->set("video", caps.video);
            c->set("voice", caps.voiceOnly);
            c->set("chat", caps.chat);
            c->set("recording", caps.recording);
            c->set("screen_share", caps.screenShare);
            c->set("webhooks", caps.webhooks);
            item->set("capabilities", c);
            const auto circuit = s_.sessions.circuit(info.name);
            const Health health = effectiveHealth(*info.provider, circuit);
            Poco::JSON::Object::Ptr h = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            h->set("state", healthName(health.state));
            h->set("detail", health.detail);
            item->set("health", h);
            Poco::JSON::Object::Ptr c2 = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            c2->set("state", core::CircuitBreaker::stateName(circuit.state));
            c2->set("consecutive_failures", circuit.consecutiveFailures);
            c2->set("retry_in_seconds", static_cast<Poco::Int64>((circuit.retryAfter.count() + 999) / 1000));
            c2->set("times_opened", static_cast<Poco::UInt64>(circuit.timesOpened));
            item->set("circuit", c2);
            items->add(item);
        }
        Poco::JSON::Object out;
        out.set("providers", items);
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeListProviders(ApiServices& services) { return std::make_unique<ListProviders>(services); }

}  // namespace consultd::http::routes
