#pragma once
// An IPv4/IPv6 address and port in a sockaddr_storage, cheap to copy, hash
// and compare: the relay keys allocations and permissions by it.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace consultd::turn {

class SocketAddress {
public:
    SocketAddress() noexcept { std::memset(&storage_, 0, sizeof storage_); }
    /// Parses a numeric IPv4 or IPv6 address (no host names: the relay never resolves).
    static std::optional<SocketAddress> parse(std::string_view ip, std::uint16_t port);
    /// From raw network-order bytes (4 or 16).
    static SocketAddress fromBytes(int family, const std::uint8_t* ip, std::uint16_t port) noexcept;
    /// From a kernel-filled sockaddr; family other than INET/INET6 gives an empty address.
    static SocketAddress fromSockaddr(const sockaddr* sa, socklen_t len) noexcept;

    int family() const noexcept { return storage_.ss_family; }
    bool empty() const noexcept { return family() != AF_INET && family() != AF_INET6; }
    std::uint16_t port() const noexcept;
    void setPort(std::uint16_t port) noexcept;
    /// Network-order address bytes: 4 for IPv4, 16 for IPv6.
    const std::uint8_t* ipBytes() const noexcept;
    std::size_t ipLength() const noexcept { return family() == AF_INET6 ? 16 : 4; }
    bool sameIp(const SocketAddress& other) const noexcept;
    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as plain IPv4; others unchanged.
    SocketAddress unmapped() const noexcept;

    const sockaddr* sockaddrPtr() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* sockaddrPtr() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t length() const noexcept {
        return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    }
    static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

    std::string ipString() const;
    std::string toString() const;  ///< "1.2.3.4:5" or "[::1]:5"

    bool operator==(const SocketAddress& other) const noexcept {
        return family() == other.family() && port() == other.port() && sameIp(other);
    }
    std::size_t hash() const noexcept;

private:
    sockaddr_storage storage_;
};

struct SocketAddressHash {
    std::size_t operator()(const SocketAddress& a) const noexcept { return a.hash(); }
};

}  // namespace consultd::turn
