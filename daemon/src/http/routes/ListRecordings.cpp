// GET /api/v1/recordings?session_id=&status=&limit=&cursor= (scope recordings:read).
#include "http/Json.h"
#include "http/routes/RecordingControl.h"
#include "http/routes/Routes.h"

#include <Poco/NumberParser.h>

#include <algorithm>

namespace consultd::http::routes {
namespace {

class ListRecordings final : public Route {
public:
    explicit ListRecordings(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        store::RecordingFilter filter;
        std::map<std::string, std::string> problems;
        if (auto status = request.query("status")) {
            static const std::vector<std::string> kStatuses = {"recording", "available", "failed", "deleted"};
            if (std::find(kStatuses.begin(), kStatuses.end(), *status) == kStatuses.end()) {
                problems["status"] = "must be one of recording, available, failed, deleted";
            }
            filter.status = *status;
        }
        if (auto id = request.query("session_id")) {
            if (id->empty() || id->size() > 128) problems["session_id"] = "must be a session id";
            filter.sessionId = *id;
        }
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
        if (!problems.empty()) {
            throw core::ApiError(422, "VALIDATION_FAILED", "invalid query parameters").withDetails("fields", problems);
        }
        const int pageSize = filter.limit;
        filter.limit = pageSize + 1;  // one extra row tells whether there is a next page
        auto rows = recordingsOf(s_).list(filter);
        const bool more = static_cast<int>(rows.size()) > pageSize;
        if (more) rows.resize(static_cast<std::size_t>(pageSize));
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
        for (const auto& row : rows) items->add(recordingJson(row));
        out.set("recordings", items);
        out.set("next_cursor", more ? Poco::Dynamic::Var(encodeCursor(rows.back().seq)) : Poco::Dynamic::Var());
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeListRecordings(ApiServices& services) { return std::make_unique<ListRecordings>(services); }

}  // namespace consultd::http::routes
