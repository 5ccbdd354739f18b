#pragma once
// Stateless NONCEs (RFC 8489 9.2): "<expiry hex><MAC hex>", the MAC keyed by
// a per-process random key over the expiry and the client's IP. The relay
// keeps no per-client state before a request authenticates, so a flood of
// unauthenticated requests costs no memory. Immutable after construction:
// thread-safe.

#include "SocketAddress.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace consultd::turn {

class NonceService {
public:
    enum class Check { Valid, Stale, Invalid };

    /// `lifetimeSeconds`: how long a nonce stays usable (then 438).
    explicit NonceService(std::int64_t lifetimeSeconds = 3600);
    /// Deterministic key, for tests.
    NonceService(std::array<std::uint8_t, 32> key, std::int64_t lifetimeSeconds);

    std::string issue(const SocketAddress& client, std::int64_t nowUnix) const;
    Check check(std::string_view nonce, const SocketAddress& client, std::int64_t nowUnix) const;

private:
    std::string mac(std::string_view expiryHex, const SocketAddress& client) const;

    std::array<std::uint8_t, 32> key_{};
    std::int64_t lifetime_;
};

}  // namespace consultd::turn
