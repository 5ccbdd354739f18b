#pragma once
// Which peer addresses an allocation may relay to (RFC 8656 21.1 asks for
// this: an open relay lets an outside client reach the appliance's own
// services and the hospital LAN). Immutable after construction, so it is
// shared by all workers without locking.

#include "SocketAddress.h"

#include <string>
#include <vector>

namespace consultd::turn {

struct CidrRange {
    SocketAddress network;  ///< port unused
    int prefixLength = 0;
    bool contains(const SocketAddress& address) const noexcept;
    /// "10.0.0.0/8", "fd00::/8", or a bare address (/32, /128). Throws
    /// std::invalid_argument naming the text when it does not parse.
    static CidrRange parse(const std::string& text);
};

enum class PeerVerdict {
    Allowed,
    DeniedSpecial,   ///< loopback, link-local, multicast, unspecified, reserved: never relayed
    DeniedOwn,       ///< one of the relay host's own addresses
    DeniedPrivate,   ///< private range not listed in allowed_peer_ranges
};

class PeerPolicy {
public:
    /// `ownAddresses`: the relay host's addresses (listen, relay, external,
    /// interface addresses); `allowedPrivate`: CIDR texts from config.
    PeerPolicy(std::vector<SocketAddress> ownAddresses, const std::vector<std::string>& allowedPrivate,
               bool allowLoopback);

    PeerVerdict check(const SocketAddress& peer) const noexcept;
    bool allowed(const SocketAddress& peer) const noexcept { return check(peer) == PeerVerdict::Allowed; }

private:
    std::vector<SocketAddress> own_;
    std::vector<CidrRange> allowed_;
    std::vector<CidrRange> special_;
    std::vector<CidrRange> private_;
    std::vector<CidrRange> loopback_;
    bool allowLoopback_;
};

}  // namespace consultd::turn
