#pragma once
// Exam-room devices (kiosks): enrollment codes and long-lived credentials,
// both stored only as hex SHA-256.
//
// Lifecycle: pending (created, enrollment code issued) -> enrolled (the code
// was used once; the device holds a credential) -> revoked (final). A new
// enrollment code for an enrolled device lets it enroll again (a wiped kiosk);
// enrolling replaces the credential.
//
// Thread-safety: thread-safe (every method goes through the Store's writer or
// read pool).

#include "store/Store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace consultd::store {

struct DeviceRecord {
    std::string id;                  // "dev_" + 16 base32 chars; the device's participant id in sessions
    std::string name;
    std::string roomName;
    std::string status;              // pending | enrolled | revoked
    std::string enrollmentCodeHash;  // "" when no code is outstanding
    std::int64_t enrollmentExpiresAt = 0;
    std::string credentialHash;      // "" before enrollment
    std::int64_t enrolledAt = 0;
    std::int64_t lastSeenAt = 0;
    std::int64_t createdAt = 0;
    std::int64_t revokedAt = 0;
};

class DeviceStore {
public:
    explicit DeviceStore(Store& store) : store_(store) {}

    void insert(const DeviceRecord& device, const AuditRecord& audit);
    std::optional<DeviceRecord> find(const std::string& id) const;
    /// Ordered by creation time.
    std::vector<DeviceRecord> list() const;
    /// Replaces the outstanding enrollment code of a device that is not
    /// revoked; false (nothing written) when unknown or revoked.
    bool setEnrollmentCode(const std::string& id, const std::string& codeHash, std::int64_t expiresAt,
                           const AuditRecord& audit);
    /// Atomically uses an enrollment code: when a device not revoked holds
    /// `codeHash` and it has not expired at `now`, clears the code, stores the
    /// credential hash, sets status enrolled and returns the device.
    /// std::nullopt (nothing written) otherwise.
    std::optional<DeviceRecord> enroll(const std::string& codeHash, const std::string& credentialHash, std::int64_t now,
                                       const AuditRecord& audit);
    /// Revokes (clears code and credential); false when unknown or already revoked.
    bool revoke(const std::string& id, std::int64_t at, const AuditRecord& audit);
    void touch(const std::string& id, std::int64_t at);

    /// Ids of the device's sessions with one of `statuses`, by scheduled time
    /// (unscheduled last), then creation; at most `limit`.
    std::vector<std::string> sessionIdsForDevice(const std::string& deviceId, const std::vector<std::string>& statuses,
                                                 int limit) const;

private:
    Store& store_;
};

}  // namespace consultd::store
