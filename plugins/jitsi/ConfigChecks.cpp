#include "ConfigChecks.h"

#include "consultd/provider.h"

#include <algorithm>
#include <charconv>

namespace consultd::jitsi {

std::string toLowerAscii(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return lower;
}

void requirePlainToken(const char* setting, std::string_view value) {
    if (value.empty() || value.size() > 128) {
        throw SettingError(setting, "must be 1-128 characters");
    }
    const bool plain = std::all_of(value.begin(), value.end(), [](char c) {
        return c > ' ' && c < 0x7f && c != '/' && c != '"' && c != '\'' && c != '\\';
    });
    if (!plain) {
        throw SettingError(setting,
                           "must be printable ASCII without spaces, slashes, quotes or backslashes");
    }
}

std::string_view hostPart(std::string_view hostAndPort) noexcept {
    return hostAndPort.substr(0, hostAndPort.find(':'));
}

namespace {

bool isHostLabel(std::string_view label) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    return std::all_of(label.begin(), label.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

}  // namespace

void requireHostAndPort(const char* setting, std::string_view value) {
    if (value.find("://") != std::string_view::npos || value.find('/') != std::string_view::npos) {
        throw SettingError(setting, "must be a host name such as meet.example.org, not a URL");
    }
    const std::string_view host = hostPart(value);
    if (host.empty() || host.size() > 253) {
        throw SettingError(setting, "must be a host name such as meet.example.org");
    }
    std::string_view rest = host;
    while (true) {
        const auto dot = rest.find('.');
        if (!isHostLabel(rest.substr(0, dot))) {
            throw SettingError(setting,
                               "must be a DNS host name (labels of [a-z0-9-]), "
                               "optionally followed by :port");
        }
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    if (host.size() < value.size()) {
        const std::string_view port = value.substr(host.size() + 1);
        unsigned number = 0;
        const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
        if (port.empty() || error != std::errc() || end != port.data() + port.size() ||
            number == 0 || number > 65535) {
            throw SettingError(setting, "has an invalid port (expected host:1-65535)");
        }
    }
}

}  // namespace consultd::jitsi
