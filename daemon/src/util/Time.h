#pragma once
// RFC 3339 UTC time formatting and parsing for the API (millisecond precision).

#include <cstdint>
#include <optional>
#include <string>

namespace consultd::util {

/// Current time in Unix milliseconds.
std::int64_t nowMillis();
/// "2026-11-23T14:05:09.123Z" (milliseconds shown only when non-zero).
std::string formatRfc3339(std::int64_t unixMillis);
/// Parses RFC 3339 with 'Z' or a numeric offset, optional fraction; nullopt when invalid.
std::optional<std::int64_t> parseRfc3339(const std::string& text);

}  // namespace consultd::util
