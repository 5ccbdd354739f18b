#include "http/ApiKeyAuth.h"

#include "util/Crypto.h"
#include "util/Time.h"

#include <algorithm>

namespace consultd::http {

namespace {
constexpr auto kCacheTtl = std::chrono::seconds(1);
constexpr std::size_t kMaxCached = 10000;

bool isBase32(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); });
}
}  // namespace

const std::vector<std::string>& knownScopes() {
    static const std::vector<std::string> scopes = {"sessions:read",   "sessions:write",   "metrics:read", "devices:write",
                                                    "recordings:read", "recordings:write", "admin"};
    return scopes;
}

NewApiKey generateApiKey(const std::string& name, const std::vector<std::string>& scopes) {
    NewApiKey key;
    key.record.id = util::randomBase32(10);     // 16 chars
    const std::string secret = util::randomBase32(32);  // 52 chars, 256 bits
    key.record.name = name;
    key.record.scopes = scopes;
    key.record.secretHash = util::sha256Hex(secret);
    key.record.createdAt = util::nowMillis();
    key.plaintext = "cdk_" + key.record.id + "_" + secret;
    return key;
}

ApiKeyAuthenticator::ApiKeyAuthenticator(store::Store& store) : store_(store) {}

const char* ApiKeyAuthenticator::failureName(Failure failure) {
    switch (failure) {
        case Failure::None: return "none";
        case Failure::Missing: return "missing";
        case Failure::Malformed: return "malformed";
        case Failure::Unknown: return "unknown_key";
        case Failure::Revoked: return "revoked";
        case Failure::WrongSecret: return "wrong_secret";
    }
    return "unknown";
}

ApiKeyAuthenticator::Result ApiKeyAuthenticator::authenticate(const std::string& header) {
    Result result;
    if (header.empty()) {
        result.failure = Failure::Missing;
        return result;
    }
    static const std::string kBearer = "Bearer ";
    if (header.size() < kBearer.size() || !std::equal(kBearer.begin(), kBearer.end(), header.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
        result.failure = Failure::Malformed;
        return result;
    }
    const std::string token = header.substr(kBearer.size());
    // cdk_ + 16 + _ + 52
    if (token.size() != 4 + 16 + 1 + 52 || token.compare(0, 4, "cdk_") != 0 || token[20] != '_') {
        result.failure = Failure::Malformed;
        return result;
    }
    const std::string id = token.substr(4, 16);
    const std::string secret = token.substr(21);
    if (!isBase32(id) || !isBase32(secret)) {
        result.failure = Failure::Malformed;
        return result;
    }

    std::optional<store::ApiKeyRecord> record;
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex_);
        const auto it = cache_.find(id);
        if (it != cache_.end() && now - it->second.fetched < kCacheTtl) record = it->second.record;
    }
    if (!record) {
        record = store_.findApiKey(id);
        if (record && record->revokedAt == 0) {
            std::lock_guard lock(mutex_);
            if (cache_.size() >= kMaxCached) cache_.clear();
            cache_[id] = {*record, now};
        }
    }
    // Hash even when the key is unknown so timing does not tell ids apart.
    const std::string presentedHash = util::sha256Hex(secret);
    if (!record) {
        result.failure = Failure::Unknown;
        return result;
    }
    if (!util::constantTimeEquals(presentedHash, record->secretHash)) {
        result.failure = Failure::WrongSecret;
        return result;
    }
    if (record->revokedAt != 0) {
        result.failure = Failure::Revoked;
        return result;
    }
    result.principal.keyId = record->id;
    result.principal.scopes = record->scopes;
    return result;
}

}  // namespace consultd::http
