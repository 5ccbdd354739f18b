#pragma once
/// RS256 JWTs for the Vonage Video API (application-id flavour, PROVIDERS.md
/// section 3): the short-lived application token that authenticates REST
/// calls, and the client token a participant's browser connects with.

#include "consultd/provider.h"

#include <Poco/JWT/Signer.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace consultd::vonage {

/// Lifetime of the REST application token. Each request gets a fresh one, so
/// five minutes only has to cover clock skew (the SDK default is 900 s).
inline constexpr std::int64_t kAppTokenTtlSeconds = 300;

/// Vonage's limit on a token's `connection_data`.
inline constexpr std::size_t kMaxConnectionDataChars = 1000;

/// Whole Unix seconds (truncated) of `time`.
std::int64_t unixSeconds(std::chrono::system_clock::time_point time) noexcept;

/// A random (version 4) UUID in canonical lower-case text form, for `jti`.
std::string newJti();

/// The Vonage token role of a consultd role: host -> "moderator" (may force
/// others to disconnect or unpublish and so end the call); patient, guest and
/// device -> "publisher". Throws ProviderRejected for Role::Recorder: Vonage
/// records through its archive API, not through a recording participant.
std::string vonageRoleFor(Role role);

/// `connection_data` for `participant`: the JSON object
/// {"participant_id": id, "name": name}. Vonage echoes it in its callbacks as
/// `connection.data`, which is how they are mapped back to participants. A
/// name that would push it over kMaxConnectionDataChars is shortened at a
/// UTF-8 character boundary (it is only a label); an id that alone does not
/// fit is refused with ProviderRejected (it would not identify the participant).
std::string connectionDataFor(const ParticipantView& participant);

/// What goes into one client token.
struct ClientTokenClaims {
    std::string sessionId;        ///< the Vonage session id (opaque)
    std::string role;             ///< publisher | subscriber | moderator | publisheronly
    std::string connectionData;   ///< at most kMaxConnectionDataChars characters
    std::string initialLayoutClassList;  ///< space-joined; may be empty
};

/// Signs both kinds of token with the application's RSA private key.
/// Immutable after construction: safe to use from any number of threads
/// (Signer::sign() is const and builds its digest engine per call).
class VonageSigner {
public:
    /// Parses `privateKeyPem` (unencrypted PKCS#8 or traditional RSA PEM, at
    /// least 2048 bits). Throws SettingError naming `application_id` or
    /// `private_key_file`; the messages never repeat key material.
    VonageSigner(std::string applicationId, const std::string& privateKeyPem);

    /// REST token: header {alg RS256, typ JWT}, claims application_id, iat =
    /// now, exp = now + kAppTokenTtlSeconds, jti (UUID v4).
    std::string appToken(std::int64_t now) const;

    /// Client token with the claim set of PROVIDERS.md section 3: scope,
    /// session_id, role, initial_layout_class_list, exp = now + ttl, sub
    /// "video", acl, connection_data, jti, iat, application_id (no nbf, no
    /// iss). Returns the token; `expiresAt` receives `exp`.
    std::string clientToken(const ClientTokenClaims& claims, std::int64_t now, std::chrono::seconds ttl,
                            std::int64_t& expiresAt) const;

    const std::string& applicationId() const noexcept { return applicationId_; }

private:
    std::string applicationId_;
    Poco::JWT::Signer signer_;
};

}  // namespace consultd::vonage
