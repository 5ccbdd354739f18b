#include "admin/AdminAuth.h"

#include "admin/PasswordHasher.h"
#include "core/ApiError.h"
#include "util/Crypto.h"
#include "util/Time.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <regex>
#include <sstream>

namespace consultd::admin {

using core::ApiError;

namespace {

constexpr auto kCacheTtl = std::chrono::seconds(1);
constexpr std::size_t kMaxCached = 10000;
constexpr std::size_t kMaxPhantoms = 10000;
/// last_seen_at is written at most this often per session (the idle timeout
/// is minutes; a write per request would be noise).
constexpr std::int64_t kTouchEveryMillis = 15000;
constexpr std::int64_t kSweepEveryMillis = 5 * 60 * 1000;

/// Holds one of the hashing slots for its lifetime.
class HashingSlot {
public:
    explicit HashingSlot(std::counting_semaphore<16>& slots) : slots_(slots) { slots_.acquire(); }
    ~HashingSlot() { slots_.release(); }
    HashingSlot(const HashingSlot&) = delete;
    HashingSlot& operator=(const HashingSlot&) = delete;

private:
    std::counting_semaphore<16>& slots_;
};

std::string detailsText(std::initializer_list<std::pair<const char*, std::string>> items) {
    Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& [k, v] : items) object.set(k, v);
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

bool validUsername(const std::string& name) {
    static const std::regex kPattern(kUsernamePattern);
    return std::regex_match(name, kPattern);
}

int secondsUntil(std::int64_t untilMillis, std::int64_t now) {
    return static_cast<int>(std::max<std::int64_t>(1, (untilMillis - now + 999) / 1000));
}

}  // namespace

AdminAuth::AdminAuth(store::Store& store, core::ConfigSource config)
    : store_(store),
      admins_(store),
      config_(std::move(config)),
      perAddress_(10, std::chrono::minutes(1)),
      perUser_(10, std::chrono::minutes(1)) {}

store::AuditRecord AdminAuth::audit(const std::string& actor, const std::string& action, const std::string& target,
                                    const std::string& detailsJson, const std::string& requestId) const {
    store::AuditRecord entry;
    entry.at = util::nowMillis();
    entry.actor = actor;
    entry.action = action;
    entry.target = target;
    entry.detailsJson = detailsJson;
    entry.requestId = requestId;
    return entry;
}

bool AdminAuth::checkPassword(const std::string& password, const std::string* storedHash) {
    HashingSlot slot(hashing_);
    if (storedHash != nullptr) return verifyPassword(password, *storedHash);
    // Unknown user: spend the same time on a hash that cannot match, so the
    // answer time does not tell which user names exist.
    std::string dummy;
    {
        std::lock_guard lock(mutex_);
        if (dummyHash_.empty()) dummyHash_ = hashPassword(util::randomBase32(16));
        dummy = dummyHash_;
    }
    verifyPassword(password, dummy);
    return false;
}

LoginResult AdminAuth::login(const std::string& username, const std::string& password,
                             const std::string& clientAddress, const std::string& requestId) {
    const auto config = config_();
    const double perMinute = static_cast<double>(config->getInt("admin.login_attempts_per_minute"));
    const int maxFailures = static_cast<int>(config->getInt("admin.lockout_failures"));
    const std::int64_t lockMillis = config->getInt("admin.lockout_minutes") * 60 * 1000;
    const std::int64_t idleMillis = config->getInt("admin.session_idle_minutes") * 60 * 1000;
    const std::int64_t lifetimeMillis = config->getInt("admin.session_max_hours") * 3600 * 1000;
    perAddress_.setRate(perMinute);
    perUser_.setRate(perMinute);

    const bool wellFormed = validUsername(username);
    // An invalid name (perhaps a password typed into the wrong field) is
    // never written to the audit log.
    const std::string actor = wellFormed ? "admin:" + username : "anonymous";
    const std::string target = wellFormed ? username : "";

    if (const auto decision = perAddress_.acquire(clientAddress); !decision.allowed) {
        store_.appendAudit(audit(actor, "admin.login_refused", target,
                                 detailsText({{"reason", "rate_limited_address"}, {"address", clientAddress}}), requestId));
        throw ApiError(429, "RATE_LIMITED", "too many login attempts from this address")
            .withRetryAfter(decision.retryAfterSeconds);
    }
    if (wellFormed) {
        if (const auto decision = perUser_.acquire(username); !decision.allowed) {
            store_.appendAudit(audit(actor, "admin.login_refused", target,
                                     detailsText({{"reason", "rate_limited_user"}, {"address", clientAddress}}), requestId));
            throw ApiError(429, "RATE_LIMITED", "too many login attempts for this user")
                .withRetryAfter(decision.retryAfterSeconds);
        }
    }

    const std::int64_t now = util::nowMillis();
    const auto user = wellFormed ? admins_.findUser(username) : std::nullopt;

    // Locked: refused before the password is even looked at, so a locked
    // account cannot be used to keep guessing.
    std::int64_t lockedUntil = user ? user->lockedUntil : 0;
    if (!user) {
        std::lock_guard lock(mutex_);
        const auto it = phantoms_.find(username);
        if (it != phantoms_.end()) lockedUntil = it->second.lockedUntil;
    }
    if (lockedUntil > now) {
        store_.appendAudit(audit(actor, "admin.login_refused", target,
                                 detailsText({{"reason", "locked"}, {"address", clientAddress}}), requestId));
        throw ApiError(429, "LOGIN_LOCKED", "this account is locked after too many failed logins; try again later")
            .withRetryAfter(secondsUntil(lockedUntil, now));
    }

    const bool passwordOk = checkPassword(password, user ? &user->passwordHash : nullptr);
    const bool disabled = user && user->disabledAt != 0;
    if (!passwordOk || disabled) {
        const std::string reason = !user ? "unknown_user" : (!passwordOk ? "wrong_password" : "disabled");
        const auto failure = audit(actor, "admin.login_failed", target,
                                   detailsText({{"reason", reason}, {"address", clientAddress}}), requestId);
        if (user && !passwordOk) {
            const auto lockAudit = audit(actor, "admin.locked", target,
                                         detailsText({{"failures", std::to_string(maxFailures)},
                                                      {"minutes", std::to_string(lockMillis / 60000)}}),
                                         requestId);
            const auto updated = admins_.recordLoginFailure(username, now, maxFailures, lockMillis, failure, lockAudit);
            if (updated && updated->lockedUntil > now) {
                Poco::Logger::get("admin").warning("admin user " + username + " locked for " +
                                                   std::to_string(lockMillis / 60000) + " min after " +
                                                   std::to_string(maxFailures) + " failed logins (last from " +
                                                   clientAddress + ")");
            }
        } else {
            store_.appendAudit(failure);
            if (!user && wellFormed) {
                std::lock_guard lock(mutex_);
                if (phantoms_.size() >= kMaxPhantoms) phantoms_.clear();
                auto& phantom = phantoms_[username];
                if (++phantom.failures >= std::max(maxFailures, 1)) {
                    phantom.failures = 0;
                    phantom.lockedUntil = now + lockMillis;
                }
            }
        }
        throw ApiError(401, "LOGIN_FAILED", "wrong user name or password");
    }

    LoginResult result;
    result.username = username;
    result.sessionToken = "cas_" + util::randomBase32(32);
    result.csrfToken = util::randomBase32(32);
    result.expiresAt = now + lifetimeMillis;
    result.idleTimeoutSeconds = idleMillis / 1000;
    store::AdminSessionRecord session;
    session.idHash = util::sha256Hex(result.sessionToken);
    session.username = username;
    session.csrfHash = util::sha256Hex(result.csrfToken);
    session.createdAt = now;
    session.lastSeenAt = now;
    session.expiresAt = result.expiresAt;
    session.clientAddress = clientAddress;
    admins_.insertSession(session, audit(actor, "admin.login", target, detailsText({{"address", clientAddress}}), requestId));
    if (needsRehash(user->passwordHash)) {
        // Parameters were raised since this password was set: store it anew.
        std::string rehashed;
        {
            HashingSlot slot(hashing_);
            rehashed = hashPassword(password);
        }
        admins_.setPasswordHashOnly(username, rehashed, now);
    }
    sweepStaleSessions(now, idleMillis);
    return result;
}

void AdminAuth::sweepStaleSessions(std::int64_t now, std::int64_t idleMillis) {
    {
        std::lock_guard lock(mutex_);
        if (now - lastSweep_ < kSweepEveryMillis) return;
        lastSweep_ = now;
    }
    try {
        admins_.deleteStaleSessions(now, now - idleMillis);
    } catch (const store::StoreError& e) {
        Poco::Logger::get("admin").warning(std::string("removing ended admin sessions failed: ") + e.what());
    }
}

void AdminAuth::forget(const std::string& idHash) {
    std::lock_guard lock(mutex_);
    cache_.erase(idHash);
}

std::optional<AdminIdentity> AdminAuth::validate(const std::string& sessionToken, bool activity) {
    if (sessionToken.size() != 4 + 52 || sessionToken.compare(0, 4, "cas_") != 0) return std::nullopt;
    const std::string idHash = util::sha256Hex(sessionToken);
    const auto steadyNow = std::chrono::steady_clock::now();
    std::optional<store::AdminSessionRecord> record;
    {
        std::lock_guard lock(mutex_);
        const auto it = cache_.find(idHash);
        if (it != cache_.end() && steadyNow - it->second.fetched < kCacheTtl) record = it->second.record;
    }
    if (!record) {
        record = admins_.findSession(idHash);
        if (!record) {
            forget(idHash);
            return std::nullopt;
        }
        std::lock_guard lock(mutex_);
        if (cache_.size() >= kMaxCached) cache_.clear();
        cache_[idHash] = {*record, steadyNow};
    }
    const auto config = config_();
    const std::int64_t idleMillis = config->getInt("admin.session_idle_minutes") * 60 * 1000;
    const std::int64_t now = util::nowMillis();
    if (record->userDisabled || record->expiresAt <= now || record->lastSeenAt + idleMillis <= now) {
        forget(idHash);
        return std::nullopt;
    }
    if (activity && now - record->lastSeenAt >= kTouchEveryMillis) {
        admins_.touchSession(idHash, now);
        record->lastSeenAt = now;
        std::lock_guard lock(mutex_);
        const auto it = cache_.find(idHash);
        if (it != cache_.end()) it->second.record.lastSeenAt = now;
    }
    AdminIdentity identity;
    identity.username = record->username;
    identity.idHash = record->idHash;
    identity.csrfHash = record->csrfHash;
    identity.createdAt = record->createdAt;
    identity.expiresAt = record->expiresAt;
    identity.lastSeenAt = record->lastSeenAt;
    return identity;
}

bool AdminAuth::csrfValid(const AdminIdentity& identity, const std::string& presented) {
    if (presented.empty() || presented.size() > 128) return false;
    return util::constantTimeEquals(util::sha256Hex(presented), identity.csrfHash);
}

void AdminAuth::logout(const std::string& sessionToken, const std::string& requestId) {
    if (sessionToken.empty() || sessionToken.size() > 128) return;
    const std::string idHash = util::sha256Hex(sessionToken);
    const auto record = admins_.findSession(idHash);
    forget(idHash);
    if (!record) return;
    admins_.deleteSession(idHash, audit("admin:" + record->username, "admin.logout", record->username, "{}", requestId));
}

namespace {
std::string cookie(const std::string& name, const std::string& value, std::int64_t maxAgeSeconds, bool httpOnly,
                   bool secure) {
    std::string out = name + "=" + value + "; Path=/; Max-Age=" + std::to_string(maxAgeSeconds) + "; SameSite=Strict";
    if (httpOnly) out += "; HttpOnly";
    if (secure) out += "; Secure";
    return out;
}
}  // namespace

std::string AdminAuth::sessionCookie(const LoginResult& login, bool secure) {
    const std::int64_t maxAge = std::max<std::int64_t>(1, (login.expiresAt - util::nowMillis()) / 1000);
    return cookie(kSessionCookie, login.sessionToken, maxAge, true, secure);
}

std::string AdminAuth::csrfCookie(const LoginResult& login, bool secure) {
    const std::int64_t maxAge = std::max<std::int64_t>(1, (login.expiresAt - util::nowMillis()) / 1000);
    return cookie(kCsrfCookie, login.csrfToken, maxAge, false, secure);
}

std::string AdminAuth::clearSessionCookie(bool secure) { return cookie(kSessionCookie, "", 0, true, secure); }

std::string AdminAuth::clearCsrfCookie(bool secure) { return cookie(kCsrfCookie, "", 0, false, secure); }

}  // namespace consultd::admin
