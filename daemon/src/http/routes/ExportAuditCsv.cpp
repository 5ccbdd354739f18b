// GET /api/v1/audit.csv: the filtered audit log as CSV (oldest first, at
// most 100,000 entries; X-Audit-Truncated: true when more matched), with
// the hash chain columns so the export can be verified. Audited as
// audit.exported.
#include "core/ApiError.h"
#include "http/routes/Routes.h"
#include "store/AdminStore.h"
#include "util/Time.h"

#include <algorithm>
#include <sstream>

namespace consultd::http::routes {
namespace {

constexpr int kMaxRows = 100000;

std::string csvField(const std::string& value) {
    // A leading =, +, - or @ would be a formula in a spreadsheet (CSV injection).
    std::string text = value;
    if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@')) text = "'" + text;
    if (text.find_first_of(",\"\n\r'") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

class ExportAuditCsv final : public Route {
public:
    explicit ExportAuditCsv(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        store::AuditFilter filter;
        std::map<std::string, std::string> problems;
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
        filter.limit = kMaxRows + 1;
        auto entries = store::AdminStore(s_.store).listAudit(filter);
        const bool truncated = static_cast<int>(entries.size()) > kMaxRows;
        if (truncated) entries.resize(kMaxRows);
        std::reverse(entries.begin(), entries.end());
        std::ostringstream csv;
        csv << "seq,at,actor,action,target,details,request_id,prev_hash,hash\r\n";
        for (const auto& a : entries) {
            csv << a.seq << "," << util::formatRfc3339(a.at) << "," << csvField(a.actor) << "," << csvField(a.action)
                << "," << csvField(a.target) << "," << csvField(a.detailsJson) << "," << csvField(a.requestId) << ","
                << a.prevHash << "," << a.hash << "\r\n";
        }
        Poco::JSON::Object details(Poco::JSON_PRESERVE_KEY_ORDER);
        details.set("entries", static_cast<Poco::Int64>(entries.size()));
        details.set("actor", filter.actor);
        details.set("action", filter.action);
        details.set("target", filter.target);
        std::ostringstream detailsText;
        details.stringify(detailsText);
        store::AuditRecord audit;
        audit.at = util::nowMillis();
        audit.actor = request.principal.actorName();
        audit.action = "audit.exported";
        audit.target = "audit";
        audit.detailsJson = detailsText.str();
        audit.requestId = request.requestId();
        s_.store.appendAudit(audit);
        response.headers.emplace_back("Content-Disposition", "attachment; filename=\"consultd-audit.csv\"");
        response.headers.emplace_back("X-Audit-Truncated", truncated ? "true" : "false");
        response.text(200, "text/csv; charset=utf-8", csv.str());
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeExportAuditCsv(ApiServices& services) { return std::make_unique<ExportAuditCsv>(services); }

}  // namespace consultd::http::routes
