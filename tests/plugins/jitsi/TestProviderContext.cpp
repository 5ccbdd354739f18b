#include "TestProviderContext.h"

#include <iostream>
#include <utility>

namespace consultd::testing {

TestProviderContext::TestProviderContext(std::unique_ptr<ProviderSettings> settings, Clock clock,
                                         bool echoLog)
    : settings_(std::move(settings)), clock_(std::move(clock)), echoLog_(echoLog) {}

const ProviderSettings& TestProviderContext::settings() const { return *settings_; }

void TestProviderContext::log(LogLevel /*level*/, const std::string& message) const {
    const std::lock_guard lock(mutex_);
    log_.push_back(message);
    if (echoLog_) std::cerr << message << '\n';
}

std::chrono::system_clock::time_point TestProviderContext::now() const {
    return clock_ ? clock_() : std::chrono::system_clock::now();
}

std::vector<IceServer> TestProviderContext::iceServersFor(const std::string& sessionId,
                                                          const std::string& participantId) const {
    {
        const std::lock_guard lock(mutex_);
        ++iceServerRequests_;
    }
    return {
        IceServer{{"stun:turn.test.invalid:3478"}, "", ""},
        IceServer{{"turn:turn.test.invalid:3478?transport=udp", "turns:turn.test.invalid:5349"},
                  sessionId + ":" + participantId, "test-credential"},
    };
}

std::string TestProviderContext::publicUrl() const { return "https://consult.test.invalid"; }

std::vector<std::string> TestProviderContext::logLines() const {
    const std::lock_guard lock(mutex_);
    return log_;
}

int TestProviderContext::iceServerRequests() const {
    const std::lock_guard lock(mutex_);
    return iceServerRequests_;
}

bool TestProviderContext::claimWebhookId(const std::string& replayId, std::int64_t expiresAt) const {
    const std::int64_t nowSeconds =
        std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
    std::lock_guard lock(mutex_);
    const auto found = webhookIds_.find(replayId);
    if (found != webhookIds_.end() && found->second >= nowSeconds) return false;
    webhookIds_[replayId] = expiresAt;
    return true;
}

}  // namespace consultd::testing
