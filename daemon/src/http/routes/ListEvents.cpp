#include "core/ApiError.h"
#include "http/Json.h"
#include "http/routes/Routes.h"

#include <Poco/NumberParser.h>

namespace consultd::http::routes {
namespace {

class ListEvents final : public Route {
public:
    explicit ListEvents(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const std::string id = request.param("id");
        s_.sessions.get(id);  // 404 for an unknown session
        std::map<std::string, std::string> problems;
        Poco::Int64 after = 0;
        int limit = 100;
        if (auto v = request.query("after")) {
            if (!Poco::NumberParser::tryParse64(*v, after) || after < 0) problems["after"] = "must be an event id (integer >= 0)";
        }
        if (auto v = request.query("limit")) {
            if (!Poco::NumberParser::tryParse(*v, limit) || limit < 1 || limit > 500) problems["limit"] = "must be an integer from 1 to 500";
        }
        if (!problems.empty()) throw core::ApiError(422, "VALIDATION_FAILED", "invalid query parameters").withDetails("fields", problems);
        const auto events = s_.store.listEvents(id, after, limit);
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
        for (const auto& event : events) items->add(eventJson(event));
        out.set("events", items);
        out.set("next_after", static_cast<int>(events.size()) == limit ? Poco::Dynamic::Var(events.back().id) : Poco::Dynamic::Var());
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeListEvents(ApiServices& services) { return std::make_unique<ListEvents>(services); }

}  // namespace consultd::http::routes
