#include "http/routes/ApiKeyJson.h"

#include "util/Time.h"

#include <Poco/JSON/Array.h>

namespace consultd::http::routes {

Poco::JSON::Object::Ptr apiKeyJson(const store::ApiKeyRecord& key) {
    Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    item->set("id", key.id);
    item->set("name", key.name);
    Poco::JSON::Array::Ptr scopes = new Poco::JSON::Array;
    for (const auto& s : key.scopes) scopes->add(s);
    item->set("scopes", scopes);
    item->set("created_at", util::formatRfc3339(key.createdAt));
    item->set("revoked_at", key.revokedAt ? Poco::Dynamic::Var(util::formatRfc3339(key.revokedAt)) : Poco::Dynamic::Var());
    return item;
}

}  // namespace consultd::http::routes
