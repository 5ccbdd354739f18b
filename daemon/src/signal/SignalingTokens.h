#pragma once
// Signaling tokens: short-lived HS256 JWTs that let one participant of one
// session into that session's signaling room.
//
// Claims: aud "consultd-signal", sid (session id), sub (participant id), role,
// iat, exp (Unix seconds), jti (random id). The key is 32 random bytes (hex)
// in signaling.key_file, created by the daemon with mode 0600 when absent.
// Neither the key nor a token is ever logged.
//
// Thread-safety: immutable after construction; mint() and verify() are
// thread-safe.

#include <cstdint>
#include <optional>
#include <string>

namespace consultd::signal {

/// What a valid signaling token says.
struct SignalingClaims {
    std::string sessionId;
    std::string participantId;
    std::string role;
    std::int64_t expiresAt = 0;  ///< Unix seconds
    std::string tokenId;         ///< jti
};

/// Why verify() refused a token.
enum class TokenProblem { None, Malformed, BadSignature, Expired };

class SignalingTokens {
public:
    /// Uses `key` (at least 32 bytes) as the HMAC key.
    explicit SignalingTokens(std::string key);

    /// Reads the key from `path`; when the file does not exist, writes 32
    /// fresh random bytes (hex) there with mode 0600 first. Throws
    /// std::runtime_error naming the file when it cannot be read or written,
    /// or holds fewer than 32 bytes.
    static SignalingTokens fromKeyFile(const std::string& path);

    /// A token for one participant, valid until `expiresAt` (Unix seconds).
    std::string mint(const std::string& sessionId, const std::string& participantId, const std::string& role,
                     std::int64_t expiresAt, std::int64_t issuedAt) const;

    /// Checks signature (constant time), algorithm, audience and expiry
    /// against `now` (Unix seconds). `problem` says why it was refused.
    std::optional<SignalingClaims> verify(const std::string& token, std::int64_t now, TokenProblem& problem) const;

private:
    std::string signature(const std::string& signingInput) const;
    std::string key_;
};

}  // namespace consultd::signal
