#include "http/JoinJson.h"
#include "http/routes/Routes.h"

#include <Poco/JSON/Array.h>

namespace consultd::http::routes {
namespace {

/// GET /api/v1/devices: every exam-room device (no codes, no credentials).
class ListDevices final : public Route {
public:
    explicit ListDevices(ApiServices& services) : s_(services) {}

    void handle(Request&, Response& response) override {
        Poco::JSON::Array::Ptr devices = new Poco::JSON::Array;
        for (const auto& device : s_.devices->list()) devices->add(deviceJson(device));
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("devices", devices);
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeListDevices(ApiServices& services) { return std::make_unique<ListDevices>(services); }

}  // namespace consultd::http::routes
