#pragma once
/// The `jaas` provider: 8x8 Jitsi as a Service.

#include "JaasTokenBuilder.h"
#include "JaasWebhook.h"

#include <memory>

#include "consultd/provider.h"

namespace consultd::jitsi {

/// Provider name and config group (`providers.jaas`).
inline constexpr const char* kJaasProviderName = "jaas";

/// Issues RS256 grants for JaaS; rooms are created by JaaS on first join.
/// Thread-safe: all state is immutable.
class JaasProvider final : public Provider {
public:
    /// `context` is owned by the daemon and outlives this provider.
    /// Throws SettingError for an invalid `config` (see JaasTokenBuilder).
    JaasProvider(const ProviderContext& context, JaasConfig config);
    /// As above, with webhooks verified by `webhooks` (nullptr: none taken).
    JaasProvider(const ProviderContext& context, JaasConfig config, std::unique_ptr<JaasWebhookVerifier> webhooks);

    std::string name() const override;
    Capabilities capabilities() const override;
    /// Returns the bare room name as the provider room id.
    RoomInfo createRoom(const SessionView& session) override;
    JoinGrant issueGrant(const SessionView& session, const ParticipantView& participant) override;
    /// Throws ProviderRejected: JaaS recording is started by the host in the
    /// meeting (the `recording` feature of the host's token), not over an API.
    void startRecording(const SessionView& session) override;
    /// Throws ProviderRejected, as startRecording().
    void stopRecording(const SessionView& session) override;
    Health health() const override;
    /// Verifies X-Jaas-Signature (HMAC-SHA256, timestamp tolerance), refuses
    /// a replayed signature through ProviderContext::claimWebhookId, and
    /// translates the event. Throws WebhookRejected (no webhook secret
    /// configured, unsigned, wrong signature, stale, replayed) or
    /// ProviderRejected (a verified body that is not a JaaS event of this AppID).
    std::vector<ProviderEvent> handleWebhook(const WebhookRequest& request) override;

    const JaasTokenBuilder& builder() const noexcept { return builder_; }

private:
    const ProviderContext& context_;
    const JaasTokenBuilder builder_;
    const std::unique_ptr<JaasWebhookVerifier> webhooks_;
};

/// Declares the `providers.jaas` settings and builds JaasProvider from them.
class JaasProviderFactory final : public ProviderFactory {
public:
    std::string name() const override;
    std::vector<SettingSpec> settings() const override;
    /// Throws SettingError for a malformed AppID or key id, an unreadable,
    /// encrypted, non-RSA or short key, or a TTL out of range.
    std::unique_ptr<Provider> create(const ProviderContext& context) const override;
};

}  // namespace consultd::jitsi
