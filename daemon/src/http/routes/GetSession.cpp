#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class GetSession final : public Route {
public:
    explicit GetSession(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        response.json(200, *sessionJson(s_.sessions.get(request.param("id"))));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeGetSession(ApiServices& services) { return std::make_unique<GetSession>(services); }

}  // namespace consultd::http::routes
