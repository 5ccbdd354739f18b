#include "core/ProviderRoomRetrier.h"

#include "core/ApiError.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <vector>

namespace consultd::core {

ProviderRoomRetrier::ProviderRoomRetrier(store::Store& store, SessionService& sessions, Metrics& metrics,
                                         ConfigSource config)
    : store_(store), sessions_(sessions), metrics_(metrics), config_(std::move(config)) {}

ProviderRoomRetrier::~ProviderRoomRetrier() { stop(); }

void ProviderRoomRetrier::start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void ProviderRoomRetrier::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void ProviderRoomRetrier::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        const auto wait = nextWait();
        wake_.wait_for(lock, wait, [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        try {
            runOnce();
        } catch (const std::exception& e) {
            // A store hiccup: the next pass tries again.
            Poco::Logger::get("providers").warning(std::string("provider room retry pass failed: ") + e.what());
        }
        lock.lock();
    }
}

std::chrono::milliseconds ProviderRoomRetrier::nextWait() const {
    const auto initial = std::chrono::milliseconds(std::chrono::seconds(config_()->getInt("providers.retry_initial_seconds")));
    auto wait = initial;
    const auto now = Clock::now();
    for (const auto& [name, state] : providers_) {
        const auto due = std::chrono::duration_cast<std::chrono::milliseconds>(state.nextAttempt - now);
        wait = std::min(wait, due);
    }
    return std::max(wait, std::chrono::milliseconds(100));
}

int ProviderRoomRetrier::runOnce() {
    const auto cfg = config_();
    const auto initial = std::chrono::seconds(cfg->getInt("providers.retry_initial_seconds"));
    const auto maximum = std::max(initial, std::chrono::seconds(cfg->getInt("providers.retry_max_seconds")));
    const int batch = static_cast<int>(cfg->getInt("providers.retry_batch"));
    const auto now = Clock::now();

    std::map<std::string, std::vector<store::SessionRecord>> byProvider;
    for (auto& session : store_.sessionsNeedingProviderRoom(1000)) {
        auto& list = byProvider[session.provider];
        if (static_cast<int>(list.size()) < batch) list.push_back(std::move(session));
    }
    if (refusedUntil_.size() > 10000) refusedUntil_.clear();

    int created = 0;
    for (auto& [provider, sessions] : byProvider) {
        ProviderState& state = providers_[provider];
        if (state.delay.count() == 0) state.delay = initial;
        if (now < state.nextAttempt) continue;
        bool failed = false;
        for (const auto& session : sessions) {
            const auto refused = refusedUntil_.find(session.id);
            if (refused != refusedUntil_.end() && now < refused->second) continue;
            try {
                sessions_.ensureProviderRoom(session);
                metrics_.countRoomRetry(provider, "created");
                refusedUntil_.erase(session.id);
                ++created;
            } catch (const ApiError& e) {
                if (e.status() == 503) {
                    const bool circuitOpen = e.details().count("circuit") != 0;
                    metrics_.countRoomRetry(provider, circuitOpen ? "circuit_open" : "unavailable");
                    failed = true;
                    break;  // the provider is down: the rest of its sessions wait for the next pass
                }
                // The provider answered but refused this session: try it again only slowly.
                metrics_.countRoomRetry(provider, "rejected");
                refusedUntil_[session.id] = now + maximum;
                Poco::Logger::get("providers").warning("session " + session.id + ": provider " + provider +
                                                       " refused its room: " + e.what());
            }
        }
        if (failed) {
            state.nextAttempt = now + state.delay;
            state.delay = std::min(state.delay * 2, maximum);
        } else {
            state.delay = initial;
            state.nextAttempt = now + initial;
        }
    }
    // Providers with nothing pending start from the initial delay next time.
    for (auto it = providers_.begin(); it != providers_.end();) {
        if (byProvider.count(it->first) == 0) it = providers_.erase(it);
        else ++it;
    }
    if (created > 0) {
        Poco::Logger::get("providers").notice("provider room retry: " + std::to_string(created) + " room(s) created");
    }
    return created;
}

}  // namespace consultd::core
