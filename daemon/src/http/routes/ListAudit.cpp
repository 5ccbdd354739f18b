// GET /api/v1/audit: the audit log, newest first, filtered by actor, action
// and target (substrings) and time; cursor paging backwards in time.
#include "core/ApiError.h"
#include "http/Json.h"
#include "http/routes/Routes.h"
#include "store/AdminStore.h"
#include "util/Time.h"

#include <Poco/NumberParser.h>

namespace consultd::http::routes {
namespace {

class ListAudit final : public Route {
public:
    explicit ListAudit(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        store::AuditFilter filter;
        std::map<std::string, std::string> problems;
        if (auto limit = request.query("limit")) {
            int value = 0;
            if (!Poco::NumberParser::tryParse(*limit, value) || value < 1 || value > 500) {
                problems["limit"] = "must be an integer from 1 to 500";
            } else {
                filter.limit = value;
            }
        }
        if (auto cursor = request.query("cursor")) {
            if (auto seq = decodeCursor(*cursor)) {
                filter.beforeSeq = *seq;
            } else {
                problems["cursor"] = "is not a cursor returned by this API";
            }
        }
        auto text = [&](const char* name, std::string& target) {
            if (auto value = request.query(name)) {
                if (value->size() > 200) problems[name] = "must be at most 200 characters";
                target = *value;
            }
        };
        text("actor", filter.actor);
        text("action", filter.action);
        text("target", filter.target);
        auto time = [&](const char* name, std::int64_t& target) {
            if (auto value = request.query(name)) {
                if (auto t = util::parseRfc3339(*value)) {
                    target = *t;
                } else {
                    problems[name] = "must be an RFC 3339 time";
                }
            }
        };
        time("from", filter.from);
        time("to", filter.to);
        if (!problems.empty()) {
            throw core::ApiError(422, "VALIDATION_FAILED", "invalid query parameters").withDetails("fields", problems);
        }

        const int pageSize = filter.limit;
        filter.limit = pageSize + 1;  // one more row tells whether a next page exists
        auto entries = store::AdminStore(s_.store).listAudit(filter);
        const bool more = static_cast<int>(entries.size()) > pageSize;
        if (more) entries.resize(static_cast<std::size_t>(pageSize));
        Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
        for (const auto& a : entries) {
            Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            item->set("seq", a.seq);
            item->set("at", util::formatRfc3339(a.at));
            item->set("actor", a.actor);
            item->set("action", a.action);
            item->set("target", a.target);
            item->set("details", parseStoredObject(a.detailsJson));
            item->set("request_id", a.requestId);
            item->set("hash", a.hash);
            items->add(item);
        }
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("entries", items);
        out.set("next_cursor", more ? Poco::Dynamic::Var(encodeCursor(entries.back().seq)) : Poco::Dynamic::Var());
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeListAudit(ApiServices& services) { return std::make_unique<ListAudit>(services); }

}  // namespace consultd::http::routes
