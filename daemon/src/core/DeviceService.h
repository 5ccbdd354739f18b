#pragma once
// Exam-room devices (kiosks): management (REST under devices:write, and the
// CLI), enrollment with a one-time code, and the device credential.
//
// Enrollment code: 12 characters from a 32-letter alphabet without 0/O/1/I
// (60 bits), shown as XXXX-XXXX-XXXX, valid devices.enrollment_code_ttl_seconds,
// usable once. Enrolling is public and rate-limited per client address.
// Credential: "<device id>.<52 base32 chars>" (256 random bits), stored as
// SHA-256, held by the kiosk browser in an HttpOnly cookie; revoking the
// device invalidates it at once.
//
// Thread-safety: thread-safe.

#include "core/ConfigSource.h"
#include "core/RateLimiter.h"
#include "core/SessionService.h"
#include "store/DeviceStore.h"

#include <optional>
#include <string>
#include <vector>

namespace consultd::core {

struct NewDevice {
    store::DeviceRecord device;
    std::string enrollmentCode;  ///< show once ("ABCD-EFGH-JKMN"); never stored or logged
};

struct EnrolledDevice {
    store::DeviceRecord device;
    std::string credential;  ///< hand to the browser (cookie) once; never stored or logged
};

/// What a kiosk shows and joins.
struct KioskState {
    store::DeviceRecord device;
    std::optional<store::SessionRecord> nextSession;    ///< scheduled or waiting, soonest first
    std::optional<store::SessionRecord> activeSession;  ///< the host has started it
};

class DeviceService {
public:
    DeviceService(store::Store& store, ConfigSource config);

    std::vector<store::DeviceRecord> list() const;
    store::DeviceRecord get(const std::string& id) const;  ///< 404 DEVICE_NOT_FOUND
    NewDevice create(const std::string& name, const std::string& roomName, const Actor& actor);
    /// A new enrollment code (the previous one stops working); 404, 409 DEVICE_REVOKED.
    NewDevice newEnrollmentCode(const std::string& id, const Actor& actor);
    /// 404, 409 DEVICE_REVOKED when already revoked.
    store::DeviceRecord revoke(const std::string& id, const Actor& actor);

    /// Uses an enrollment code (rate-limited per `clientAddress`): 403
    /// INVALID_ENROLLMENT_CODE when unknown, used, expired or revoked.
    EnrolledDevice enroll(const std::string& code, const std::string& clientAddress, const std::string& requestId);
    /// The enrolled device holding `credential`; nullopt when the credential is
    /// malformed, unknown, replaced or revoked. Records last_seen_at (at most
    /// every 30 s per device). Failures count per `clientAddress`
    /// (security.auth_failure_rate_per_minute): beyond it 429 RATE_LIMITED,
    /// without looking at the credential.
    std::optional<store::DeviceRecord> authenticate(const std::string& credential, const std::string& clientAddress);
    /// The device's next and active sessions.
    KioskState state(const store::DeviceRecord& device, SessionService& sessions) const;

    /// "abcd efgh-jkmn" -> "ABCDEFGHJKMN" (what was typed, as stored).
    static std::string normalizeCode(const std::string& text);

private:
    std::string makeCode() const;

    store::Store& store_;
    store::DeviceStore devices_;
    ConfigSource config_;
    RateLimiter enrollLimiter_;
    RateLimiter authFailureLimiter_;
};

}  // namespace consultd::core
