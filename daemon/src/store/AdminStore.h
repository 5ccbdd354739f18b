#pragma once
// The admin console's tables (admin_users, admin_sessions) and the filtered,
// newest-first view of the audit log the console shows. The SQL of these
// tables lives here; writes go through the Store's single writer (group
// commit, one savepoint per job) and reads through its read pool.
//
// Thread-safety: thread-safe (stateless over the thread-safe Store).

#include "store/Store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace consultd::store {

struct AdminUserRecord {
    std::string username;
    std::string passwordHash;        // PasswordHasher string (algorithm, params, salt, hash)
    std::int64_t createdAt = 0;
    std::int64_t updatedAt = 0;
    std::int64_t disabledAt = 0;     // 0 = active
    std::int64_t failedLogins = 0;   // consecutive failures
    std::int64_t lockedUntil = 0;    // 0 = not locked
    std::int64_t lastLoginAt = 0;
};

struct AdminSessionRecord {
    std::string idHash;              // hex SHA-256 of the cookie value
    std::string username;
    std::string csrfHash;            // hex SHA-256 of the CSRF token
    std::int64_t createdAt = 0;
    std::int64_t lastSeenAt = 0;
    std::int64_t expiresAt = 0;      // absolute end
    std::string clientAddress;
    bool userDisabled = false;       // filled by findSession
};

struct AuditFilter {
    std::string actor;               // substring; empty = any
    std::string action;              // substring; empty = any
    std::string target;              // substring; empty = any
    std::int64_t from = 0;           // at >= from (0 = no bound)
    std::int64_t to = 0;             // at < to (0 = no bound)
    std::int64_t beforeSeq = 0;      // cursor: only seq < beforeSeq (0 = newest)
    int limit = 100;                 // 1..10001
};

class AdminStore {
public:
    explicit AdminStore(Store& store) : store_(store) {}

    // ---- users ----
    /// Throws Conflict when the username exists.
    void insertUser(const AdminUserRecord& user, const AuditRecord& audit);
    std::optional<AdminUserRecord> findUser(const std::string& username) const;
    std::vector<AdminUserRecord> listUsers() const;
    /// New password hash; clears failures and lockout, re-enables the user,
    /// ends every session of the user. False when the user does not exist.
    bool setPassword(const std::string& username, const std::string& passwordHash, std::int64_t at,
                     const AuditRecord& audit);
    /// Replaces the stored hash only (a rehash with stronger parameters at login).
    void setPasswordHashOnly(const std::string& username, const std::string& passwordHash, std::int64_t at);
    /// Disables the user and ends their sessions. False when unknown or already disabled.
    bool disableUser(const std::string& username, std::int64_t at, const AuditRecord& audit);

    /// Counts one failed login; when the count reaches `maxFailures` the user
    /// is locked until at + lockMillis and the count restarts. Returns the
    /// stored row (nullopt for an unknown user). `lockAudit` is appended only
    /// when this failure locks the account.
    std::optional<AdminUserRecord> recordLoginFailure(const std::string& username, std::int64_t at, int maxFailures,
                                                      std::int64_t lockMillis, const AuditRecord& audit,
                                                      AuditRecord lockAudit);

    // ---- sessions ----
    /// A good login: resets the failure count, stamps last_login_at and
    /// stores the session, all in one transaction with the audit entry.
    void insertSession(const AdminSessionRecord& session, const AuditRecord& audit);
    std::optional<AdminSessionRecord> findSession(const std::string& idHash) const;
    void touchSession(const std::string& idHash, std::int64_t at);
    /// False when there was no such session.
    bool deleteSession(const std::string& idHash, const AuditRecord& audit);
    /// Removes sessions past their absolute end or idle since before `idleBefore`.
    int deleteStaleSessions(std::int64_t now, std::int64_t idleBefore);

    // ---- audit view ----
    /// Matching entries, newest first, at most filter.limit.
    std::vector<AuditRecord> listAudit(const AuditFilter& filter) const;

private:
    Store& store_;
};

}  // namespace consultd::store
