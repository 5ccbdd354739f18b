#pragma once
// A circuit breaker for calls to one provider's upstream.
//
// Closed: calls go out; `failureThreshold` consecutive failures open it.
// Open: calls are refused locally (the provider is not contacted) until
// `openFor` has passed; then it is half-open. Half-open: exactly one call (the
// probe) goes out at a time; its success closes the breaker, its failure opens
// it again for twice as long (at most `maxOpenFor`). A call that ended without
// saying anything about the upstream's health (a 4xx refusal, a plugin bug)
// only releases the probe slot.
//
// Thread-safety: thread-safe (one mutex; no call into the provider under it).

#include <chrono>
#include <cstdint>
#include <mutex>

namespace consultd::core {

class CircuitBreaker {
public:
    using Clock = std::chrono::steady_clock;
    enum class State { Closed, Open, HalfOpen };

    struct Options {
        int failureThreshold = 5;
        std::chrono::milliseconds openFor{15000};
        std::chrono::milliseconds maxOpenFor{300000};
    };

    struct Admission {
        bool allowed = true;
        bool probe = false;                      ///< the half-open probe: report its outcome
        std::chrono::milliseconds retryAfter{0};  ///< when refused: until the next probe may go out
    };

    struct Snapshot {
        State state = State::Closed;
        int consecutiveFailures = 0;
        std::chrono::milliseconds retryAfter{0};  ///< open: time until half-open
        std::uint64_t timesOpened = 0;
        std::uint64_t refusedCalls = 0;           ///< calls refused while open
    };

    explicit CircuitBreaker(Options options);

    /// Asks to make one call now.
    Admission admit(Clock::time_point now = Clock::now());
    /// The call reached the upstream and it answered well.
    void onSuccess();
    /// The upstream was unreachable, timed out or failed.
    void onFailure(Clock::time_point now = Clock::now());
    /// The call ended without a verdict on the upstream's health.
    void onNeutral(const Admission& admission);

    Snapshot snapshot(Clock::time_point now = Clock::now()) const;
    static const char* stateName(State state);

private:
    void open(Clock::time_point now);

    const Options options_;
    mutable std::mutex mutex_;
    State state_ = State::Closed;
    int consecutiveFailures_ = 0;
    bool probeInFlight_ = false;
    std::chrono::milliseconds currentOpenFor_;
    Clock::time_point openUntil_{};
    std::uint64_t timesOpened_ = 0;
    std::uint64_t refused_ = 0;
};

}  // namespace consultd::core
