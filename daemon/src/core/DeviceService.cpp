#include "core/DeviceService.h"

#include "core/ApiError.h"
#include "util/Crypto.h"
#include "util/Time.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace consultd::core {
namespace {

// 32 letters: no 0/O, 1/I; 5 bits each, so a random byte maps without bias.
constexpr char kCodeAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr std::size_t kCodeChars = 12;
constexpr std::int64_t kTouchEveryMs = 30 * 1000;

store::AuditRecord auditOf(const Actor& actor, std::string action, std::string target, const Poco::JSON::Object& details) {
    std::ostringstream text;
    details.stringify(text);
    store::AuditRecord record;
    record.at = util::nowMillis();
    record.actor = actor.name;
    record.action = std::move(action);
    record.target = std::move(target);
    record.detailsJson = text.str();
    record.requestId = actor.requestId;
    return record;
}

ApiError notFound(const std::string& id) {
    return ApiError(404, "DEVICE_NOT_FOUND", "no device " + id).withDetail("device_id", id);
}

std::string displayCode(const std::string& code) {
    return code.substr(0, 4) + "-" + code.substr(4, 4) + "-" + code.substr(8);
}

}  // namespace

DeviceService::DeviceService(store::Store& store, ConfigSource config)
    : store_(store),
      devices_(store),
      config_(std::move(config)),
      enrollLimiter_(static_cast<double>(config_()->getInt("devices.enroll_rate_per_minute")), std::chrono::minutes(1)),
      authFailureLimiter_(static_cast<double>(config_()->getInt("security.auth_failure_rate_per_minute")),
                          std::chrono::minutes(1)) {}

std::string DeviceService::normalizeCode(const std::string& text) {
    std::string code;
    for (char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c))) code += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return code;
}

std::string DeviceService::makeCode() const {
    const std::string bytes = util::randomBytes(kCodeChars);
    std::string code;
    for (unsigned char b : bytes) code += kCodeAlphabet[b & 31];
    return code;
}

std::vector<store::DeviceRecord> DeviceService::list() const { return devices_.list(); }

store::DeviceRecord DeviceService::get(const std::string& id) const {
    auto device = devices_.find(id);
    if (!device) throw notFound(id);
    return *device;
}

NewDevice DeviceService::create(const std::string& name, const std::string& roomName, const Actor& actor) {
    NewDevice result;
    const std::int64_t now = util::nowMillis();
    result.enrollmentCode = makeCode();
    auto& d = result.device;
    d.id = "dev_" + util::randomBase32(10);
    d.name = name;
    d.roomName = roomName;
    d.status = "pending";
    d.enrollmentCodeHash = util::sha256Hex(result.enrollmentCode);
    d.enrollmentExpiresAt = now + config_()->getInt("devices.enrollment_code_ttl_seconds") * 1000;
    d.createdAt = now;
    Poco::JSON::Object details;
    details.set("name", name);
    details.set("room_name", roomName);
    details.set("enrollment_expires_at", util::formatRfc3339(d.enrollmentExpiresAt));
    devices_.insert(d, auditOf(actor, "device.created", d.id, details));
    result.enrollmentCode = displayCode(result.enrollmentCode);
    return result;
}

NewDevice DeviceService::newEnrollmentCode(const std::string& id, const Actor& actor) {
    auto device = get(id);
    if (device.status == "revoked") {
        throw ApiError(409, "DEVICE_REVOKED", "device " + id + " is revoked").withDetail("device_id", id);
    }
    NewDevice result;
    const std::string code = makeCode();
    const std::int64_t expiresAt = util::nowMillis() + config_()->getInt("devices.enrollment_code_ttl_seconds") * 1000;
    Poco::JSON::Object details;
    details.set("enrollment_expires_at", util::formatRfc3339(expiresAt));
    if (!devices_.setEnrollmentCode(id, util::sha256Hex(code), expiresAt,
                                    auditOf(actor, "device.enrollment_code_issued", id, details))) {
        throw ApiError(409, "DEVICE_REVOKED", "device " + id + " is revoked").withDetail("device_id", id);
    }
    result.device = get(id);
    result.enrollmentCode = displayCode(code);
    return result;
}

