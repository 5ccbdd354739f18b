#include "NonceService.h"

#include "TurnCrypto.h"

#include <charconv>
#include <cstdio>

namespace consultd::turn {

NonceService::NonceService(std::int64_t lifetimeSeconds) : lifetime_(lifetimeSeconds) {
    crypto::randomBytes(key_);
}

NonceService::NonceService(std::array<std::uint8_t, 32> key, std::int64_t lifetimeSeconds)
    : key_(key), lifetime_(lifetimeSeconds) {}

std::string NonceService::mac(std::string_view expiryHex, const SocketAddress& client) const {
    const auto digest = crypto::hmacSha256(
        key_, {crypto::bytesOf(expiryHex), std::span<const std::uint8_t>(client.ipBytes(), client.ipLength())});
    static const char hex[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 0; i < 8; ++i) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xF];
    }
    return out;
}

std::string NonceService::issue(const SocketAddress& client, std::int64_t nowUnix) const {
    char expiry[17];
    std::snprintf(expiry, sizeof expiry, "%016llx", static_cast<unsigned long long>(nowUnix + lifetime_));
    return std::string(expiry) + mac(expiry, client);
}

NonceService::Check NonceService::check(std::string_view nonce, const SocketAddress& client,
                                        std::int64_t nowUnix) const {
    if (nonce.size() != 32) return Check::Invalid;
    const std::string_view expiryHex = nonce.substr(0, 16);
    unsigned long long expiry = 0;
    const auto [end, ec] = std::from_chars(expiryHex.data(), expiryHex.data() + 16, expiry, 16);
    if (ec != std::errc{} || end != expiryHex.data() + 16) return Check::Invalid;
    const std::string expected = mac(expiryHex, client);
    if (!crypto::constantTimeEquals(crypto::bytesOf(expected), crypto::bytesOf(nonce.substr(16))))
        return Check::Invalid;
    return static_cast<std::int64_t>(expiry) < nowUnix ? Check::Stale : Check::Valid;
}

}  // namespace consultd::turn
