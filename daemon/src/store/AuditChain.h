#pragma once
// The tamper-evident audit log: each entry carries the hash of the one before,
// so editing, deleting or reordering a row breaks the chain from that row on.

#include "store/Store.h"

#include <cstdint>
#include <string>
#include <vector>

namespace consultd::store {

namespace sql {
class Connection;
}

/// The newest entry's seq and hash: what the next entry chains onto.
struct AuditChainTip {
    std::int64_t seq = 0;
    std::string hash;  // "" before the first entry
};

/// The exact bytes that are hashed: a version tag, then every field as
/// "<decimal length>:<bytes>," in the order prevHash, seq, at, actor, action,
/// target, detailsJson, requestId. Length prefixes make the encoding
/// unambiguous: no choice of field contents can make two different entries
/// serialise alike.
std::string auditCanonicalForm(const AuditRecord& entry);

/// Lowercase hex SHA-256 (OpenSSL EVP) of auditCanonicalForm(entry).
std::string auditHash(const AuditRecord& entry);

/// Reads the newest entry (at open; the writer caches it afterwards).
AuditChainTip loadAuditChainTip(sql::Connection& db);

/// Inside a write transaction: assigns seq = tip.seq + 1, prevHash = tip.hash,
/// at = now when 0, computes the hash, inserts the row and advances `tip`.
AuditRecord insertAuditEntry(sql::Connection& db, AuditChainTip& tip, AuditRecord entry);

/// Walks the whole log; returns the seq of the first entry whose seq, prevHash
/// or hash does not follow from its predecessor, or 0 when the chain is intact.
std::int64_t verifyAuditChain(sql::Connection& db);

/// Entries with seq > afterSeq in seq order, at most `limit`.
std::vector<AuditRecord> readAuditEntries(sql::Connection& db, std::int64_t afterSeq, int limit);

}  // namespace consultd::store
