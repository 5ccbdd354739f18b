#include "store/DeviceStore.h"

#include "store/Database.h"
#include "store/ReadPool.h"
#include "store/Writer.h"

#include <algorithm>

namespace consultd::store {
namespace {

constexpr const char* kColumns =
    "id, name, room_name, status, enrollment_code_hash, enrollment_expires_at, credential_hash, enrolled_at, "
    "last_seen_at, created_at, revoked_at";

DeviceRecord readRow(const sql::Statement& row) {
    DeviceRecord d;
    d.id = row.columnText(0);
    d.name = row.columnText(1);
    d.roomName = row.columnText(2);
    d.status = row.columnText(3);
    d.enrollmentCodeHash = row.columnText(4);
    d.enrollmentExpiresAt = row.columnInt(5);
    d.credentialHash = row.columnText(6);
    d.enrolledAt = row.columnInt(7);
    d.lastSeenAt = row.columnInt(8);
    d.createdAt = row.columnInt(9);
    d.revokedAt = row.columnInt(10);
    return d;
}

std::optional<DeviceRecord> load(sql::Connection& db, const std::string& id) {
    auto query = db.prepare(std::string("SELECT ") + kColumns + " FROM devices WHERE id = ?");
    query->bindAll(id);
    if (!query->step()) return std::nullopt;
    return readRow(*query);
}

}  // namespace

void DeviceStore::insert(const DeviceRecord& device, const AuditRecord& audit) {
    if (device.id.empty() || device.name.empty()) throw StoreError("DeviceStore::insert: id and name are required");
    store_.writer().run([&](WriteTransaction& txn) {
        auto insert = txn.db.prepare(
            "INSERT INTO devices (id, name, room_name, status, enrollment_code_hash, enrollment_expires_at, "
            "credential_hash, enrolled_at, last_seen_at, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        insert->bindAll(device.id, device.name, device.roomName, device.status, device.enrollmentCodeHash,
                        device.enrollmentExpiresAt, device.credentialHash, device.enrolledAt, device.lastSeenAt,
                        device.createdAt, device.revokedAt);
        insert->run();
        if (!audit.action.empty()) txn.appendAudit(audit);
    });
}

std::optional<DeviceRecord> DeviceStore::find(const std::string& id) const {
    auto lease = store_.readPool().acquire();
    return load(*lease, id);
}

std::vector<DeviceRecord> DeviceStore::list() const {
    std::vector<DeviceRecord> devices;
    auto lease = store_.readPool().acquire();
    sql::Connection& db = *lease;
    auto query = db.prepare(std::string("SELECT ") + kColumns + " FROM devices ORDER BY created_at, id");
    while (query->step()) devices.push_back(readRow(*query));
    return devices;
}

bool DeviceStore::setEnrollmentCode(const std::string& id, const std::string& codeHash, std::int64_t expiresAt,
                                    const AuditRecord& audit) {
    bool changed = false;
    store_.writer().run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare(
            "UPDATE devices SET enrollment_code_hash = ?, enrollment_expires_at = ? WHERE id = ? AND status != 'revoked'");
        update->bindAll(codeHash, expiresAt, id);
        update->run();
        changed = txn.db.changes() == 1;
        if (changed && !audit.action.empty()) txn.appendAudit(audit);
    });
    return changed;
}

std::optional<DeviceRecord> DeviceStore::enroll(const std::string& codeHash, const std::string& credentialHash,
                                                std::int64_t now, const AuditRecord& audit) {
    std::optional<DeviceRecord> enrolled;
    store_.writer().run([&](WriteTransaction& txn) {
        std::string id;
        {
            auto query = txn.db.prepare(
                "SELECT id FROM devices WHERE enrollment_code_hash = ? AND status != 'revoked' AND "
                "enrollment_expires_at > ?");
            query->bindAll(codeHash, now);
            if (!query->step()) return;
            id = query->columnText(0);
        }
        auto update = txn.db.prepare(
            "UPDATE devices SET status = 'enrolled', enrollment_code_hash = '', enrollment_expires_at = 0, "
            "credential_hash = ?, enrolled_at = ?, last_seen_at = ? WHERE id = ?");
        update->bindAll(credentialHash, now, now, id);
        update->run();
        if (!audit.action.empty()) {
            AuditRecord entry = audit;
            entry.target = id;
            txn.appendAudit(entry);
        }
        enrolled = load(txn.db, id);
    });
    return enrolled;
}

bool DeviceStore::revoke(const std::string& id, std::int64_t at, const AuditRecord& audit) {
    bool revoked = false;
    store_.writer().run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare(
            "UPDATE devices SET status = 'revoked', revoked_at = ?, enrollment_code_hash = '', "
            "enrollment_expires_at = 0, credential_hash = '' WHERE id = ? AND status != 'revoked'");
        update->bindAll(at, id);
        update->run();
        revoked = txn.db.changes() == 1;
        if (revoked && !audit.action.empty()) txn.appendAudit(audit);
    });
    return revoked;
}

void DeviceStore::touch(const std::string& id, std::int64_t at) {
    store_.writer().run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare("UPDATE devices SET last_seen_at = ? WHERE id = ?");
        update->bindAll(at, id);
        update->run();
    });
}

std::vector<std::string> DeviceStore::sessionIdsForDevice(const std::string& deviceId,
                                                          const std::vector<std::string>& statuses, int limit) const {
    std::vector<std::string> ids;
    if (statuses.empty()) return ids;
    // Placeholders only: the statuses are bound.
    std::string placeholders;
    for (std::size_t i = 0; i < statuses.size(); ++i) placeholders += i == 0 ? "?" : ", ?";
    auto lease = store_.readPool().acquire();
    sql::Connection& db = *lease;
    auto query = db.prepare(
        "SELECT id FROM sessions WHERE device_id = ? AND status IN (" + placeholders +
        ") ORDER BY scheduled_at = 0, scheduled_at, seq LIMIT ?");
    int index = 0;
    query->bindText(++index, deviceId);
    for (const auto& status : statuses) query->bindText(++index, status);
    query->bindInt(++index, std::clamp(limit, 1, 100));
    while (query->step()) ids.push_back(query->columnText(0));
    return ids;
}

}  // namespace consultd::store
