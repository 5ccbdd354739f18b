#pragma once
/// Validation of the text settings both flavours share. Each check throws
/// consultd::SettingError naming `setting`, with a message that says what is
/// expected but never repeats a secret.

#include <string>
#include <string_view>

namespace consultd::jitsi {

/// ASCII lower-case copy.
std::string toLowerAscii(std::string_view text);

/// A JWT string claim value taken from config (app id, issuer, audience, key
/// id): 1..128 printable ASCII characters without spaces, '/' or quotes, so
/// it cannot smuggle a path into `kid` or a URL.
void requirePlainToken(const char* setting, std::string_view value);

/// A DNS host name with an optional `:port`, lower-case, as it appears in
/// `https://<domain>/`. Rejects URLs ("https://...") with a hint.
void requireHostAndPort(const char* setting, std::string_view value);

/// The host part of a `host[:port]` value.
std::string_view hostPart(std::string_view hostAndPort) noexcept;

}  // namespace consultd::jitsi
