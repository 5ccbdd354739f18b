#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class CanJoin final : public Route {
public:
    explicit CanJoin(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        const auto session = s_.sessions.get(request.param("id"));
        const auto result = s_.sessions.canJoin(session, request.query("participant_id").value_or(""));
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("can_join", result.canJoin);
        out.set("reason", result.reason.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(result.reason));
        out.set("minutes_until_session",
                result.minutesUntilSession ? Poco::Dynamic::Var(*result.minutesUntilSession) : Poco::Dynamic::Var());
        out.set("status", session.status);
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeCanJoin(ApiServices& services) { return std::make_unique<CanJoin>(services); }

}  // namespace consultd::http::routes
