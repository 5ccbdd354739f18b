#include "VonageProvider.h"

#include "Settings.h"

#include <utility>

namespace consultd::vonage {

namespace {

SettingSpec makeSetting(std::string name, SettingType type, std::string defaultValue, bool required,
                        std::string description) {
    SettingSpec spec;
    spec.name = std::move(name);
    spec.type = type;
    spec.defaultValue = std::move(defaultValue);
    spec.required = required;
    spec.description = std::move(description);
    return spec;
}

void requireTokenTtl(std::chrono::seconds ttl) {
    if (ttl.count() < setting::kMinTokenTtlSeconds || ttl.count() > setting::kMaxTokenTtlSeconds) {
        throw SettingError(setting::kTokenTtlSeconds,
                           "must be between " + std::to_string(setting::kMinTokenTtlSeconds) + " and " +
                               std::to_string(setting::kMaxTokenTtlSeconds) + " seconds (30 days)");
    }
}

void requireTimeout(std::chrono::milliseconds timeout) {
    if (timeout.count() < setting::kMinRequestTimeoutMs || timeout.count() > setting::kMaxRequestTimeoutMs) {
        throw SettingError(setting::kRequestTimeoutMs,
                           "must be between " + std::to_string(setting::kMinRequestTimeoutMs) + " and " +
                               std::to_string(setting::kMaxRequestTimeoutMs) + " ms");
    }
}

VonageConfig validated(VonageConfig config) {
    requireTokenTtl(config.tokenTtl);
    requireTimeout(config.rest.timeout);
    // Vonage refuses archiveMode=always for a relayed (p2p) session; say so at
    // start instead of failing every session creation.
    if (config.archiveMode == ArchiveMode::Always && config.mediaMode == MediaMode::Relayed) {
        throw SettingError(setting::kArchiveMode, "\"always\" requires media_mode = \"routed\"");
    }
    return config;
}

// The daemon checks `allowed` too; this keeps the factory strict on its own.
ArchiveMode parseArchiveMode(const std::string& value) {
    if (value == "manual") return ArchiveMode::Manual;
    if (value == "always") return ArchiveMode::Always;
    throw SettingError(setting::kArchiveMode, "must be \"manual\" or \"always\"");
}

MediaMode parseMediaMode(const std::string& value) {
    if (value == "routed") return MediaMode::Routed;
    if (value == "relayed") return MediaMode::Relayed;
    throw SettingError(setting::kMediaMode, "must be \"routed\" or \"relayed\"");
}

}  // namespace

VonageProvider::VonageProvider(const ProviderContext& context, VonageConfig config)
    : context_(context), config_(validated(std::move(config))) {
    signer_ = std::make_unique<VonageSigner>(config_.applicationId, config_.privateKeyPem);
    // The parsed key lives in the signer; no reason to keep the PEM text around.
    config_.privateKeyPem.clear();
    config_.privateKeyPem.shrink_to_fit();
    rest_ = std::make_unique<VonageRestClient>(config_.rest, *signer_, [&context] { return context.now(); });
    if (!config_.webhookSecret.empty()) {
        webhooks_ = std::make_unique<VonageWebhookVerifier>(config_.webhookSecret, config_.applicationId,
                                                            config_.webhookMaxAge);
        config_.webhookSecret.clear();
    }
}

std::string VonageProvider::name() const { return kVonageProviderName; }

Capabilities VonageProvider::capabilities() const {
    Capabilities caps;
    caps.video = true;
    caps.voiceOnly = true;  // a session whose clients publish audio only
    caps.chat = true;       // Vonage signals (session.signal) carry chat messages
    caps.recording = true;  // composed archives
    caps.screenShare = true;
    // Only with a signature secret: without one every callback is refused.
    caps.webhooks = webhooks_ != nullptr;
    return caps;
}

RoomInfo VonageProvider::createRoom(const SessionView& session) {
    // Failures are not logged here: the daemon logs every provider exception
    // once, with the session and route, and a second line would only repeat it.
    RoomInfo room{rest_->createSession(config_.archiveMode, config_.mediaMode)};
    context_.log(LogLevel::Info, "vonage: created a Vonage session for session " + session.id);
    return room;
}

void VonageProvider::closeRoom(const SessionView& session) {
    if (archiveIdFor(session.id).empty()) return;
    try {
        stopRecording(session);
    } catch (const std::runtime_error& error) {
        // Vonage stops an archive itself once the session is empty; the id is
        // kept, so an explicit stop can still be retried.
        context_.log(LogLevel::Warning, std::string("vonage: session ") + session.id +
                                            ": the archive could not be stopped on close: " + error.what());
    }
}

JoinGrant VonageProvider::issueGrant(const SessionView& session, const ParticipantView& participant) {
    if (session.providerRoomId.empty()) {
        // Created while the provider was down: the daemon retries createRoom().
        throw ProviderUnavailable("vonage: session " + session.id + " has no Vonage session yet");
    }
    ClientTokenClaims claims;
    claims.sessionId = session.providerRoomId;
    claims.role = vonageRoleFor(participant.role);
    claims.connectionData = connectionDataFor(participant);

    // Build first: a rejected request must not mint TURN credentials.
    JoinGrant grant;
    grant.token = signer_->clientToken(claims, unixSeconds(context_.now()), config_.tokenTtl, grant.expiresAt);
    grant.room = session.providerRoomId;
    // Vonage has no page that opens a call from a URL: the appliance's join
    // page runs the Vonage client with the settings below.
    grant.joinUrl.clear();
    const bool video = session.mode == Mode::Video;
    const bool audio = session.mode != Mode::Chat;
    grant.client = {
        {"application_id", signer_->applicationId()},
        {"session_id", session.providerRoomId},
        {"api_base_url", rest_->baseUrl()},
        {"mode", modeName(session.mode)},
        {"publish_video", video ? "true" : "false"},
        {"publish_audio", audio ? "true" : "false"},
    };
    grant.iceServers = context_.iceServersFor(session.id, participant.id);
    return grant;
}

void VonageProvider::startRecording(const SessionView& session) {
    if (session.providerRoomId.empty()) {
        throw ProviderUnavailable("vonage: session " + session.id + " has no Vonage session yet");
    }
    {
        std::lock_guard lock(archivesMutex_);
        if (archives_.count(session.id) != 0) {
            throw ProviderRejected("vonage: session " + session.id + " is already being archived");
        }
    }
    // No lock across the network call: other sessions must not wait for it.
    const std::string archiveId =
        rest_->startArchive(session.providerRoomId, session.mode == Mode::Video, "consultd " + session.id);
    std::lock_guard lock(archivesMutex_);
    if (!archives_.emplace(session.id, archiveId).second) {
        // Two concurrent starts both reached Vonage; the API refuses a second
        // archive of one session, so this is a compatible server's quirk.
        context_.log(LogLevel::Warning, "vonage: session " + session.id + ": a second archive " + archiveId +
                                            " was started concurrently; only the first is tracked");
    }
    context_.log(LogLevel::Info, "vonage: session " + session.id + ": archive " + archiveId + " started");
}

void VonageProvider::stopRecording(const SessionView& session) {
    const std::string archiveId = archiveIdFor(session.id);
    if (archiveId.empty()) {
        throw ProviderRejected("vonage: no archive was started for session " + session.id);
    }
    rest_->stopArchive(archiveId);
    std::lock_guard lock(archivesMutex_);
    const auto found = archives_.find(session.id);
    if (found != archives_.end() && found->second == archiveId) archives_.erase(found);
    context_.log(LogLevel::Info, "vonage: session " + session.id + ": archive " + archiveId + " stopped");
}

void VonageProvider::deleteRecording(const SessionView& session, const std::string& providerRecordingId) {
    rest_->deleteArchive(providerRecordingId);
    context_.log(LogLevel::Info, "vonage: session " + session.id + ": archive " + providerRecordingId + " deleted");
}

std::vector<ProviderEvent> VonageProvider::handleWebhook(const WebhookRequest& request) {
    if (!webhooks_) throw WebhookRejected("vonage: no webhook_secret_file is configured");
    const auto authorization = request.headers.find("authorization");
    const std::int64_t now = unixSeconds(context_.now());
    const VonageCallbackClaims claims = webhooks_->verify(
        authorization == request.headers.end() ? std::string() : authorization->second, request.body, now);
    // Kept past the freshness window, after which the iat check refuses it anyway.
    if (!context_.claimWebhookId("jti:" + claims.jti, claims.iat + 2 * webhooks_->maxAge().count())) {
        throw WebhookRejected("replayed callback (jti already seen)");
    }
    return webhooks_->translate(request.body);
}

Health VonageProvider::health() const { return rest_->health(); }

std::string VonageProvider::archiveIdFor(const std::string& sessionId) const {
    std::lock_guard lock(archivesMutex_);
    const auto found = archives_.find(sessionId);
    return found == archives_.end() ? std::string() : found->second;
}

std::string VonageProviderFactory::name() const { return kVonageProviderName; }

std::vector<SettingSpec> VonageProviderFactory::settings() const {
    SettingSpec timeout = makeSetting(setting::kRequestTimeoutMs, SettingType::Int,
                                      std::to_string(setting::kDefaultRequestTimeoutMs), false,
                                      "timeout in ms for connecting to the API and for each send/receive");
    timeout.min = setting::kMinRequestTimeoutMs;
    timeout.max = setting::kMaxRequestTimeoutMs;
    SettingSpec ttl = makeSetting(setting::kTokenTtlSeconds, SettingType::Int,
                                  std::to_string(setting::kDefaultTokenTtlSeconds), false,
                                  "lifetime of a client token in seconds (exp = now + ttl; at most 30 days)");
    ttl.min = setting::kMinTokenTtlSeconds;
    ttl.max = setting::kMaxTokenTtlSeconds;
    SettingSpec archive = makeSetting(setting::kArchiveMode, SettingType::String, "manual", false,
                                      "Vonage archiveMode of new sessions: manual (consultd starts archives) "
                                      "or always (Vonage archives every session; needs media_mode routed)");
    archive.allowed = {"manual", "always"};
    SettingSpec media = makeSetting(setting::kMediaMode, SettingType::String, "routed", false,
                                    "routed (through Vonage's media servers; needed for archiving) or "
                                    "relayed (peer to peer, p2p.preference=enabled)");
    media.allowed = {"routed", "relayed"};
    SettingSpec webhookAge = makeSetting(setting::kWebhookMaxAgeSeconds, SettingType::Int,
                                         std::to_string(setting::kDefaultWebhookMaxAgeSeconds), false,
                                         "largest accepted difference between now and the iat of a signed callback, seconds");
    webhookAge.min = 10;
    webhookAge.max = 3600;
    return {
        makeSetting(setting::kApiBaseUrl, SettingType::String, setting::kDefaultApiBaseUrl, false,
                    "base URL of the Vonage Video API or a compatible server (https; http only for loopback)"),
        makeSetting(setting::kApplicationId, SettingType::String, "", true,
                    "the Vonage application id (JWT application_id and the archive API's project id)"),
        makeSetting(setting::kPrivateKeyFile, SettingType::SecretFile, "", true,
                    "file holding the application's RSA private key (unencrypted PEM, >= 2048 bits)"),
        makeSetting(setting::kCaFile, SettingType::String, "", false,
                    "extra PEM CA bundle trusted for the API besides the system store (\"\" = system only)"),
        timeout,
        ttl,
        archive,
        media,
        makeSetting(setting::kWebhookSecretFile, SettingType::SecretFile, "", false,
                    "file with the signature secret of the application's signed callbacks "
                    "(HS256 Authorization JWT); unset: callbacks are refused"),
        webhookAge,
    };
}

std::unique_ptr<Provider> VonageProviderFactory::create(const ProviderContext& context) const {
    const ProviderSettings& settings = context.settings();
    VonageConfig config;
    config.rest.baseUrl = settings.getString(setting::kApiBaseUrl);
    config.rest.caFile = settings.getString(setting::kCaFile);
    config.rest.timeout = std::chrono::milliseconds(settings.getInt(setting::kRequestTimeoutMs));
    config.applicationId = settings.getString(setting::kApplicationId);
    config.privateKeyPem = settings.readSecret(setting::kPrivateKeyFile);
    config.tokenTtl = std::chrono::seconds(settings.getInt(setting::kTokenTtlSeconds));
    config.archiveMode = parseArchiveMode(settings.getString(setting::kArchiveMode));
    config.mediaMode = parseMediaMode(settings.getString(setting::kMediaMode));
    if (!settings.secretPath(setting::kWebhookSecretFile).empty()) {
        config.webhookSecret = settings.readSecret(setting::kWebhookSecretFile);
    }
    config.webhookMaxAge = std::chrono::seconds(settings.getInt(setting::kWebhookMaxAgeSeconds));

    auto provider = std::make_unique<VonageProvider>(context, std::move(config));
    context.log(LogLevel::Info, "vonage: API " + provider->restClient().baseUrl() + ", token ttl " +
                                    std::to_string(settings.getInt(setting::kTokenTtlSeconds)) + "s");
    return provider;
}

}  // namespace consultd::vonage
