#include "store/AuditChain.h"

#include "store/Database.h"
#include "store/StoreClock.h"

#include <openssl/evp.h>

#include <array>
#include <memory>

namespace consultd::store {
namespace {

void appendField(std::string& out, std::string_view value) {
    out += std::to_string(value.size());
    out += ':';
    out += value;
    out += ',';
}

constexpr const char* kSelectColumns =
    "SELECT seq, at, actor, action, target, details_json, request_id, prev_hash, hash "
    "FROM audit_log ";

AuditRecord readAuditRow(const sql::Statement& row) {
    AuditRecord entry;
    entry.seq = row.columnInt(0);
    entry.at = row.columnInt(1);
    entry.actor = row.columnText(2);
    entry.action = row.columnText(3);
    entry.target = row.columnText(4);
    entry.detailsJson = row.columnText(5);
    entry.requestId = row.columnText(6);
    entry.prevHash = row.columnText(7);
    entry.hash = row.columnText(8);
    return entry;
}

}  // namespace

std::string auditCanonicalForm(const AuditRecord& entry) {
    std::string out = "consultd-audit-v1\n";
    appendField(out, entry.prevHash);
    appendField(out, std::to_string(entry.seq));
    appendField(out, std::to_string(entry.at));
    appendField(out, entry.actor);
    appendField(out, entry.action);
    appendField(out, entry.target);
    appendField(out, entry.detailsJson);
    appendField(out, entry.requestId);
    return out;
}

std::string auditHash(const AuditRecord& entry) {
    const std::string data = auditCanonicalForm(entry);
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw StoreError("SHA-256 of an audit entry failed (OpenSSL EVP_Digest)");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 0x0f];
    }
    return hex;
}

AuditChainTip loadAuditChainTip(sql::Connection& db) {
    auto query = db.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    AuditChainTip tip;
    if (query->step()) {
        tip.seq = query->columnInt(0);
        tip.hash = query->columnText(1);
    }
    return tip;
}

AuditRecord insertAuditEntry(sql::Connection& db, AuditChainTip& tip, AuditRecord entry) {
    entry.seq = tip.seq + 1;
    entry.prevHash = tip.hash;
    if (entry.at == 0) {
        entry.at = nowMillis();
    }
    if (entry.detailsJson.empty()) {
        entry.detailsJson = "{}";
    }
    entry.hash = auditHash(entry);
    auto insert = db.prepare(
        "INSERT INTO audit_log (seq, at, actor, action, target, details_json, request_id, "
        "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert->bindAll(entry.seq, entry.at, entry.actor, entry.action, entry.target,
                    entry.detailsJson, entry.requestId, entry.prevHash, entry.hash);
    insert->run();
    // Only after the row is in: if the insert throws, the tip stays put.
    tip.seq = entry.seq;
    tip.hash = entry.hash;
    return entry;
}

std::int64_t verifyAuditChain(sql::Connection& db) {
    auto rows = db.prepare(std::string(kSelectColumns) + "ORDER BY seq");
    // The log starts at seq 1 with an empty prevHash; a deleted head row
    // therefore shows up as a wrong seq on the row that is now first.
    std::int64_t expectedSeq = 1;
    std::string expectedPrev;
    while (rows->step()) {
        const AuditRecord entry = readAuditRow(*rows);
        if (entry.seq != expectedSeq || entry.prevHash != expectedPrev ||
            auditHash(entry) != entry.hash) {
            // 0 means "intact" to the caller, so a row tampered down to seq
            // <= 0 is reported by the position it occupies.
            return entry.seq >= 1 ? entry.seq : expectedSeq;
        }
        expectedSeq = entry.seq + 1;
        expectedPrev = entry.hash;
    }
    return 0;
}

std::vector<AuditRecord> readAuditEntries(sql::Connection& db, std::int64_t afterSeq, int limit) {
    auto rows = db.prepare(std::string(kSelectColumns) + "WHERE seq > ? ORDER BY seq LIMIT ?");
    rows->bindAll(afterSeq, limit);
    std::vector<AuditRecord> entries;
    while (rows->step()) {
        entries.push_back(readAuditRow(*rows));
    }
    return entries;
}

}  // namespace consultd::store
