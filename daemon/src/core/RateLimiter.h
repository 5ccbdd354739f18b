#pragma once
// Token-bucket rate limiter keyed by string (participant, API key, client IP).
//
// Thread-safety: thread-safe; keys are spread over shards, each with its own
// mutex. Memory is bounded: each shard keeps at most maxKeys/shards buckets and
// drops full (idle) buckets first when it must make room, so an attacker
// cycling keys cannot grow it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace consultd::core {

class RateLimiter {
public:
    struct Decision {
        bool allowed = true;
        int retryAfterSeconds = 0;  // when refused: seconds until one token is back
    };

    /// `perPeriod` events per `period`, burst up to `perPeriod`.
    RateLimiter(double perPeriod, std::chrono::milliseconds period, std::size_t maxKeys = 100000);

    Decision acquire(const std::string& key);
    Decision acquire(const std::string& key, std::chrono::steady_clock::time_point now);
    /// Changes the rate (SIGHUP); existing buckets keep their level.
    void setRate(double perPeriod);

private:
    struct Bucket {
        double tokens;
        std::chrono::steady_clock::time_point updated;
    };
    struct Shard {
        std::mutex mutex;
        std::unordered_map<std::string, Bucket> buckets;
    };

    void makeRoom(Shard& shard, std::chrono::steady_clock::time_point now);

    std::atomic<double> capacity_;
    std::chrono::milliseconds period_;
    std::size_t maxKeysPerShard_;
    std::vector<Shard> shards_;
};

}  // namespace consultd::core
