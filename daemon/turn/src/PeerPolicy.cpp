#include "PeerPolicy.h"

#include <charconv>
#include <stdexcept>

namespace consultd::turn {

bool CidrRange::contains(const SocketAddress& address) const noexcept {
    if (address.family() != network.family()) return false;
    const std::uint8_t* a = address.ipBytes();
    const std::uint8_t* n = network.ipBytes();
    int bits = prefixLength;
    for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
        const std::uint8_t mask = bits >= 8 ? 0xFF : static_cast<std::uint8_t>(0xFF << (8 - bits));
        if ((a[i] & mask) != (n[i] & mask)) return false;
    }
    return true;
}

CidrRange CidrRange::parse(const std::string& text) {
    const auto slash = text.find('/');
    const auto address = SocketAddress::parse(text.substr(0, slash), 0);
    if (!address) throw std::invalid_argument("not an IP range: '" + text + "'");
    CidrRange range{*address, static_cast<int>(address->ipLength() * 8)};
    if (slash != std::string::npos) {
        const std::string bits = text.substr(slash + 1);
        int value = -1;
        const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), value);
        if (ec != std::errc{} || end != bits.data() + bits.size() || value < 0 || value > range.prefixLength)
            throw std::invalid_argument("bad prefix length in IP range '" + text + "'");
        range.prefixLength = value;
    }
    return range;
}

PeerPolicy::PeerPolicy(std::vector<SocketAddress> ownAddresses, const std::vector<std::string>& allowedPrivate,
                       bool allowLoopback)
    : own_(std::move(ownAddresses)), allowLoopback_(allowLoopback) {
    for (const auto& text : allowedPrivate) allowed_.push_back(CidrRange::parse(text));
    for (const char* text : {"127.0.0.0/8", "::1/128"}) loopback_.push_back(CidrRange::parse(text));
    // Never relayed, whatever allowed_peer_ranges says.
    for (const char* text : {"0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128",
                             "fe80::/10", "ff00::/8", "::ffff:0:0/96", "64:ff9b::/96", "2002::/16"})
        special_.push_back(CidrRange::parse(text));
    // Private and shared address space: a hospital LAN opts in per range.
    for (const char* text : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24",
                             "198.18.0.0/15", "fc00::/7"})
        private_.push_back(CidrRange::parse(text));
}

PeerVerdict PeerPolicy::check(const SocketAddress& peerIn) const noexcept {
    // Judge ::ffff:a.b.c.d as the IPv4 address it reaches.
    const SocketAddress peer = peerIn.unmapped();
    if (peer.empty()) return PeerVerdict::DeniedSpecial;
    for (const auto& r : loopback_)
        if (r.contains(peer)) return allowLoopback_ ? PeerVerdict::Allowed : PeerVerdict::DeniedSpecial;
    for (const auto& r : special_)
        if (r.contains(peer)) return PeerVerdict::DeniedSpecial;
    for (const auto& own : own_)
        if (own.unmapped().sameIp(peer)) return PeerVerdict::DeniedOwn;
    for (const auto& r : private_) {
        if (!r.contains(peer)) continue;
        for (const auto& a : allowed_)
            if (a.contains(peer)) return PeerVerdict::Allowed;
        return PeerVerdict::DeniedPrivate;
    }
    return PeerVerdict::Allowed;
}

}  // namespace consultd::turn
