#pragma once
/// Vonage signed callbacks (PROVIDERS.md section 3): the HS256 JWT in
/// `Authorization: Bearer`, keyed with the callback signature secret, whose
/// `payload_hash` binds it to the body; and the translation of session
/// monitoring and archive callbacks into consultd session events. Plain code,
/// unit-tested without the daemon.

#include "consultd/provider.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace consultd::vonage {

/// What a verified callback signature says.
struct VonageCallbackClaims {
    std::string jti;       ///< the request's replay id
    std::int64_t iat = 0;  ///< Unix seconds
};

/// Verifies signed Vonage callbacks and translates them.
/// Immutable: thread-safe.
class VonageWebhookVerifier {
public:
    /// `applicationId` must match the token's `application_id`; `maxAge`
    /// bounds |now - iat|.
    VonageWebhookVerifier(std::string secret, std::string applicationId, std::chrono::seconds maxAge);

    /// Checks the `Authorization` header value against `body` at `now` (Unix
    /// seconds): header {alg HS256}, HMAC-SHA256 signature (constant-time),
    /// iss "Vonage", application_id, payload_hash = hex SHA-256 of the body,
    /// iat within maxAge, exp (when present) not passed, jti present.
    /// Throws WebhookRejected naming the problem (never the secret).
    VonageCallbackClaims verify(const std::string& authorization, const std::string& body, std::int64_t now) const;

    /// Translates a verified body (connectionCreated/Destroyed,
    /// streamCreated/Destroyed, sessionCreated/Destroyed, archive status).
    /// Throws ProviderRejected for a body that is not a JSON object; unknown
    /// events give no events.
    std::vector<ProviderEvent> translate(const std::string& body) const;

    std::chrono::seconds maxAge() const noexcept { return maxAge_; }

private:
    std::string secret_;
    std::string applicationId_;
    std::chrono::seconds maxAge_;
};

/// Builds a callback token the way Vonage signs one (for tests and tools):
/// HS256 over {iat, jti, iss "Vonage", payload_hash, application_id, api_key}.
std::string signVonageCallback(const std::string& secret, const std::string& applicationId, const std::string& body,
                               std::int64_t iat, const std::string& jti);

}  // namespace consultd::vonage
