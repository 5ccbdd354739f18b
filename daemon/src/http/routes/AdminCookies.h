#pragma once
// Helpers shared by the admin console's routes (cookies, Secure flag, origin).

#include "config/Config.h"
#include "http/Request.h"

#include <string>

namespace consultd::http::routes {

/// Whether the browser reaches us over HTTPS (our own TLS, or a TLS proxy
/// named by server.public_url): cookies then carry the Secure flag.
bool adminCookiesSecure(const config::Config& config);
/// The value of cookie `name` in the request ("" when absent).
std::string requestCookie(Request& request, const std::string& name);
/// Whether an Origin header, when present, names the host the request was sent to.
bool originMatchesHost(Request& request);

}  // namespace consultd::http::routes
