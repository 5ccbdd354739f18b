#pragma once
/// Join grants for self-hosted Jitsi Meet with prosody token authentication
/// (HS256 with the prosody `app_secret`), claims as in PROVIDERS.md section 1.

#include "consultd/provider.h"

#include <Poco/JWT/Signer.h>

#include <chrono>
#include <string>
#include <string_view>

namespace consultd::jitsi {

/// Settings of `providers.jitsi`, already read from the config.
struct JitsiConfig {
    std::string domain;     ///< public host name of the Jitsi Meet server, optionally host:port
    std::string appId;      ///< prosody `app_id`
    std::string appSecret;  ///< prosody `app_secret` (contents of the secret file)
    std::string issuer;     ///< `iss`; empty means appId
    std::string audience = "jitsi";  ///< `aud`, one string
    std::string tenant;     ///< optional tenant path segment (`https://domain/<tenant>/<room>`)
    std::chrono::seconds ttl{5400};
};

/// Builds HS256 join grants. Immutable after construction, so one instance
/// may be used from any number of threads at once.
class JitsiTokenBuilder {
public:
    /// Validates and normalises `config` (domain and tenant lower-cased).
    /// Throws consultd::SettingError naming the offending setting.
    explicit JitsiTokenBuilder(JitsiConfig config);

    /// A grant for `participant` in `session.roomName`, valid from `now` for
    /// the configured TTL: token, join URL, expiry and client settings (no ICE
    /// servers; the provider adds those). Throws consultd::ProviderRejected for
    /// an unsafe room name, an empty participant id or a role that may not join.
    JoinGrant buildGrant(const SessionView& session, const ParticipantView& participant,
                         std::chrono::system_clock::time_point now) const;

    /// The `sub` claim: the tenant when configured, else the domain's host name.
    const std::string& subject() const noexcept { return subject_; }
    /// The `iss` claim.
    const std::string& issuer() const noexcept { return config_.issuer; }
    /// The `aud` claim.
    const std::string& audience() const noexcept { return config_.audience; }
    /// The normalised domain (host or host:port).
    const std::string& domain() const noexcept { return config_.domain; }
    std::chrono::seconds ttl() const noexcept { return config_.ttl; }

private:
    std::string signToken(std::string_view room, const ParticipantView& participant,
                          std::int64_t now, std::int64_t& expiresAt) const;

    JitsiConfig config_;
    std::string subject_;
    /// Signer::sign() is const and builds its HMAC engine per call.
    Poco::JWT::Signer signer_;
};

}  // namespace consultd::jitsi
