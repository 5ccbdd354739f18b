#pragma once
// The few primitives STUN needs, over OpenSSL one-shot calls. Used on the
// request path only (never per relayed packet). Thread-safe.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace consultd::turn::crypto {

using Sha1Digest = std::array<std::uint8_t, 20>;
using Sha256Digest = std::array<std::uint8_t, 32>;
using Md5Digest = std::array<std::uint8_t, 16>;

/// HMAC over the concatenation of `parts` (so callers need not copy a
/// message to patch its length field).
Sha1Digest hmacSha1(std::span<const std::uint8_t> key,
                    std::initializer_list<std::span<const std::uint8_t>> parts);
Sha256Digest hmacSha256(std::span<const std::uint8_t> key,
                        std::initializer_list<std::span<const std::uint8_t>> parts);
Md5Digest md5(std::string_view data);
/// CRC-32 (ISO-HDLC, the one RFC 8489 FINGERPRINT uses), over several parts.
std::uint32_t crc32(std::initializer_list<std::span<const std::uint8_t>> parts);
std::string base64Encode(std::span<const std::uint8_t> data);
/// Constant-time for equal lengths; length itself is not secret here.
bool constantTimeEquals(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;
/// From the OpenSSL CSPRNG; throws std::runtime_error on failure.
void randomBytes(std::span<std::uint8_t> out);

inline std::span<const std::uint8_t> bytesOf(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace consultd::turn::crypto
