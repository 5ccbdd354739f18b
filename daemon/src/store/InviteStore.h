#pragma once
// Invite links to the appliance's join page (POST /sessions/{id}/invites).
//
// The invite id in a link is a bearer secret: only its SHA-256 is stored. An
// invite is bound at its first redemption to one browser through a rejoin
// credential (also stored as a hash); see core/InviteService.h for the rules.
//
// Thread-safety: thread-safe (every method goes through the Store's writer or
// read pool).

#include "store/Store.h"

#include <cstdint>
#include <optional>
#include <string>

namespace consultd::store {

struct InviteRecord {
    std::string idHash;         // hex SHA-256 of the invite id
    std::string sessionId;
    std::string participantId;
    std::string createdBy;      // actor that created it ("apikey:<id>", "admin:<name>")
    std::int64_t createdAt = 0;
    std::int64_t expiresAt = 0;
    std::int64_t redeemedAt = 0;  // 0 = never redeemed
    std::string rejoinHash;       // hex SHA-256 of the bound browser's rejoin credential
    std::int64_t lastUsedAt = 0;
};

class InviteStore {
public:
    explicit InviteStore(Store& store) : store_(store) {}

    /// Inserts an invite with its audit entry in one transaction.
    void insert(const InviteRecord& invite, const AuditRecord& audit);
    std::optional<InviteRecord> find(const std::string& idHash) const;
    /// Binds a never-redeemed invite to `rejoinHash` (with its audit entry);
    /// false, writing nothing, when it was redeemed already (a race lost).
    bool bind(const std::string& idHash, const std::string& rejoinHash, std::int64_t at, const AuditRecord& audit);
    /// Records a later use by the bound browser.
    void touch(const std::string& idHash, std::int64_t at);
    /// Deletes invites that expired before `before`; returns how many.
    std::int64_t purgeExpired(std::int64_t before);

private:
    Store& store_;
};

}  // namespace consultd::store
