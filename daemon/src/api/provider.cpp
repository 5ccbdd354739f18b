// Out-of-line parts of the plugin API, compiled into libconsultd-api.so so
// that vtables, RTTI and exception types are shared by the daemon and every
// plugin (an exception thrown in a plugin is caught by type in the daemon).
#include "consultd/provider.h"

namespace consultd {

const char* roleName(Role role) noexcept {
    switch (role) {
        case Role::Host: return "host";
        case Role::Patient: return "patient";
        case Role::Guest: return "guest";
        case Role::Device: return "device";
        case Role::Recorder: return "recorder";
    }
    return "guest";
}

std::optional<Role> parseRole(const std::string& name) noexcept {
    if (name == "host") return Role::Host;
    if (name == "patient") return Role::Patient;
    if (name == "guest") return Role::Guest;
    if (name == "device") return Role::Device;
    if (name == "recorder") return Role::Recorder;
    return std::nullopt;
}

const char* modeName(Mode mode) noexcept {
    switch (mode) {
        case Mode::Video: return "video";
        case Mode::Voice: return "voice";
        case Mode::Chat: return "chat";
    }
    return "video";
}

std::optional<Mode> parseMode(const std::string& name) noexcept {
    if (name == "video") return Mode::Video;
    if (name == "voice") return Mode::Voice;
    if (name == "chat") return Mode::Chat;
    return std::nullopt;
}

ProviderUnavailable::~ProviderUnavailable() = default;
ProviderRejected::~ProviderRejected() = default;
WebhookRejected::~WebhookRejected() = default;
SettingError::~SettingError() = default;
ProviderSettings::~ProviderSettings() = default;
ProviderContext::~ProviderContext() = default;
ProviderFactory::~ProviderFactory() = default;
Provider::~Provider() = default;

void Provider::closeRoom(const SessionView& /*session*/) {}

void Provider::startRecording(const SessionView& /*session*/) {
    throw ProviderRejected("provider " + name() + " does not record");
}

void Provider::stopRecording(const SessionView& /*session*/) {
    throw ProviderRejected("provider " + name() + " does not record");
}

void Provider::deleteRecording(const SessionView& /*session*/, const std::string& /*providerRecordingId*/) {
    throw ProviderRejected("provider " + name() + " keeps no recordings to delete");
}

std::vector<ProviderEvent> Provider::handleWebhook(const WebhookRequest& /*request*/) {
    throw WebhookRejected("provider " + name() + " accepts no webhooks");
}

Health Provider::health() const { return {}; }

std::string ProviderContext::signalingUrl() const { return {}; }

std::string ProviderContext::mintSignalingToken(const SessionView& /*session*/, const ParticipantView& /*participant*/,
                                                std::int64_t /*expiresAt*/) const {
    throw ProviderUnavailable("this daemon offers no signaling");
}

bool ProviderContext::claimWebhookId(const std::string& /*replayId*/, std::int64_t /*expiresAt*/) const { return true; }

}  // namespace consultd
