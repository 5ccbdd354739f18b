#include "http/routes/WebRoutes.h"

namespace consultd::http::routes {
namespace {

/// ws(s)://host[:port] of server.public_url (the signaling WebSocket), or ""
/// when unset: the pages are then reached at the listener's own origin, which
/// 'self' covers for ws: too (CSP 3).
std::string signalingOrigin(const config::Config& config) {
    std::string url = config.getString("server.public_url");
    if (url.rfind("https://", 0) == 0) {
        url = "wss://" + url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
        url = "ws://" + url.substr(7);
    } else {
        return "";
    }
    const auto slash = url.find('/', url.find("//") + 2);
    return slash == std::string::npos ? url : url.substr(0, slash);
}

bool enabled(const config::Config& config, const std::string& provider) {
    return config.has("providers." + provider + ".enabled") && config.getBool("providers." + provider + ".enabled");
}

/// "https://" + a configured host name, or "" when it is not a plain host[:port]
/// (a CSP source list must not be broken by a stray space or semicolon).
std::string httpsOrigin(const std::string& host) {
    if (host.empty()) return "";
    for (char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '-' || c == ':';
        if (!ok) return "";
    }
    return "https://" + host;
}

}  // namespace

PageCsp joinPageCsp(const config::Config& config) {
    PageCsp csp;
    if (const auto ws = signalingOrigin(config); !ws.empty()) csp.connect.push_back(ws);
    // Jitsi / JaaS: the page loads the provider's external_api.js, which frames the meeting.
    if (enabled(config, "jitsi") && config.has("providers.jitsi.domain")) {
        if (const auto origin = httpsOrigin(config.getString("providers.jitsi.domain")); !origin.empty()) {
            csp.script.push_back(origin);
            csp.frame.push_back(origin);
        }
    }
    if (enabled(config, "jaas")) {
        csp.script.push_back("https://8x8.vc");
        csp.frame.push_back("https://8x8.vc");
    }
    // Vonage Video: the OpenTok browser client and the hosts it talks to.
    if (enabled(config, "vonage")) {
        csp.script.push_back("https://static.opentok.com");
        csp.connect.insert(csp.connect.end(), {"https://*.opentok.com", "wss://*.opentok.com", "https://*.vonage.com",
                                               "wss://*.vonage.com", "https://*.tokbox.com", "wss://*.tokbox.com"});
        if (config.has("providers.vonage.api_base_url")) {
            const std::string base = config.getString("providers.vonage.api_base_url");
            const auto host = base.rfind("https://", 0) == 0 ? base.substr(8, base.find('/', 8) - 8) : std::string();
            if (const auto origin = httpsOrigin(host); !origin.empty()) csp.connect.push_back(origin);
        }
    }
    return csp;
}

PageCsp kioskPageCsp(const config::Config& config) {
    PageCsp csp;
    if (const auto ws = signalingOrigin(config); !ws.empty()) csp.connect.push_back(ws);
    return csp;
}

}  // namespace consultd::http::routes
