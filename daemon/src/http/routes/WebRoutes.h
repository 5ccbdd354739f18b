#pragma once
// Routes of the browser pages (not part of REST API v1, so not in
// docs/openapi.yaml): the admin console, the join page, the kiosk and their
// static assets, all from server.web_root.

#include "http/routes/Routes.h"

#include <functional>
#include <string>
#include <vector>

namespace consultd::http::routes {

/// Origins a page adds to its Content-Security-Policy.
struct PageCsp {
    std::vector<std::string> connect;
    std::vector<std::string> script;
    std::vector<std::string> frame;
};
/// Computes a page's extra CSP origins from the live config (for example a
/// Jitsi domain for the join page). Empty function: the strict default.
using CspSources = std::function<PageCsp(const config::Config&)>;

std::unique_ptr<Route> makeStaticAsset(ApiServices& services);
/// A page that serves `file` (relative to server.web_root).
std::unique_ptr<Route> makeWebPage(ApiServices& services, std::string file, CspSources csp = {});

/// The join page's extra CSP origins: the signaling WebSocket of
/// server.public_url, and the script/frame/connect origins of the enabled
/// Jitsi, JaaS and Vonage providers (routes/PageCsp.cpp).
PageCsp joinPageCsp(const config::Config& config);
/// The kiosk's extra CSP origins: the signaling WebSocket.
PageCsp kioskPageCsp(const config::Config& config);

/// /static/{*path}, /admin, /admin/{*path}, /join/{invite}, /kiosk.
void registerWebRoutes(Router& router, ApiServices& services);

}  // namespace consultd::http::routes
