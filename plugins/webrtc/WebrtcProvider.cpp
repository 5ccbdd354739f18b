#include "WebrtcProvider.h"

#include <Poco/JWT/Token.h>

#include <chrono>

namespace consultd::webrtc {

WebrtcProvider::WebrtcProvider(const ProviderContext& context) : context_(context) {
    tokenTtlSeconds_ = context.settings().getInt("token_ttl_seconds");
    iceTransportPolicy_ = context.settings().getString("ice_transport_policy");
    if (iceTransportPolicy_ != "all" && iceTransportPolicy_ != "relay") {
        throw SettingError("ice_transport_policy", "must be \"all\" or \"relay\"");
    }
}

Capabilities WebrtcProvider::capabilities() const {
    Capabilities caps;
    caps.video = true;
    caps.voiceOnly = true;
    caps.chat = true;
    caps.screenShare = true;
    // The daemon records natively (its recorder joins the room); the plugin itself does nothing for it.
    caps.recording = true;
    caps.webhooks = false;
    return caps;
}

RoomInfo WebrtcProvider::createRoom(const SessionView& session) {
    // The room is the daemon's signaling room of this session: nothing to reserve.
    return {"webrtc:" + session.roomName};
}

JoinGrant WebrtcProvider::issueGrant(const SessionView& session, const ParticipantView& participant) {
    const std::string url = context_.signalingUrl();
    if (url.empty()) throw ProviderUnavailable("the daemon offers no signaling");
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(context_.now().time_since_epoch()).count();
    JoinGrant grant;
    grant.room = session.roomName;
    grant.token = context_.mintSignalingToken(session, participant, now + tokenTtlSeconds_);
    // The daemon may shorten the lifetime (signaling.token_ttl_seconds): report the token's own.
    try {
        grant.expiresAt = Poco::JWT::Token(grant.token).getExpiration().epochTime();
    } catch (const Poco::Exception&) {
        grant.expiresAt = now + tokenTtlSeconds_;
    }
    grant.joinUrl = url;
    grant.iceServers = context_.iceServersFor(session.id, participant.id);
    grant.client["signaling_url"] = url;
    grant.client["ice_transport_policy"] = iceTransportPolicy_;
    grant.client["session_id"] = session.id;
    grant.client["mode"] = modeName(session.mode);
    return grant;
}

Health WebrtcProvider::health() const {
    Health health;
    if (context_.signalingUrl().empty()) {
        health.state = Health::State::Unavailable;
        health.detail = "the daemon offers no signaling";
    }
    return health;
}

std::vector<SettingSpec> WebrtcProviderFactory::settings() const {
    SettingSpec ttl;
    ttl.name = "token_ttl_seconds";
    ttl.type = SettingType::Int;
    ttl.defaultValue = "600";
    ttl.min = 30;
    ttl.max = 86400;
    ttl.description = "Lifetime of the signaling token in a grant (capped by signaling.token_ttl_seconds).";
    SettingSpec policy;
    policy.name = "ice_transport_policy";
    policy.type = SettingType::String;
    policy.defaultValue = "all";
    policy.allowed = {"all", "relay"};
    policy.description = "iceTransportPolicy for clients: all, or relay (TURN only).";
    return {ttl, policy};
}

std::unique_ptr<Provider> WebrtcProviderFactory::create(const ProviderContext& context) const {
    return std::make_unique<WebrtcProvider>(context);
}

}  // namespace consultd::webrtc
