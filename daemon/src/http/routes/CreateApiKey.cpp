// POST /api/v1/api-keys: a new API key. The plaintext key is in this answer
// only (the store keeps its SHA-256); audited as apikey.created.
#include "core/ApiError.h"
#include "http/ApiKeyAuth.h"
#include "http/Json.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

#include <Poco/JSON/Array.h>

#include <algorithm>
#include <sstream>

namespace consultd::http::routes {
namespace {

class CreateApiKey final : public Route {
public:
    explicit CreateApiKey(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"name", "scopes"});
        const auto name = in.string("name", true, 100);
        if (name && std::any_of(name->begin(), name->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
            in.fail("name", "must not contain control characters");
        }
        const auto scopesArray = in.array("scopes", 8);
        std::vector<std::string> scopes;
        if (!scopesArray || scopesArray->size() == 0) {
            in.fail("scopes", "must list at least one scope");
        } else {
            const auto& known = knownScopes();
            for (std::size_t i = 0; i < scopesArray->size(); ++i) {
                const auto value = scopesArray->get(static_cast<unsigned>(i));
                const std::string scope = value.isString() ? value.extract<std::string>() : "";
                if (std::find(known.begin(), known.end(), scope) == known.end()) {
                    std::string list;
                    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
                    in.fail("scopes", "each scope must be one of " + list);
                    break;
                }
                if (std::find(scopes.begin(), scopes.end(), scope) == scopes.end()) scopes.push_back(scope);
            }
        }
        in.finish();
        const auto key = generateApiKey(*name, scopes);
        std::string joined;
        for (const auto& scope : scopes) joined += (joined.empty() ? "" : ",") + scope;
        Poco::JSON::Object details;
        details.set("name", *name);
        details.set("scopes", joined);
        std::ostringstream detailsText;
        details.stringify(detailsText);
        store::AuditRecord audit;
        audit.at = util::nowMillis();
        audit.actor = request.principal.actorName();
        audit.action = "apikey.created";
        audit.target = key.record.id;
        audit.detailsJson = detailsText.str();
        audit.requestId = request.requestId();
        s_.store.insertApiKey(key.record, audit);

        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("id", key.record.id);
        out.set("name", key.record.name);
        Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
        for (const auto& scope : scopes) list->add(scope);
        out.set("scopes", list);
        out.set("created_at", util::formatRfc3339(key.record.createdAt));
        out.set("revoked_at", Poco::Dynamic::Var());
        out.set("key", key.plaintext);
        response.json(201, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeCreateApiKey(ApiServices& services) { return std::make_unique<CreateApiKey>(services); }

}  // namespace consultd::http::routes
