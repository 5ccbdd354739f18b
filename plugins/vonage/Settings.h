#pragma once
/// Names, defaults and limits of the `providers.vonage` settings, shared by
/// the factory that declares them and the classes that report errors against
/// them, so a SettingError always names a setting the admin can find.

#include <cstdint>

namespace consultd::vonage::setting {

inline constexpr const char* kApiBaseUrl = "api_base_url";
inline constexpr const char* kApplicationId = "application_id";
inline constexpr const char* kPrivateKeyFile = "private_key_file";
inline constexpr const char* kCaFile = "ca_file";
inline constexpr const char* kRequestTimeoutMs = "request_timeout_ms";
inline constexpr const char* kTokenTtlSeconds = "token_ttl_seconds";
inline constexpr const char* kArchiveMode = "archive_mode";
inline constexpr const char* kMediaMode = "media_mode";

inline constexpr const char* kWebhookSecretFile = "webhook_secret_file";
inline constexpr const char* kWebhookMaxAgeSeconds = "webhook_max_age_seconds";
/// Callbacks older (or further in the future) than this are refused.
inline constexpr std::int64_t kDefaultWebhookMaxAgeSeconds = 300;

inline constexpr const char* kDefaultApiBaseUrl = "https://video.api.vonage.com";

/// Client tokens: Vonage's default is a day and its maximum 30 days
/// (PROVIDERS.md section 3); below a minute a slow page load could not join.
inline constexpr std::int64_t kMinTokenTtlSeconds = 60;
inline constexpr std::int64_t kMaxTokenTtlSeconds = 30LL * 24 * 3600;
inline constexpr std::int64_t kDefaultTokenTtlSeconds = 86400;

/// REST calls: long enough for a slow WAN link, short enough that an HTTP
/// worker of the daemon is not held for minutes by a hanging upstream.
inline constexpr std::int64_t kMinRequestTimeoutMs = 100;
inline constexpr std::int64_t kMaxRequestTimeoutMs = 60000;
inline constexpr std::int64_t kDefaultRequestTimeoutMs = 10000;

}  // namespace consultd::vonage::setting
