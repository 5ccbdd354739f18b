#include "JaasProvider.h"

#include "RoomName.h"
#include "Settings.h"

#include <utility>

namespace consultd::jitsi {

JaasProvider::JaasProvider(const ProviderContext& context, JaasConfig config)
    : context_(context), builder_(std::move(config)) {}

std::string JaasProvider::name() const { return kJaasProviderName; }

Capabilities JaasProvider::capabilities() const {
    Capabilities caps;
    caps.video = true;
    caps.voiceOnly = true;
    caps.chat = true;
    caps.screenShare = true;
    // The host records from the meeting UI; the token grants the feature.
    caps.recording = true;
    // JaaS sends webhooks, but their signature check is not written yet; a
    // provider must not claim what handleWebhook() would reject.
    caps.webhooks = false;
    return caps;
}

RoomInfo JaasProvider::createRoom(const SessionView& session) {
    requireSafeRoomName(session.roomName);
    return RoomInfo{session.roomName};
}

JoinGrant JaasProvider::issueGrant(const SessionView& session, const ParticipantView& participant) {
    // Build first: a rejected request must not mint TURN credentials.
    JoinGrant grant = builder_.buildGrant(session, participant, context_.now());
    grant.iceServers = context_.iceServersFor(session.id, participant.id);
    return grant;
}

void JaasProvider::startRecording(const SessionView& /*session*/) {
    throw ProviderRejected(
        "JaaS recording is started by the host inside the meeting, not through consultd");
}

void JaasProvider::stopRecording(const SessionView& /*session*/) {
    throw ProviderRejected(
        "JaaS recording is stopped by the host inside the meeting, not through consultd");
}

Health JaasProvider::health() const {
    return Health{Health::State::Healthy, "tokens are signed locally; 8x8.vc is not probed"};
}

std::string JaasProviderFactory::name() const { return kJaasProviderName; }

std::vector<SettingSpec> JaasProviderFactory::settings() const {
    using namespace setting;
    return {
        requiredSetting(kAppId, SettingType::String,
                        "JaaS AppID from the 8x8 console: vpaas-magic-cookie- and 32 hex digits "
                        "(the JWT sub and the room prefix)"),
        requiredSetting(kApiKeyId, SettingType::String,
                        "id of the API key uploaded to the JaaS console, without the AppID "
                        "prefix; the JWT kid is <app_id>/<api_key_id>"),
        requiredSetting(kPrivateKeyFile, SettingType::SecretFile,
                        "file holding that key's RSA private key (unencrypted PEM, PKCS#8 or "
                        "traditional, at least 2048 bits)"),
        tokenTtlSetting(),
    };
}

std::unique_ptr<Provider> JaasProviderFactory::create(const ProviderContext& context) const {
    const ProviderSettings& settings = context.settings();
    JaasConfig config;
    config.appId = settings.getString(setting::kAppId);
    config.apiKeyId = settings.getString(setting::kApiKeyId);
    config.privateKeyPem = settings.readSecret(setting::kPrivateKeyFile);
    config.ttl = std::chrono::seconds(settings.getInt(setting::kTokenTtlSeconds));

    auto provider = std::make_unique<JaasProvider>(context, std::move(config));
    const JaasTokenBuilder& builder = provider->builder();
    context.log(LogLevel::Info, "jaas: RS256 tokens for " + builder.appId() + " (kid=" +
                                    builder.keyId() + ", ttl=" +
                                    std::to_string(builder.ttl().count()) + "s)");
    return provider;
}

}  // namespace consultd::jitsi