store::DeviceRecord DeviceService::revoke(const std::string& id, const Actor& actor) {
    auto device = get(id);
    if (device.status == "revoked" ||
        !devices_.revoke(id, util::nowMillis(), auditOf(actor, "device.revoked", id, Poco::JSON::Object()))) {
        throw ApiError(409, "DEVICE_REVOKED", "device " + id + " is already revoked").withDetail("device_id", id);
    }
    return get(id);
}

EnrolledDevice DeviceService::enroll(const std::string& code, const std::string& clientAddress,
                                     const std::string& requestId) {
    enrollLimiter_.setRate(static_cast<double>(config_()->getInt("devices.enroll_rate_per_minute")));
    const auto decision = enrollLimiter_.acquire(clientAddress);
    if (!decision.allowed) {
        throw ApiError(429, "RATE_LIMITED", "too many enrollment attempts from this address")
            .withRetryAfter(decision.retryAfterSeconds);
    }
    const auto invalid = ApiError(403, "INVALID_ENROLLMENT_CODE",
                           "this enrollment code is not valid (unknown, already used or expired); ask for a new one");
    const std::string normalized = normalizeCode(code);
    if (normalized.size() != kCodeChars) throw invalid;
    EnrolledDevice result;
    const std::string secret = util::randomBase32(32);
    Poco::JSON::Object details;
    details.set("client_address", clientAddress);
    auto device = devices_.enroll(util::sha256Hex(normalized), util::sha256Hex(secret), util::nowMillis(),
                                  auditOf({"device", requestId}, "device.enrolled", "", details));
    if (!device) {
        Poco::Logger::get("devices").notice("request " + requestId + ": enrollment refused (invalid code) from " +
                                            clientAddress);
        throw invalid;
    }
    result.device = *device;
    result.credential = device->id + "." + secret;
    Poco::Logger::get("devices").information("device " + device->id + " enrolled (request " + requestId + ")");
    return result;
}

std::optional<store::DeviceRecord> DeviceService::authenticate(const std::string& credential,
                                                               const std::string& clientAddress) {
    // A failed attempt takes a token; an address out of tokens is refused
    // before any lookup (guessing credentials costs the guesser, not the store).
    const auto refuse = [&]() -> std::optional<store::DeviceRecord> {
        authFailureLimiter_.setRate(static_cast<double>(config_()->getInt("security.auth_failure_rate_per_minute")));
        const auto decision = authFailureLimiter_.acquire(clientAddress);
        if (!decision.allowed) {
            throw ApiError(429, "RATE_LIMITED", "too many failed device authentications from this address")
                .withRetryAfter(decision.retryAfterSeconds);
        }
        return std::nullopt;
    };
    const auto dot = credential.find('.');
    if (dot == std::string::npos || dot > 64 || credential.size() - dot - 1 != 52) return refuse();
    const std::string id = credential.substr(0, dot);
    const std::string presented = util::sha256Hex(credential.substr(dot + 1));
    auto device = devices_.find(id);
    if (!device || device->status != "enrolled" || device->credentialHash.empty()) return refuse();
    if (!util::constantTimeEquals(presented, device->credentialHash)) return refuse();
    const std::int64_t now = util::nowMillis();
    if (now - device->lastSeenAt >= kTouchEveryMs) {
        try {
            devices_.touch(id, now);
            device->lastSeenAt = now;
        } catch (const store::StoreError& e) {
            // Last-seen is informational: a busy store must not lock a kiosk out.
            Poco::Logger::get("devices").warning("device " + id + ": last_seen_at not recorded: " + e.what());
        }
    }
    return device;
}

KioskState DeviceService::state(const store::DeviceRecord& device, SessionService& sessions) const {
    KioskState state;
    state.device = device;
    for (const auto& id : devices_.sessionIdsForDevice(device.id, {"active"}, 1)) state.activeSession = sessions.get(id);
    for (const auto& id : devices_.sessionIdsForDevice(device.id, {"scheduled", "waiting"}, 1)) {
        state.nextSession = sessions.get(id);
    }
    return state;
}

}  // namespace consultd::core
