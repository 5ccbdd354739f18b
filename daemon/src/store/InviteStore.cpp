#include "store/InviteStore.h"

#include "store/Database.h"
#include "store/ReadPool.h"
#include "store/Writer.h"

namespace consultd::store {
namespace {

constexpr const char* kColumns =
    "id_hash, session_id, participant_id, created_by, created_at, expires_at, redeemed_at, rejoin_hash, last_used_at";

InviteRecord readRow(const sql::Statement& row) {
    InviteRecord r;
    r.idHash = row.columnText(0);
    r.sessionId = row.columnText(1);
    r.participantId = row.columnText(2);
    r.createdBy = row.columnText(3);
    r.createdAt = row.columnInt(4);
    r.expiresAt = row.columnInt(5);
    r.redeemedAt = row.columnInt(6);
    r.rejoinHash = row.columnText(7);
    r.lastUsedAt = row.columnInt(8);
    return r;
}

}  // namespace

void InviteStore::insert(const InviteRecord& invite, const AuditRecord& audit) {
    if (invite.idHash.empty() || invite.sessionId.empty() || invite.participantId.empty()) {
        throw StoreError("InviteStore::insert: idHash, sessionId and participantId are required");
    }
    store_.writer().run([&](WriteTransaction& txn) {
        auto insert = txn.db.prepare(
            "INSERT INTO invites (id_hash, session_id, participant_id, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)");
        insert->bindAll(invite.idHash, invite.sessionId, invite.participantId, invite.createdBy, invite.createdAt,
                        invite.expiresAt);
        insert->run();
        if (!audit.action.empty()) txn.appendAudit(audit);
    });
}

std::optional<InviteRecord> InviteStore::find(const std::string& idHash) const {
    std::optional<InviteRecord> found;
    auto lease = store_.readPool().acquire();
    sql::Connection& db = *lease;
    auto query = db.prepare(std::string("SELECT ") + kColumns + " FROM invites WHERE id_hash = ?");
    query->bindAll(idHash);
    if (query->step()) found = readRow(*query);
    return found;
}

bool InviteStore::bind(const std::string& idHash, const std::string& rejoinHash, std::int64_t at,
                       const AuditRecord& audit) {
    bool bound = false;
    store_.writer().run([&](WriteTransaction& txn) {
        // redeemed_at = 0 in the WHERE clause: of two browsers racing for one
        // invite, exactly one update changes a row.
        auto update = txn.db.prepare(
            "UPDATE invites SET redeemed_at = ?, rejoin_hash = ?, last_used_at = ? WHERE id_hash = ? AND redeemed_at = 0");
        update->bindAll(at, rejoinHash, at, idHash);
        update->run();
        bound = txn.db.changes() == 1;
        if (bound && !audit.action.empty()) txn.appendAudit(audit);
    });
    return bound;
}

void InviteStore::touch(const std::string& idHash, std::int64_t at) {
    store_.writer().run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare("UPDATE invites SET last_used_at = ? WHERE id_hash = ?");
        update->bindAll(at, idHash);
        update->run();
    });
}

std::int64_t InviteStore::purgeExpired(std::int64_t before) {
    std::int64_t removed = 0;
    store_.writer().run([&](WriteTransaction& txn) {
        auto remove = txn.db.prepare("DELETE FROM invites WHERE expires_at < ?");
        remove->bindAll(before);
        remove->run();
        removed = txn.db.changes();
    });
    return removed;
}

}  // namespace consultd::store
