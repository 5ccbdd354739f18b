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
            const Health health = safeHealth(*info.provider);
            Poco::JSON::Object::Ptr h = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            h->set("state", healthName(health.state));
            h->set("detail", health.detail);
            item->set("health", h);
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
