#include "SocketAddress.h"

#include <arpa/inet.h>

namespace consultd::turn {

std::optional<SocketAddress> SocketAddress::parse(std::string_view ip, std::uint16_t port) {
    const std::string text(ip);
    std::uint8_t buf[16];
    if (inet_pton(AF_INET, text.c_str(), buf) == 1) return fromBytes(AF_INET, buf, port);
    if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return fromBytes(AF_INET6, buf, port);
    return std::nullopt;
}

SocketAddress SocketAddress::fromBytes(int family, const std::uint8_t* ip, std::uint16_t port) noexcept {
    SocketAddress a;
    if (family == AF_INET) {
        auto* s = reinterpret_cast<sockaddr_in*>(&a.storage_);
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        std::memcpy(&s->sin_addr, ip, 4);
    } else if (family == AF_INET6) {
        auto* s = reinterpret_cast<sockaddr_in6*>(&a.storage_);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        std::memcpy(&s->sin6_addr, ip, 16);
    }
    return a;
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* sa, socklen_t len) noexcept {
    SocketAddress a;
    if (sa && sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in)))
        std::memcpy(&a.storage_, sa, sizeof(sockaddr_in));
    else if (sa && sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6)))
        std::memcpy(&a.storage_, sa, sizeof(sockaddr_in6));
    return a;
}

std::uint16_t SocketAddress::port() const noexcept {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
}

void SocketAddress::setPort(std::uint16_t port) noexcept {
    if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
    else if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

const std::uint8_t* SocketAddress::ipBytes() const noexcept {
    if (family() == AF_INET6)
        return reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr);
    return reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr);
}

bool SocketAddress::sameIp(const SocketAddress& other) const noexcept {
    return family() == other.family() && std::memcmp(ipBytes(), other.ipBytes(), ipLength()) == 0;
}

SocketAddress SocketAddress::unmapped() const noexcept {
    if (family() != AF_INET6) return *this;
    const std::uint8_t* b = ipBytes();
    static const std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, prefix, 12) != 0) return *this;
    return fromBytes(AF_INET, b + 12, port());
}

std::string SocketAddress::ipString() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (empty() || !inet_ntop(family(), ipBytes(), buf, sizeof buf)) return "?";
    return buf;
}

std::string SocketAddress::toString() const {
    if (family() == AF_INET6) return "[" + ipString() + "]:" + std::to_string(port());
    return ipString() + ":" + std::to_string(port());
}

std::size_t SocketAddress::hash() const noexcept {
    // FNV-1a over ip and port: allocation lookup per packet must not allocate.
    std::uint64_t h = 1469598103934665603ull;
    const std::uint8_t* b = ipBytes();
    for (std::size_t i = 0; i < ipLength(); ++i) h = (h ^ b[i]) * 1099511628211ull;
    const std::uint16_t p = port();
    h = (h ^ (p & 0xff)) * 1099511628211ull;
    h = (h ^ (p >> 8)) * 1099511628211ull;
    return static_cast<std::size_t>(h);
}

}  // namespace consultd::turn
