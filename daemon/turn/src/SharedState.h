#pragma once
// What all workers share: the immutable config and policy, the secret (may
// change on SIGHUP), and the cross-worker bookkeeping that only the request
// path touches: quotas and EVEN-PORT reservations. Thread-safe: immutable
// members are read freely; mutable ones are behind their own mutex, which the
// relay (media) path never takes.

#include "NonceService.h"
#include "PeerPolicy.h"
#include "SocketAddress.h"
#include "UniqueFd.h"
#include "consultd/turn/TurnRelay.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace consultd::turn {

/// Allocation counts per user id, per client IP and in total.
class QuotaTracker {
public:
    QuotaTracker(int perUser, int perIp, int total) : perUser_(perUser), perIp_(perIp), total_(total) {}
    /// Counts one allocation for (userId, clientIp) if no quota is exceeded.
    bool tryAcquire(const std::string& userId, const std::string& clientIp);
    void release(const std::string& userId, const std::string& clientIp);

private:
    std::mutex mutex_;
    int perUser_, perIp_, total_;
    int count_ = 0;
    std::unordered_map<std::string, int> byUser_;
    std::unordered_map<std::string, int> byIp_;
};

/// Relay sockets held for a later Allocate with RESERVATION-TOKEN (RFC 8656
/// 7.2, EVEN-PORT with R=1). The later Allocate may come from another 5-tuple
/// and so land on another worker, hence a shared registry.
class ReservationRegistry {
public:
    void put(std::uint64_t token, UniqueFd fd, SocketAddress address, std::int64_t expiresAt);
    /// Takes the reservation out; nullopt when unknown or expired.
    struct Reserved {
        UniqueFd fd;
        SocketAddress address;
    };
    std::optional<Reserved> take(std::uint64_t token, std::int64_t now);
    void expire(std::int64_t now);
    /// Reserved ports are not counted by the quotas (no allocation holds
    /// them yet), so their number is capped separately.
    bool full(std::size_t cap);

private:
    struct Entry {
        UniqueFd fd;
        SocketAddress address;
        std::int64_t expiresAt;
    };
    std::mutex mutex_;
    std::map<std::uint64_t, Entry> entries_;
};

struct SharedState {
    SharedState(RelayConfig cfg, PeerPolicy peerPolicy);

    const RelayConfig config;
    const PeerPolicy policy;
    const NonceService nonces;
    QuotaTracker quotas;
    ReservationRegistry reservations;
    /// Bound relay address (port 0) and the one advertised (externalIp).
    SocketAddress relayBindAddress;
    SocketAddress relayAdvertisedAddress;

    std::string secret() const;
    void setSecret(std::string secret);

    void log(LogLevel level, const std::string& message) const {
        if (config.logSink) config.logSink(level, message);
    }

private:
    mutable std::mutex secretMutex_;
    std::string secret_;
};

}  // namespace consultd::turn
