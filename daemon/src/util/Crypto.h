#pragma once
// Small, audited wrappers over OpenSSL for ids, secrets and comparisons.
// Thread-safe (OpenSSL 3 RNG and digests are).

#include <cstdint>
#include <string>
#include <string_view>

namespace consultd::util {

/// `bytes` bytes from the OpenSSL CSPRNG; throws std::runtime_error on failure.
std::string randomBytes(std::size_t bytes);
/// Lower-case base32 (RFC 4648 alphabet, no padding) of `bytes` random bytes: [a-z2-7].
std::string randomBase32(std::size_t bytes);
/// base64url without padding.
std::string base64UrlEncode(std::string_view data);
std::string hexEncode(std::string_view data);
/// Lower-case hex SHA-256.
std::string sha256Hex(std::string_view data);
/// Constant-time equality (length leaks, content does not).
bool constantTimeEquals(std::string_view a, std::string_view b) noexcept;

}  // namespace consultd::util
