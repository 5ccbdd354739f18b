#pragma once
// Time-limited TURN credentials in the scheme coturn calls `use-auth-secret`
// (the "TURN REST API" draft): the daemon mints them, the embedded relay and
// any external coturn configured with the same secret both accept them.
// Thread-safe: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace consultd::turn {

/// Username `<expiryUnix>:<id>`. `id` names who the credential was issued to
/// (a session or participant id, never patient data) and must not contain ':'
/// (it is replaced by '_' so the expiry stays parseable); it may be empty, in
/// which case the username is just `<expiryUnix>`, as coturn also accepts.
std::string mintUsername(std::int64_t expiryUnix, const std::string& id);

/// The password for `username`: base64(HMAC-SHA1(secret, username)).
std::string passwordFor(const std::string& secret, const std::string& username);

/// The expiry encoded in a `use-auth-secret` username (the digits before the
/// first ':'), or nullopt when the username has no such timestamp.
std::optional<std::int64_t> usernameExpiry(std::string_view username);

/// The part after the first ':' (the id the credential was minted for), or
/// the whole username when it has no ':'. Quotas per user count by this.
std::string_view usernameId(std::string_view username);

}  // namespace consultd::turn
