#include "consultd/turn/Credentials.h"

#include "TurnCrypto.h"

#include <charconv>

namespace consultd::turn {

std::string mintUsername(std::int64_t expiryUnix, const std::string& id) {
    std::string name = std::to_string(expiryUnix);
    if (id.empty()) return name;
    std::string safeId = id;
    for (char& c : safeId)
        if (c == ':') c = '_';  // a second ':' would make the id part ambiguous
    return name + ':' + safeId;
}

std::string passwordFor(const std::string& secret, const std::string& username) {
    const auto mac = crypto::hmacSha1(crypto::bytesOf(secret), {crypto::bytesOf(username)});
    return crypto::base64Encode(mac);
}

std::optional<std::int64_t> usernameExpiry(std::string_view username) {
    const auto colon = username.find(':');
    const std::string_view digits = username.substr(0, colon);
    if (digits.empty() || digits.size() > 18) return std::nullopt;
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size() || value < 0) return std::nullopt;
    return value;
}

std::string_view usernameId(std::string_view username) {
    const auto colon = username.find(':');
    return colon == std::string_view::npos ? username : username.substr(colon + 1);
}

}  // namespace consultd::turn
