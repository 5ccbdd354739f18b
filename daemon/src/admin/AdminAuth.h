#pragma once
// Admin console logins: password check (scrypt), lockout and rate limits,
// browser sessions (cookie + CSRF token), idle timeout and absolute lifetime.
//
// A login makes two random 256-bit values: the session token, sent only in
// the HttpOnly cookie `consultd_admin`, and the CSRF token, sent in the
// readable cookie `consultd_csrf` and in the login answer. The database keeps
// only their SHA-256. A state-changing request authenticated by the cookie
// must repeat the CSRF token in the X-CSRF-Token header (HttpService checks
// it with csrfValid()); a cross-site page can make the browser send the
// cookie but cannot read the token. docs/security.md has the whole design.
//
// Thread-safety: thread-safe. Validated sessions are cached for one second
// (a logout, disable or password reset from the CLI takes effect within it).
// At most two password hashes run at once (each needs 32 MiB).

#include "core/ConfigSource.h"
#include "core/RateLimiter.h"
#include "store/AdminStore.h"
#include "store/Store.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <unordered_map>

namespace consultd::admin {

inline constexpr const char* kSessionCookie = "consultd_admin";
inline constexpr const char* kCsrfCookie = "consultd_csrf";
inline constexpr const char* kCsrfHeader = "X-CSRF-Token";
/// Admin user names: what the CLI accepts and the login looks up.
inline constexpr const char* kUsernamePattern = "[A-Za-z0-9._@-]{1,64}";

struct LoginResult {
    std::string username;
    std::string sessionToken;   ///< cookie value; never logged or stored
    std::string csrfToken;
    std::int64_t expiresAt = 0; ///< absolute end, Unix ms
    std::int64_t idleTimeoutSeconds = 0;
};

/// A valid admin browser session.
struct AdminIdentity {
    std::string username;
    std::string idHash;
    std::string csrfHash;
    std::int64_t createdAt = 0;
    std::int64_t expiresAt = 0;
    std::int64_t lastSeenAt = 0;
};

class AdminAuth {
public:
    AdminAuth(store::Store& store, core::ConfigSource config);

    /// Checks the password and opens a session. Throws core::ApiError:
    /// 401 LOGIN_FAILED (unknown user, wrong password, disabled: one answer),
    /// 429 LOGIN_LOCKED (too many failures; Retry-After), 429 RATE_LIMITED
    /// (attempts per address or per user name). Every outcome is audited.
    LoginResult login(const std::string& username, const std::string& password, const std::string& clientAddress,
                      const std::string& requestId);

    /// The session behind a cookie value, or nullopt when unknown, expired,
    /// idle too long or its user is disabled. `activity` = the request is the
    /// admin's own action and restarts the idle timer (the dashboard's event
    /// stream is not).
    std::optional<AdminIdentity> validate(const std::string& sessionToken, bool activity = true);

    /// Constant-time check of a presented CSRF token against the session's.
    static bool csrfValid(const AdminIdentity& identity, const std::string& presented);

    /// Ends the session (audited as admin.logout); unknown tokens are ignored.
    void logout(const std::string& sessionToken, const std::string& requestId);

    /// Set-Cookie values for a new session and for clearing both cookies.
    static std::string sessionCookie(const LoginResult& login, bool secure);
    static std::string csrfCookie(const LoginResult& login, bool secure);
    static std::string clearSessionCookie(bool secure);
    static std::string clearCsrfCookie(bool secure);

private:
    struct Cached {
        store::AdminSessionRecord record;
        std::chrono::steady_clock::time_point fetched;
    };
    struct Phantom {  // failures of user names that do not exist
        int failures = 0;
        std::int64_t lockedUntil = 0;
    };

    store::AuditRecord audit(const std::string& actor, const std::string& action, const std::string& target,
                             const std::string& detailsJson, const std::string& requestId) const;
    bool checkPassword(const std::string& password, const std::string* storedHash);
    void forget(const std::string& idHash);
    void sweepStaleSessions(std::int64_t now, std::int64_t idleMillis);

    store::Store& store_;
    store::AdminStore admins_;
    core::ConfigSource config_;
    core::RateLimiter perAddress_;
    core::RateLimiter perUser_;
    std::counting_semaphore<16> hashing_{2};

    std::mutex mutex_;
    std::unordered_map<std::string, Cached> cache_;     // guarded by mutex_
    std::unordered_map<std::string, Phantom> phantoms_; // guarded by mutex_
    std::string dummyHash_;                             // guarded by mutex_; made on first use
    std::int64_t lastSweep_ = 0;                        // guarded by mutex_
};

}  // namespace consultd::admin
