#pragma once
/// The `vonage` provider: the Vonage Video API or a server compatible with it.

#include "VonageJwt.h"
#include "VonageRestClient.h"
#include "VonageWebhook.h"

#include "consultd/provider.h"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace consultd::vonage {

/// Provider name and config group (`providers.vonage`).
inline constexpr const char* kVonageProviderName = "vonage";

/// Settings of `providers.vonage`, already read from the config.
struct VonageConfig {
    RestClientConfig rest;
    std::string applicationId;
    std::string privateKeyPem;  ///< RSA private key, unencrypted PEM
    std::chrono::seconds tokenTtl{86400};
    ArchiveMode archiveMode = ArchiveMode::Manual;
    MediaMode mediaMode = MediaMode::Routed;
    std::string webhookSecret;  ///< "" = signed callbacks are not taken
    std::chrono::seconds webhookMaxAge{300};
};

/// Creates Vonage sessions over REST, signs client tokens locally, and
/// starts/stops composed archives.
/// Thread-safe: the signer and REST client are thread-safe, the archive map
/// is guarded by a mutex.
class VonageProvider final : public Provider {
public:
    /// `context` is owned by the daemon and outlives this provider. Throws
    /// SettingError for an invalid `config` (application id, key, base URL,
    /// CA file, TTL, or archive_mode always with media_mode relayed).
    VonageProvider(const ProviderContext& context, VonageConfig config);

    std::string name() const override;
    Capabilities capabilities() const override;
    /// POST /session/create; the Vonage session id becomes the provider room
    /// id. Throws ProviderUnavailable when the API cannot be reached, times
    /// out or fails (the daemon retries later), ProviderRejected on a 4xx.
    RoomInfo createRoom(const SessionView& session) override;
    /// Stops an archive this provider started for the session, if any (a
    /// Vonage session itself needs no closing: it ends when everyone leaves).
    /// An upstream failure is logged, not thrown, so ending a consultation
    /// never depends on the provider.
    void closeRoom(const SessionView& session) override;
    /// Signs a client token locally (no network). Throws ProviderUnavailable
    /// when the session has no provider room yet (its creation failed during
    /// an outage), ProviderRejected for a recorder or an unusable participant.
    JoinGrant issueGrant(const SessionView& session, const ParticipantView& participant) override;
    /// Starts a composed archive (audio only in voice and chat mode).
    /// Throws ProviderRejected when one is already running for the session.
    void startRecording(const SessionView& session) override;
    /// Stops the archive started by startRecording(). Throws ProviderRejected
    /// when none is known; on ProviderUnavailable the archive id is kept so a
    /// retry can stop it.
    void stopRecording(const SessionView& session) override;
    /// Deletes the Vonage copy of an archive (after the daemon imported it).
    void deleteRecording(const SessionView& session, const std::string& providerRecordingId) override;
    /// Verifies a signed callback (HS256 Bearer JWT with payload_hash, iat
    /// freshness), refuses a replayed jti through
    /// ProviderContext::claimWebhookId, and translates it. Throws
    /// WebhookRejected (no secret configured, unsigned, wrong signature,
    /// tampered body, stale, replayed) or ProviderRejected (not JSON).
    std::vector<ProviderEvent> handleWebhook(const WebhookRequest& request) override;
    /// From the outcome of the last REST calls; never blocks.
    Health health() const override;

    const VonageRestClient& restClient() const noexcept { return *rest_; }
    /// The archive id recorded for a consultd session id ("" when none).
    std::string archiveIdFor(const std::string& sessionId) const;

private:
    const ProviderContext& context_;
    VonageConfig config_;
    // The signer must outlive rest_, which refers to it: declared first.
    std::unique_ptr<VonageSigner> signer_;
    std::unique_ptr<VonageRestClient> rest_;
    std::unique_ptr<VonageWebhookVerifier> webhooks_;
    mutable std::mutex archivesMutex_;
    std::map<std::string, std::string> archives_;  ///< consultd session id -> archive id
};

/// Declares the `providers.vonage` settings and builds VonageProvider from them.
class VonageProviderFactory final : public ProviderFactory {
public:
    std::string name() const override;
    std::vector<SettingSpec> settings() const override;
    /// Throws SettingError for any invalid setting (see VonageProvider).
    std::unique_ptr<Provider> create(const ProviderContext& context) const override;
};

}  // namespace consultd::vonage
