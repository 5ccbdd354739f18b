#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class StartSession final : public Route {
public:
    explicit StartSession(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody(true));
        in.rejectUnknown({});
        in.finish();
        const auto session = s_.sessions.start(request.param("id"), {request.principal.actorName(), request.requestId()});
        response.json(200, *sessionJson(session));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeStartSession(ApiServices& services) { return std::make_unique<StartSession>(services); }

}  // namespace consultd::http::routes
