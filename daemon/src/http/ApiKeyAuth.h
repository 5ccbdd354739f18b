#pragma once
// API key authentication.
//
// A key is "cdk_<id>_<secret>": <id> names the row (16 base32 chars), <secret>
// is 256 random bits (52 base32 chars) shown once at creation. The store keeps
// only SHA-256(secret); a presented secret is hashed and compared in constant
// time. (A slow KDF adds nothing for 256-bit random secrets.)
//
// Thread-safety: thread-safe. Valid keys are cached for one second so a busy
// integrator does not cost a database read per request; a revocation (even
// from another process, the CLI) takes effect within that second.

#include "http/Request.h"
#include "store/Store.h"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace consultd::http {

struct NewApiKey {
    store::ApiKeyRecord record;
    std::string plaintext;  ///< "cdk_<id>_<secret>": show once, never store
};

/// Makes a new key (not yet stored).
NewApiKey generateApiKey(const std::string& name, const std::vector<std::string>& scopes);
/// The scopes a key may have.
const std::vector<std::string>& knownScopes();

class ApiKeyAuthenticator {
public:
    explicit ApiKeyAuthenticator(store::Store& store);

    enum class Failure { None, Missing, Malformed, Unknown, Revoked, WrongSecret };
    struct Result {
        Failure failure = Failure::None;
        Principal principal;
    };

    /// Checks an Authorization header value.
    Result authenticate(const std::string& authorizationHeader);
    static const char* failureName(Failure failure);

private:
    struct Cached {
        store::ApiKeyRecord record;
        std::chrono::steady_clock::time_point fetched;
    };
    store::Store& store_;
    std::mutex mutex_;
    std::unordered_map<std::string, Cached> cache_;
};

}  // namespace consultd::http
