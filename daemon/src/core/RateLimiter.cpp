#include "core/RateLimiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace consultd::core {

namespace {
constexpr std::size_t kShards = 16;
}

RateLimiter::RateLimiter(double perPeriod, std::chrono::milliseconds period, std::size_t maxKeys)
    : capacity_(perPeriod), period_(period), maxKeysPerShard_(std::max<std::size_t>(1, maxKeys / kShards)), shards_(kShards) {}

void RateLimiter::setRate(double perPeriod) { capacity_.store(perPeriod); }

RateLimiter::Decision RateLimiter::acquire(const std::string& key) {
    return acquire(key, std::chrono::steady_clock::now());
}

RateLimiter::Decision RateLimiter::acquire(const std::string& key, std::chrono::steady_clock::time_point now) {
    const double capacity = capacity_.load();
    const double perMs = capacity / static_cast<double>(period_.count());
    Shard& shard = shards_[std::hash<std::string>{}(key) % shards_.size()];
    std::lock_guard lock(shard.mutex);
    auto it = shard.buckets.find(key);
    if (it == shard.buckets.end()) {
        if (shard.buckets.size() >= maxKeysPerShard_) makeRoom(shard, now);
        it = shard.buckets.emplace(key, Bucket{capacity, now}).first;
    }
    Bucket& bucket = it->second;
    const auto elapsedMs = std::chrono::duration<double, std::milli>(now - bucket.updated).count();
    bucket.tokens = std::min(capacity, bucket.tokens + std::max(0.0, elapsedMs) * perMs);
    bucket.updated = now;
    if (bucket.tokens >= 1.0) {
        bucket.tokens -= 1.0;
        return {true, 0};
    }
    const double msUntilToken = (1.0 - bucket.tokens) / perMs;
    return {false, std::max(1, static_cast<int>(std::ceil(msUntilToken / 1000.0)))};
}

void RateLimiter::makeRoom(Shard& shard, std::chrono::steady_clock::time_point now) {
    const double capacity = capacity_.load();
    const double perMs = capacity / static_cast<double>(period_.count());
    // Drop every bucket that has refilled completely: it carries no state.
    std::erase_if(shard.buckets, [&](const auto& entry) {
        const auto elapsedMs = std::chrono::duration<double, std::milli>(now - entry.second.updated).count();
        return entry.second.tokens + elapsedMs * perMs >= capacity;
    });
    // Still full: evict the least recently used half.
    if (shard.buckets.size() >= maxKeysPerShard_) {
        std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>> byAge;
        byAge.reserve(shard.buckets.size());
        for (const auto& [k, b] : shard.buckets) byAge.emplace_back(b.updated, k);
        std::nth_element(byAge.begin(), byAge.begin() + static_cast<std::ptrdiff_t>(byAge.size() / 2), byAge.end());
        for (std::size_t i = 0; i < byAge.size() / 2; ++i) shard.buckets.erase(byAge[i].second);
    }
}

}  // namespace consultd::core
