#include "JaasProvider.h"

#include "RoomName.h"
#include "Settings.h"

#include <utility>

namespace consultd::jitsi {

JaasProvider::JaasProvider(const ProviderContext& context, JaasConfig config)
    : JaasProvider(context, std::move(config), nullptr) {}

JaasProvider::JaasProvider(const ProviderContext& context, JaasConfig config,
                           std::unique_ptr<JaasWebhookVerifier> webhooks)
    : context_(context), builder_(std::move(config)), webhooks_(std::move(webhooks)) {}

std::string JaasProvider::name() const { return kJaasProviderName; }

Capabilities JaasProvider::capabilities() const {
    Capabilities caps;
    caps.video = true;
    caps.voiceOnly = true;
    caps.chat = true;
    caps.screenShare = true;
    // The host records from the meeting UI; the token grants the feature.
    caps.recording = true;
    // Only with a webhook secret: without one every callback would be refused.
    caps.webhooks = webhooks_ != nullptr;
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

std::vector<ProviderEvent> JaasProvider::handleWebhook(const WebhookRequest& request) {
    if (!webhooks_) throw WebhookRejected("jaas: no webhook_secret_file is configured");
    const auto header = request.headers.find("x-jaas-signature");
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(context_.now().time_since_epoch()).count();
    const std::string signature =
        webhooks_->verify(header == request.headers.end() ? std::string() : header->second, request.body, now);
    // The signature covers t and the body, so a fresh delivery has a fresh
    // one; the same one again within the tolerance is a replay.
    if (!context_.claimWebhookId("v1:" + signature, now + 2 * webhooks_->tolerance().count())) {
        throw WebhookRejected("replayed request (this signature was already accepted)");
    }
    return webhooks_->translate(request.body);
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
        optionalSetting(kWebhookSecretFile, SettingType::SecretFile, "",
                        "file with the signing secret of the webhook endpoint registered in the JaaS "
                        "console (X-Jaas-Signature); unset: webhooks are refused"),
        [] {
            SettingSpec spec = optionalSetting(kWebhookToleranceSeconds, SettingType::Int,
                                               std::to_string(kDefaultWebhookToleranceSeconds),
                                               "largest accepted difference between now and the t of a webhook signature, seconds");
            spec.min = 10;
            spec.max = 3600;
            return spec;
        }(),
    };
}

std::unique_ptr<Provider> JaasProviderFactory::create(const ProviderContext& context) const {
    const ProviderSettings& settings = context.settings();
    JaasConfig config;
    config.appId = settings.getString(setting::kAppId);
    config.apiKeyId = settings.getString(setting::kApiKeyId);
    config.privateKeyPem = settings.readSecret(setting::kPrivateKeyFile);
    config.ttl = std::chrono::seconds(settings.getInt(setting::kTokenTtlSeconds));

    std::unique_ptr<JaasWebhookVerifier> webhooks;
    if (!settings.secretPath(setting::kWebhookSecretFile).empty()) {
        webhooks = std::make_unique<JaasWebhookVerifier>(
            settings.readSecret(setting::kWebhookSecretFile), config.appId,
            std::chrono::seconds(settings.getInt(setting::kWebhookToleranceSeconds)));
    }
    const bool takesWebhooks = webhooks != nullptr;
    auto provider = std::make_unique<JaasProvider>(context, std::move(config), std::move(webhooks));
    const JaasTokenBuilder& builder = provider->builder();
    context.log(LogLevel::Info, "jaas: RS256 tokens for " + builder.appId() + " (kid=" +
                                    builder.keyId() + ", ttl=" +
                                    std::to_string(builder.ttl().count()) + "s, webhooks " +
                                    (takesWebhooks ? "signed" : "off") + ")");
    return provider;
}

}  // namespace consultd::jitsi
