#include "SharedState.h"

namespace consultd::turn {

bool QuotaTracker::tryAcquire(const std::string& userId, const std::string& clientIp) {
    std::lock_guard lock(mutex_);
    if (total_ > 0 && count_ >= total_) return false;
    if (perUser_ > 0) {
        auto it = byUser_.find(userId);
        if (it != byUser_.end() && it->second >= perUser_) return false;
    }
    if (perIp_ > 0) {
        auto it = byIp_.find(clientIp);
        if (it != byIp_.end() && it->second >= perIp_) return false;
    }
    ++count_;
    ++byUser_[userId];
    ++byIp_[clientIp];
    return true;
}

void QuotaTracker::release(const std::string& userId, const std::string& clientIp) {
    std::lock_guard lock(mutex_);
    --count_;
    if (auto it = byUser_.find(userId); it != byUser_.end() && --it->second <= 0) byUser_.erase(it);
    if (auto it = byIp_.find(clientIp); it != byIp_.end() && --it->second <= 0) byIp_.erase(it);
}

void ReservationRegistry::put(std::uint64_t token, UniqueFd fd, SocketAddress address, std::int64_t expiresAt) {
    std::lock_guard lock(mutex_);
    entries_[token] = Entry{std::move(fd), address, expiresAt};
}

std::optional<ReservationRegistry::Reserved> ReservationRegistry::take(std::uint64_t token, std::int64_t now) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(token);
    if (it == entries_.end()) return std::nullopt;
    Entry entry = std::move(it->second);
    entries_.erase(it);
    if (entry.expiresAt < now) return std::nullopt;
    return Reserved{std::move(entry.fd), entry.address};
}

bool ReservationRegistry::full(std::size_t cap) {
    std::lock_guard lock(mutex_);
    return entries_.size() >= cap;
}

void ReservationRegistry::expire(std::int64_t now) {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();)
        it = it->second.expiresAt < now ? entries_.erase(it) : std::next(it);
}

SharedState::SharedState(RelayConfig cfg, PeerPolicy peerPolicy)
    : config(std::move(cfg)),
      policy(std::move(peerPolicy)),
      nonces(600),
      quotas(config.maxAllocationsPerUsername, config.maxAllocationsPerIp, config.maxAllocationsTotal),
      secret_(config.sharedSecret) {}

std::string SharedState::secret() const {
    std::lock_guard lock(secretMutex_);
    return secret_;
}

void SharedState::setSecret(std::string secret) {
    std::lock_guard lock(secretMutex_);
    secret_ = std::move(secret);
}

}  // namespace consultd::turn
