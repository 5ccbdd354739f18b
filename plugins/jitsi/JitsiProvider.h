#pragma once
/// The `jitsi` provider: self-hosted Jitsi Meet with prosody token auth.

#include "JitsiTokenBuilder.h"

#include "consultd/provider.h"

namespace consultd::jitsi {

/// Provider name and config group (`providers.jitsi`).
inline constexpr const char* kJitsiProviderName = "jitsi";

/// Issues HS256 grants; rooms need no upstream call because Jitsi creates a
/// room when its first participant joins. Thread-safe: all state is immutable.
class JitsiProvider final : public Provider {
public:
    /// `context` is owned by the daemon and outlives this provider.
    /// Throws SettingError for an invalid `config` (see JitsiTokenBuilder).
    JitsiProvider(const ProviderContext& context, JitsiConfig config);

    std::string name() const override;
    Capabilities capabilities() const override;
    /// Returns the room name itself as the provider room id.
    RoomInfo createRoom(const SessionView& session) override;
    JoinGrant issueGrant(const SessionView& session, const ParticipantView& participant) override;
    Health health() const override;

    const JitsiTokenBuilder& builder() const noexcept { return builder_; }

private:
    const ProviderContext& context_;
    const JitsiTokenBuilder builder_;
};

/// Declares the `providers.jitsi` settings and builds JitsiProvider from them.
class JitsiProviderFactory final : public ProviderFactory {
public:
    std::string name() const override;
    std::vector<SettingSpec> settings() const override;
    /// Throws SettingError for an invalid domain, app id, issuer, audience,
    /// tenant, TTL or a secret shorter than 32 bytes.
    std::unique_ptr<Provider> create(const ProviderContext& context) const override;
};

}  // namespace consultd::jitsi
