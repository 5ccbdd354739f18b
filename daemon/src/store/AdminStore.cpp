#include "store/AdminStore.h"

#include "store/Database.h"
#include "store/ReadPool.h"
#include "store/StoreClock.h"
#include "store/Writer.h"

#include <algorithm>

namespace consultd::store {
namespace {

constexpr const char* kUserColumns =
    "username, password_hash, created_at, updated_at, disabled_at, failed_logins, locked_until, last_login_at";

AdminUserRecord readUserRow(const sql::Statement& row) {
    AdminUserRecord u;
    u.username = row.columnText(0);
    u.passwordHash = row.columnText(1);
    u.createdAt = row.columnInt(2);
    u.updatedAt = row.columnInt(3);
    u.disabledAt = row.columnInt(4);
    u.failedLogins = row.columnInt(5);
    u.lockedUntil = row.columnInt(6);
    u.lastLoginAt = row.columnInt(7);
    return u;
}

std::optional<AdminUserRecord> loadUser(sql::Connection& db, const std::string& username) {
    auto query = db.prepare(std::string("SELECT ") + kUserColumns + " FROM admin_users WHERE username = ?");
    query->bindAll(username);
    if (!query->step()) return std::nullopt;
    return readUserRow(*query);
}

void appendAuditIfAny(WriteTransaction& txn, const AuditRecord& audit) {
    if (!audit.action.empty()) txn.appendAudit(audit);
}

}  // namespace

// ---- users -----------------------------------------------------------------------

void AdminStore::insertUser(const AdminUserRecord& user, const AuditRecord& audit) {
    if (user.username.empty() || user.passwordHash.empty()) {
        throw StoreError("insertUser: username and passwordHash are required");
    }
    store_.writer().run([&](WriteTransaction& txn) {
        const std::int64_t now = user.createdAt != 0 ? user.createdAt : nowMillis();
        auto insert = txn.db.prepare(
            "INSERT INTO admin_users (username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)");
        insert->bindAll(user.username, user.passwordHash, now, now);
        insert->run();  // Conflict when the name is taken
        appendAuditIfAny(txn, audit);
    });
}

std::optional<AdminUserRecord> AdminStore::findUser(const std::string& username) const {
    auto db = store_.readPool().acquire();
    return loadUser(*db, username);
}

std::vector<AdminUserRecord> AdminStore::listUsers() const {
    auto db = store_.readPool().acquire();
    auto query = db->prepare(std::string("SELECT ") + kUserColumns + " FROM admin_users ORDER BY username");
    std::vector<AdminUserRecord> users;
    while (query->step()) users.push_back(readUserRow(*query));
    return users;
}

bool AdminStore::setPassword(const std::string& username, const std::string& passwordHash, std::int64_t at,
                             const AuditRecord& audit) {
    return store_.writer().run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare(
            "UPDATE admin_users SET password_hash = ?, updated_at = ?, disabled_at = 0, failed_logins = 0, "
            "locked_until = 0 WHERE username = ?");
        update->bindAll(passwordHash, at, username);
        update->run();
        if (txn.db.changes() == 0) return false;
        // A new password ends every login made with the old one.
        auto drop = txn.db.prepare("DELETE FROM admin_sessions WHERE username = ?");
        drop->bindAll(username);
        drop->run();
        appendAuditIfAny(txn, audit);
        return true;
    });
}

void AdminStore::setPasswordHashOnly(const std::string& username, const std::string& passwordHash, std::int64_t at) {
    store_.writer().run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare("UPDATE admin_users SET password_hash = ?, updated_at = ? WHERE username = ?");
        update->bindAll(passwordHash, at, username);
        update->run();
    });
}

bool AdminStore::disableUser(const std::string& username, std::int64_t at, const AuditRecord& audit) {
    return store_.writer().run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare(
            "UPDATE admin_users SET disabled_at = ?, updated_at = ? WHERE username = ? AND disabled_at = 0");
        update->bindAll(at, at, username);
        update->run();
        if (txn.db.changes() == 0) return false;
        auto drop = txn.db.prepare("DELETE FROM admin_sessions WHERE username = ?");
        drop->bindAll(username);
        drop->run();
        appendAuditIfAny(txn, audit);
        return true;
    });
}

std::optional<AdminUserRecord> AdminStore::recordLoginFailure(const std::string& username, std::int64_t at,
                                                              int maxFailures, std::int64_t lockMillis,
                                                              const AuditRecord& audit, AuditRecord lockAudit) {
    return store_.writer().run([&](WriteTransaction& txn) -> std::optional<AdminUserRecord> {
        auto user = loadUser(txn.db, username);
        appendAuditIfAny(txn, audit);
        if (!user) return std::nullopt;
        user->failedLogins += 1;
        if (user->failedLogins >= std::max(maxFailures, 1)) {
            user->lockedUntil = at + lockMillis;
            user->failedLogins = 0;
            appendAuditIfAny(txn, lockAudit);
        }
        auto update = txn.db.prepare("UPDATE admin_users SET failed_logins = ?, locked_until = ? WHERE username = ?");
        update->bindAll(user->failedLogins, user->lockedUntil, username);
        update->run();
        return user;
    });
}

