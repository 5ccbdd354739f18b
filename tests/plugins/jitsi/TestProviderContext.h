#pragma once
/// A ProviderContext for tests and jitsi_grant_tool: settings from a
/// KeyValueSettings, an injectable clock, deterministic ICE servers, and a
/// log that is kept in memory so tests can check what a provider logged.

#include "KeyValueSettings.h"

#include "consultd/provider.h"

#include <chrono>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace consultd::testing {

/// Thread-safe (the log and the call counter are guarded).
class TestProviderContext final : public ProviderContext {
public:
    using Clock = std::function<std::chrono::system_clock::time_point()>;

    /// `clock` defaults to the system clock; `echoLog` also writes each line to stderr.
    explicit TestProviderContext(std::unique_ptr<ProviderSettings> settings, Clock clock = {},
                                 bool echoLog = false);

    const ProviderSettings& settings() const override;
    void log(LogLevel level, const std::string& message) const override;
    std::chrono::system_clock::time_point now() const override;
    /// One STUN and one TURN entry; the TURN username names the participant.
    std::vector<IceServer> iceServersFor(const std::string& sessionId,
                                         const std::string& participantId) const override;
    std::string publicUrl() const override;
    /// In memory, like the daemon's store: false for an id seen before that
    /// has not expired by now().
    bool claimWebhookId(const std::string& replayId, std::int64_t expiresAt) const override;

    /// Every line logged so far.
    std::vector<std::string> logLines() const;
    /// How often iceServersFor() was called.
    int iceServerRequests() const;

private:
    std::unique_ptr<ProviderSettings> settings_;
    Clock clock_;
    bool echoLog_;
    mutable std::mutex mutex_;
    mutable std::vector<std::string> log_;
    mutable int iceServerRequests_ = 0;
    mutable std::map<std::string, std::int64_t> webhookIds_;
};

}  // namespace consultd::testing
