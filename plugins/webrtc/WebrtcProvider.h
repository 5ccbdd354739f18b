#pragma once
// The "webrtc" provider: browsers and kiosks negotiate peer to peer through
// the daemon's signaling WebSocket and the embedded TURN relay. There is no
// upstream service: a room is the daemon's signaling room of the session, and
// a grant is a signaling token plus ICE servers.
//
// Thread-safety: thread-safe (immutable settings; the context is thread-safe).

#include "consultd/provider.h"

namespace consultd::webrtc {

class WebrtcProvider final : public Provider {
public:
    /// Reads and checks its settings; throws SettingError.
    explicit WebrtcProvider(const ProviderContext& context);

    std::string name() const override { return "webrtc"; }
    Capabilities capabilities() const override;
    RoomInfo createRoom(const SessionView& session) override;
    /// token = signaling token (secret), join_url = the signaling URL,
    /// client = {signaling_url, ice_transport_policy, session_id, mode}.
    JoinGrant issueGrant(const SessionView& session, const ParticipantView& participant) override;
    Health health() const override;

private:
    const ProviderContext& context_;
    std::int64_t tokenTtlSeconds_ = 600;
    std::string iceTransportPolicy_ = "all";
};

class WebrtcProviderFactory final : public ProviderFactory {
public:
    std::string name() const override { return "webrtc"; }
    std::vector<SettingSpec> settings() const override;
    std::unique_ptr<Provider> create(const ProviderContext& context) const override;
};

}  // namespace consultd::webrtc
