#include "core/IceServerMinter.h"

#include "util/Time.h"

#include <consultd/turn/Credentials.h>

namespace consultd::core {

IceServerMinter::IceServerMinter(const config::Config& config, std::vector<std::string> embeddedUrls)
    : mode_(config.getString("turn.mode")), ttlSeconds_(config.getInt("turn.credential_ttl_seconds")) {
    stunUrls_ = config.getStringList("turn.stun_servers");
    if (mode_ == "off") return;
    secret_ = config.readSecret("turn.secret_file");
    const auto urls = mode_ == "embedded" ? embeddedUrls : config.getStringList("turn.external_servers");
    for (const auto& url : urls) {
        if (url.rfind("stun:", 0) == 0) {
            stunUrls_.push_back(url);
        } else {
            turnUrls_.push_back(url);
        }
    }
}

std::vector<IceServer> IceServerMinter::mint(const std::string& sessionId, const std::string& participantId) const {
    std::vector<IceServer> servers;
    if (!stunUrls_.empty()) servers.push_back({stunUrls_, "", ""});
    if (!turnUrls_.empty()) {
        // Only the session id goes into the username: integrator participant
        // ids may be medical record numbers and must not travel to the relay logs.
        (void)participantId;
        const std::int64_t expiry = util::nowMillis() / 1000 + ttlSeconds_;
        const std::string username = turn::mintUsername(expiry, sessionId.empty() ? "consultd" : sessionId);
        servers.push_back({turnUrls_, username, turn::passwordFor(secret_, username)});
    }
    return servers;
}

}  // namespace consultd::core
