#pragma once
// How an API key is shown by the key management routes (never its secret).

#include "store/Store.h"

#include <Poco/JSON/Object.h>

namespace consultd::http::routes {

Poco::JSON::Object::Ptr apiKeyJson(const store::ApiKeyRecord& key);

}  // namespace consultd::http::routes
