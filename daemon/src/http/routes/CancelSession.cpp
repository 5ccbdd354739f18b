#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class CancelSession final : public Route {
public:
    explicit CancelSession(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody(true));
        in.rejectUnknown({"reason"});
        const std::string reason = in.string("reason", false, 200).value_or("cancelled");
        in.finish();
        const auto session = s_.sessions.cancel(request.param("id"), reason, {request.principal.actorName(), request.requestId()});
        response.json(200, *sessionJson(session));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeCancelSession(ApiServices& services) { return std::make_unique<CancelSession>(services); }

}  // namespace consultd::http::routes
