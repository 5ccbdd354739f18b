#include "core/ApiError.h"
#include "http/Json.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

#include <Poco/NumberParser.h>

namespace consultd::http::routes {
namespace {

class ListSessions final : public Route {
public:
    explicit ListSessions(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        store::SessionFilter filter;
        std::map<std::string, std::string> problems;
        if (auto status = request.query("status")) {
            static const std::vector<std::string> kStatuses = {"scheduled", "waiting", "active", "ended", "cancelled", "failed"};
            if (std::find(kStatuses.begin(), kStatuses.end(), *status) == kStatuses.end()) {
                problems["status"] = "must be one of scheduled, waiting, active, ended, cancelled, failed";
            }
            filter.status = *status;
        }
        if (auto id = request.query("consultation_id")) filter.consultationId = *id;
        auto time = [&](const char* name, std::int64_t& target) {
            if (auto text = request.query(name)) {
                if (auto t = util::parseRfc3339(*text)) {
                    target = *t;
                } else {
                    problems[name] = "must be an RFC 3339 time";
                }
            }
        };
        time("from", filter.from);
        time("to", filter.to);
        if (auto limit = request.query("limit")) {
            int value = 0;
            if (!Poco::NumberParser::tryParse(*limit, value) || value < 1 || value > 200) {
                problems["limit"] = "must be an integer from 1 to 200";
            } else {
                filter.limit = value;
            }
        }
        if (auto cursor = request.query("cursor")) {
            if (auto seq = decodeCursor(*cursor)) {
                filter.afterSeq = *seq;
            } else {
                problems["cursor"] = "is not a cursor returned by this API";
            }
        }
        if (!problems.empty()) throw core::ApiError(422, "VALIDATION_FAILED", "invalid query parameters").withDetails("fields", problems);

        // One extra row tells whether there is a next page.
        const int pageSize = filter.limit;
        filter.limit = pageSize + 1;
        auto sessions = s_.sessions.list(filter);
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
        const bool more = static_cast<int>(sessions.size()) > pageSize;
        if (more) sessions.resize(static_cast<std::size_t>(pageSize));
        for (const auto& session : sessions) items->add(sessionJson(session));
        out.set("sessions", items);
        out.set("next_cursor", more ? Poco::Dynamic::Var(encodeCursor(sessions.back().seq)) : Poco::Dynamic::Var());
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeListSessions(ApiServices& services) { return std::make_unique<ListSessions>(services); }

}  // namespace consultd::http::routes
