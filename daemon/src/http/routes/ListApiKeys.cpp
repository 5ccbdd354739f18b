// GET /api/v1/api-keys: every API key (id, name, scopes, times; never a secret).
#include "http/routes/ApiKeyJson.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class ListApiKeys final : public Route {
public:
    explicit ListApiKeys(ApiServices& services) : s_(services) {}

    void handle(Request&, Response& response) override {
        Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
        for (const auto& key : s_.store.listApiKeys()) items->add(apiKeyJson(key));
        Poco::JSON::Object out;
        out.set("api_keys", items);
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeListApiKeys(ApiServices& services) { return std::make_unique<ListApiKeys>(services); }

}  // namespace consultd::http::routes
