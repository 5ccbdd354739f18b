#pragma once
// Background retry of provider rooms: sessions created while their provider
// was down (provider_status "unavailable") get their room once it is back,
// before any client asks for a token.
//
// Per provider, a pass tries up to providers.retry_batch sessions in
// creation order; the first failure ends the provider's pass and doubles its
// delay (providers.retry_initial_seconds .. retry_max_seconds), a pass without
// failure resets it. Every attempt goes through the provider's circuit
// breaker (SessionService::ensureProviderRoom), so while the circuit is open
// the provider is not contacted at all; the first attempt after the open
// period is the breaker's single probe.
//
// Thread-safety: start()/stop() from one thread; runOnce() only from the
// retry thread or, in tests, while the thread is not running.

#include "core/ConfigSource.h"
#include "core/Metrics.h"
#include "core/SessionService.h"
#include "store/Store.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace consultd::core {

class ProviderRoomRetrier {
public:
    ProviderRoomRetrier(store::Store& store, SessionService& sessions, Metrics& metrics, ConfigSource config);
    ~ProviderRoomRetrier();
    ProviderRoomRetrier(const ProviderRoomRetrier&) = delete;
    ProviderRoomRetrier& operator=(const ProviderRoomRetrier&) = delete;

    /// Starts the retry thread.
    void start();
    /// Stops and joins it (also done by the destructor).
    void stop();

    /// One pass over the sessions without a room; returns the rooms created.
    int runOnce();

private:
    using Clock = std::chrono::steady_clock;
    struct ProviderState {
        std::chrono::seconds delay{0};
        Clock::time_point nextAttempt{};
    };

    void run();
    /// How long the thread may sleep before the next pass is due.
    std::chrono::milliseconds nextWait() const;

    store::Store& store_;
    SessionService& sessions_;
    Metrics& metrics_;
    ConfigSource config_;

    std::map<std::string, ProviderState> providers_;
    /// Sessions whose room the provider refused (4xx): retried at the slow rate only.
    std::unordered_map<std::string, Clock::time_point> refusedUntil_;

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace consultd::core
