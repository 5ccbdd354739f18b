#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class EndSession final : public Route {
public:
    explicit EndSession(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody(true));
        in.rejectUnknown({"reason", "quality"});
        const std::string reason = in.string("reason", false, 200).value_or("ended");
        const std::string quality = in.oneOf("quality", core::SessionService::qualityValues(), false).value_or("");
        in.finish();
        const auto session =
            s_.sessions.end(request.param("id"), reason, quality, {request.principal.actorName(), request.requestId()});
        response.json(200, *sessionJson(session));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeEndSession(ApiServices& services) { return std::make_unique<EndSession>(services); }

}  // namespace consultd::http::routes
