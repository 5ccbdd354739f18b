#pragma once
/// Join grants for JaaS (8x8 Jitsi as a Service): RS256 with the tenant's
/// private key and `kid` = `<AppID>/<key id>`, claims as in PROVIDERS.md section 2.

#include "consultd/provider.h"

#include <Poco/JWT/Signer.h>

#include <chrono>
#include <string>
#include <string_view>

namespace consultd::jitsi {

/// The JaaS meeting domain; rooms live under `https://8x8.vc/<AppID>/`.
inline constexpr const char* kJaasDomain = "8x8.vc";

/// Settings of `providers.jaas`, already read from the config.
struct JaasConfig {
    std::string appId;          ///< `vpaas-magic-cookie-` + 32 lower-case hex digits
    std::string apiKeyId;       ///< the console's API key id (the part after `<AppID>/`)
    std::string privateKeyPem;  ///< RSA private key, PKCS#8 or traditional PEM, unencrypted
    std::chrono::seconds ttl{5400};
};

/// True for `vpaas-magic-cookie-` followed by exactly 32 lower-case hex digits.
bool isJaasAppId(std::string_view appId) noexcept;

/// Builds RS256 join grants. Immutable after construction, so one instance
/// may be used from any number of threads at once.
class JaasTokenBuilder {
public:
    /// Validates `config` and parses the key. Throws consultd::SettingError
    /// naming `app_id`, `api_key_id`, `private_key_file` or `token_ttl_seconds`.
    explicit JaasTokenBuilder(JaasConfig config);

    /// A grant for `participant` in `session.roomName`, valid from `now` for
    /// the configured TTL (no ICE servers; the provider adds those). Throws
    /// consultd::ProviderRejected for an unsafe room name, an empty
    /// participant id or a role that may not join.
    JoinGrant buildGrant(const SessionView& session, const ParticipantView& participant,
                         std::chrono::system_clock::time_point now) const;

    /// The header `kid`: `<AppID>/<key id>`.
    const std::string& keyId() const noexcept { return kid_; }
    const std::string& appId() const noexcept { return config_.appId; }
    std::chrono::seconds ttl() const noexcept { return config_.ttl; }

private:
    std::string signToken(std::string_view room, const ParticipantView& participant,
                          std::int64_t now, std::int64_t& expiresAt) const;

    JaasConfig config_;
    std::string kid_;
    /// Holds the parsed key; Signer::sign() is const and builds its digest
    /// engine per call, and OpenSSL RSA signing with a shared key is thread-safe.
    Poco::JWT::Signer signer_;
};

}  // namespace consultd::jitsi
