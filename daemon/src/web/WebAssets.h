#pragma once
// The web pages the appliance serves itself (admin console, join page, kiosk):
// safe file lookup under server.web_root, content types and the browser
// security headers every page and asset carries.
//
// Thread-safety: stateless functions; safe from any thread.

#include "http/Request.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace consultd::web {

/// A file read from the web root, with what the response needs.
struct Asset {
    std::string body;
    std::string contentType;
    std::string etag;  ///< strong validator: quoted hex of size and mtime
};

/// The file `relative` ("common/base.css") under `root`, or nullopt when the
/// path is not a plain relative path (empty, absolute, a "." or ".." segment,
/// a hidden segment, a backslash or NUL), is not a regular file, or escapes
/// `root` through a symlink. Larger than `maxBytes`: nullopt as well.
std::optional<Asset> readAsset(const std::filesystem::path& root, const std::string& relative,
                               std::size_t maxBytes = 8u << 20);

/// Content type by file extension ("application/octet-stream" when unknown).
std::string contentTypeFor(const std::string& fileName);

/// Content-Security-Policy for a page. `connectSources` and `extraScriptSources`
/// / `extraFrameSources` add origins (a provider's external_api.js, the
/// signaling WebSocket) to the strict default: scripts and styles only from
/// 'self' (no inline code), no plugins, no framing by other sites.
std::string contentSecurityPolicy(const std::vector<std::string>& connectSources = {},
                                  const std::vector<std::string>& extraScriptSources = {},
                                  const std::vector<std::string>& extraFrameSources = {});

/// Adds the headers of a browser-facing response: CSP, Permissions-Policy
/// (camera, microphone and screen capture for this origin only), frame
/// denial, and the cache policy (`cacheControl`). nosniff, Referrer-Policy and
/// HSTS under TLS are added to every response by the HTTP service.
void addPageHeaders(http::Response& response, const std::string& csp, const std::string& cacheControl);

}  // namespace consultd::web
