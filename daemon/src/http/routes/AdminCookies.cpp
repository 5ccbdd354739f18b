#include "http/routes/AdminCookies.h"

#include <Poco/Net/NameValueCollection.h>

#include <algorithm>

namespace consultd::http::routes {

bool adminCookiesSecure(const config::Config& config) {
    return config.getBool("server.tls") || config.getString("server.public_url").rfind("https://", 0) == 0;
}

std::string requestCookie(Request& request, const std::string& name) {
    Poco::Net::NameValueCollection cookies;
    request.raw().getCookies(cookies);
    return cookies.get(name, "");
}

bool originMatchesHost(Request& request) {
    const std::string origin = request.raw().get("Origin", "");
    if (origin.empty()) return true;
    const std::string host = request.raw().getHost();
    const auto scheme = origin.find("://");
    if (scheme == std::string::npos || host.empty()) return false;
    const std::string authority = origin.substr(scheme + 3);
    return authority.size() == host.size() &&
           std::equal(authority.begin(), authority.end(), host.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
}

}  // namespace consultd::http::routes
