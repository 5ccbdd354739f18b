#pragma once
// Builds the ICE server list handed to clients: STUN URLs plus TURN URLs with
// coturn-compatible time-limited credentials (use-auth-secret / REST API
// scheme): username "<expiry unix>:<id>", password base64(HMAC-SHA1(secret,
// username)). Works for the embedded relay and for an external coturn that
// shares the secret.
// Thread-safety: immutable after construction; thread-safe.

#include "config/Config.h"
#include "consultd/provider.h"

#include <string>
#include <vector>

namespace consultd::core {

class IceServerMinter {
public:
    /// `embeddedUrls`: turn:/turns: URLs of the embedded relay (empty unless turn.mode = "embedded").
    IceServerMinter(const config::Config& config, std::vector<std::string> embeddedUrls);

    std::vector<IceServer> mint(const std::string& sessionId, const std::string& participantId) const;

private:
    std::string mode_;
    std::string secret_;
    std::int64_t ttlSeconds_ = 3600;
    std::vector<std::string> turnUrls_;
    std::vector<std::string> stunUrls_;
};

}  // namespace consultd::core
