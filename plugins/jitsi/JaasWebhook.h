#pragma once
/// JaaS webhooks (PROVIDERS.md section 2): the `X-Jaas-Signature` check and
/// the translation of the JSON envelope into consultd session events. Plain
/// code, unit-tested without the daemon.

#include "consultd/provider.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace consultd::jitsi {

/// The parts of an `X-Jaas-Signature` header.
struct JaasSignatureHeader {
    std::int64_t timestamp = 0;        ///< t, Unix seconds
    std::vector<std::string> v1;       ///< every v1 value (base64)
};

/// Parses "t=<unix seconds>,v1=<base64>[,v1=...]": elements split on ',',
/// each on its FIRST '=' (base64 holds '='); unknown keys are ignored.
/// Throws WebhookRejected when t or every v1 is missing or malformed.
JaasSignatureHeader parseJaasSignatureHeader(const std::string& header);

/// Standard padded base64 of HMAC-SHA256(secret, t + "." + body).
std::string jaasSignature(const std::string& secret, std::int64_t timestamp, const std::string& body);

/// Verifies signed JaaS webhooks and turns them into ProviderEvents.
/// Immutable: thread-safe.
class JaasWebhookVerifier {
public:
    /// `appId` is the tenant's AppID (events of another tenant are refused);
    /// `tolerance` bounds |now - t|.
    JaasWebhookVerifier(std::string secret, std::string appId, std::chrono::seconds tolerance);

    /// Checks the signature header against `body` at time `now` (Unix
    /// seconds). Returns the v1 value that matched (the request's replay id).
    /// Throws WebhookRejected naming the problem (missing header, stale or
    /// future timestamp, no matching signature); the message never holds
    /// the secret or the expected signature.
    std::string verify(const std::string& signatureHeader, const std::string& body, std::int64_t now) const;

    /// Translates a verified body. Throws ProviderRejected for a body that is
    /// not a JaaS envelope (not JSON, wrong AppID). Event types without a
    /// meaning for consultd give no events.
    std::vector<ProviderEvent> translate(const std::string& body) const;

    std::chrono::seconds tolerance() const noexcept { return tolerance_; }

private:
    std::string secret_;
    std::string appId_;
    std::chrono::seconds tolerance_;
};

}  // namespace consultd::jitsi
