#include "JitsiProvider.h"

#include "RoomName.h"
#include "Settings.h"

#include <utility>

namespace consultd::jitsi {

JitsiProvider::JitsiProvider(const ProviderContext& context, JitsiConfig config)
    : context_(context), builder_(std::move(config)) {}

std::string JitsiProvider::name() const { return kJitsiProviderName; }

Capabilities JitsiProvider::capabilities() const {
    Capabilities caps;
    caps.video = true;
    caps.voiceOnly = true;
    caps.chat = true;
    caps.screenShare = true;
    // Self-hosted recording needs a Jibri the appliance cannot drive or
    // verify from here, and there is no webhook source to report on it.
    caps.recording = false;
    caps.webhooks = false;
    return caps;
}

RoomInfo JitsiProvider::createRoom(const SessionView& session) {
    requireSafeRoomName(session.roomName);
    return RoomInfo{session.roomName};
}

JoinGrant JitsiProvider::issueGrant(const SessionView& session, const ParticipantView& participant) {
    // Build first: a rejected request must not mint TURN credentials.
    JoinGrant grant = builder_.buildGrant(session, participant, context_.now());
    grant.iceServers = context_.iceServersFor(session.id, participant.id);
    return grant;
}

Health JitsiProvider::health() const {
    return Health{Health::State::Healthy, "tokens are signed locally; the Jitsi server is not probed"};
}

std::string JitsiProviderFactory::name() const { return kJitsiProviderName; }

std::vector<SettingSpec> JitsiProviderFactory::settings() const {
    using namespace setting;
    return {
        requiredSetting(kDomain, SettingType::String,
                        "public host name (optionally host:port) of the Jitsi Meet server; join "
                        "links are https://<domain>/<room>"),
        requiredSetting(kAppId, SettingType::String,
                        "prosody app_id (JWT_APP_ID in docker-jitsi-meet)"),
        requiredSetting(kAppSecretFile, SettingType::SecretFile,
                        "file holding the prosody app_secret (JWT_APP_SECRET), at least 32 bytes; "
                        "tokens are HS256-signed with it"),
        optionalSetting(kIssuer, SettingType::String, "",
                        "JWT iss claim; must be in prosody's asap_accepted_issuers (empty: the "
                        "app_id)"),
        optionalSetting(kAudience, SettingType::String, "jitsi",
                        "JWT aud claim, a single string; must be in prosody's "
                        "asap_accepted_audiences"),
        optionalSetting(kTenant, SettingType::String, "",
                        "optional tenant path segment ([a-z0-9-]): rooms become "
                        "https://<domain>/<tenant>/<room> and the JWT sub is the tenant"),
        tokenTtlSetting(),
    };
}

std::unique_ptr<Provider> JitsiProviderFactory::create(const ProviderContext& context) const {
    const ProviderSettings& settings = context.settings();
    JitsiConfig config;
    config.domain = settings.getString(setting::kDomain);
    config.appId = settings.getString(setting::kAppId);
    config.appSecret = settings.readSecret(setting::kAppSecretFile);
    config.issuer = settings.getString(setting::kIssuer);
    config.audience = settings.getString(setting::kAudience);
    config.tenant = settings.getString(setting::kTenant);
    config.ttl = std::chrono::seconds(settings.getInt(setting::kTokenTtlSeconds));

    auto provider = std::make_unique<JitsiProvider>(context, std::move(config));
    const JitsiTokenBuilder& builder = provider->builder();
    context.log(LogLevel::Info, "jitsi: HS256 tokens for " + builder.domain() +
                                    " (iss=" + builder.issuer() + ", aud=" + builder.audience() +
                                    ", sub=" + builder.subject() + ", ttl=" +
                                    std::to_string(builder.ttl().count()) + "s)");
    return provider;
}

}  // namespace consultd::jitsi
