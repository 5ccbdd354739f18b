// GET /api/v1/admin/config: the configuration in effect, read-only, for the
// console. Secrets are files by design (the config holds their paths, which
// are shown); as a second guard, any setting whose name says it is a secret
// but is not a *_file path is shown as "[redacted]".
#include "http/routes/Routes.h"

#include <Poco/JSON/Array.h>

#include <regex>

namespace consultd::http::routes {
namespace {

bool looksSecret(const std::string& name) {
    static const std::regex kSecretName(R"((^|[._])(secret|password|passphrase|private_key|api_key|token|key)$)");
    static const std::regex kPath(R"(_(file|dir|path)$)");
    return std::regex_search(name, kSecretName) && !std::regex_search(name, kPath);
}

class EffectiveConfig final : public Route {
public:
    explicit EffectiveConfig(ApiServices& services) : s_(services) {}

    void handle(Request&, Response& response) override {
        const auto config = s_.config();
        Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
        for (const auto& file : config->files()) files->add(file);
        Poco::JSON::Array::Ptr settings = new Poco::JSON::Array;
        for (const auto& [name, value] : config->describe()) {
            Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            item->set("name", name);
            const bool redacted = looksSecret(name);
            item->set("value", redacted ? std::string("[redacted]") : value);
            item->set("redacted", redacted);
            const auto where = config->locationOf(name);
            item->set("source", where.line > 0 ? where.file + ":" + std::to_string(where.line) : std::string("default"));
            settings->add(item);
        }
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("files", files);
        out.set("settings", settings);
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeEffectiveConfig(ApiServices& services) { return std::make_unique<EffectiveConfig>(services); }

}  // namespace consultd::http::routes