// ---- sessions ----------------------------------------------------------------------

void AdminStore::insertSession(const AdminSessionRecord& session, const AuditRecord& audit) {
    store_.writer().run([&](WriteTransaction& txn) {
        auto user = txn.db.prepare(
            "UPDATE admin_users SET failed_logins = 0, locked_until = 0, last_login_at = ? WHERE username = ?");
        user->bindAll(session.createdAt, session.username);
        user->run();
        auto insert = txn.db.prepare(
            "INSERT INTO admin_sessions (id_hash, username, csrf_hash, created_at, last_seen_at, expires_at, "
            "client_address) VALUES (?, ?, ?, ?, ?, ?, ?)");
        insert->bindAll(session.idHash, session.username, session.csrfHash, session.createdAt, session.lastSeenAt,
                        session.expiresAt, session.clientAddress);
        insert->run();
        appendAuditIfAny(txn, audit);
    });
}

std::optional<AdminSessionRecord> AdminStore::findSession(const std::string& idHash) const {
    auto db = store_.readPool().acquire();
    auto query = db->prepare(
        "SELECT s.id_hash, s.username, s.csrf_hash, s.created_at, s.last_seen_at, s.expires_at, s.client_address, "
        "u.disabled_at FROM admin_sessions s JOIN admin_users u ON u.username = s.username WHERE s.id_hash = ?");
    query->bindAll(idHash);
    if (!query->step()) return std::nullopt;
    AdminSessionRecord s;
    s.idHash = query->columnText(0);
    s.username = query->columnText(1);
    s.csrfHash = query->columnText(2);
    s.createdAt = query->columnInt(3);
    s.lastSeenAt = query->columnInt(4);
    s.expiresAt = query->columnInt(5);
    s.clientAddress = query->columnText(6);
    s.userDisabled = query->columnInt(7) != 0;
    return s;
}

void AdminStore::touchSession(const std::string& idHash, std::int64_t at) {
    store_.writer().run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare("UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?");
        update->bindAll(at, idHash, at);
        update->run();
    });
}

bool AdminStore::deleteSession(const std::string& idHash, const AuditRecord& audit) {
    return store_.writer().run([&](WriteTransaction& txn) {
        auto drop = txn.db.prepare("DELETE FROM admin_sessions WHERE id_hash = ?");
        drop->bindAll(idHash);
        drop->run();
        if (txn.db.changes() == 0) return false;
        appendAuditIfAny(txn, audit);
        return true;
    });
}

int AdminStore::deleteStaleSessions(std::int64_t now, std::int64_t idleBefore) {
    return store_.writer().run([&](WriteTransaction& txn) {
        auto drop = txn.db.prepare("DELETE FROM admin_sessions WHERE expires_at <= ? OR last_seen_at < ?");
        drop->bindAll(now, idleBefore);
        drop->run();
        return txn.db.changes();
    });
}

// ---- audit view -------------------------------------------------------------------------

std::vector<AuditRecord> AdminStore::listAudit(const AuditFilter& filter) const {
    // Only fixed fragments are concatenated; every value is a bound parameter.
    std::string sql =
        "SELECT seq, at, actor, action, target, details_json, request_id, prev_hash, hash FROM audit_log WHERE 1 = 1";
    std::vector<std::string> texts;
    std::vector<std::int64_t> numbers;
    if (!filter.actor.empty()) sql += " AND instr(actor, ?) > 0";
    if (!filter.action.empty()) sql += " AND instr(action, ?) > 0";
    if (!filter.target.empty()) sql += " AND instr(target, ?) > 0";
    if (filter.from != 0) sql += " AND at >= ?";
    if (filter.to != 0) sql += " AND at < ?";
    if (filter.beforeSeq != 0) sql += " AND seq < ?";
    sql += " ORDER BY seq DESC LIMIT ?";
    auto db = store_.readPool().acquire();
    auto query = db->prepare(sql);
    int index = 0;
    if (!filter.actor.empty()) query->bindText(++index, filter.actor);
    if (!filter.action.empty()) query->bindText(++index, filter.action);
    if (!filter.target.empty()) query->bindText(++index, filter.target);
    if (filter.from != 0) query->bindInt(++index, filter.from);
    if (filter.to != 0) query->bindInt(++index, filter.to);
    if (filter.beforeSeq != 0) query->bindInt(++index, filter.beforeSeq);
    query->bindInt(++index, std::clamp(filter.limit, 1, 10001));
    std::vector<AuditRecord> out;
    while (query->step()) {
        AuditRecord a;
        a.seq = query->columnInt(0);
        a.at = query->columnInt(1);
        a.actor = query->columnText(2);
        a.action = query->columnText(3);
        a.target = query->columnText(4);
        a.detailsJson = query->columnText(5);
        a.requestId = query->columnText(6);
        a.prevHash = query->columnText(7);
        a.hash = query->columnText(8);
        out.push_back(std::move(a));
    }
    return out;
}

}  // namespace consultd::store
