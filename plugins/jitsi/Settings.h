#pragma once
/// Names and limits of the settings in `providers.jitsi` and `providers.jaas`,
/// shared by the factories that declare them and the builders that report
/// errors against them, so a SettingError always names a setting the admin
/// can find.

#include "consultd/provider.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace consultd::jitsi::setting {

// providers.jitsi (self-hosted Jitsi Meet)
inline constexpr const char* kDomain = "domain";
inline constexpr const char* kAppId = "app_id";
inline constexpr const char* kAppSecretFile = "app_secret_file";
inline constexpr const char* kIssuer = "issuer";
inline constexpr const char* kAudience = "audience";
inline constexpr const char* kTenant = "tenant";

// providers.jaas (8x8 JaaS); app_id is shared with the list above.
inline constexpr const char* kApiKeyId = "api_key_id";
inline constexpr const char* kPrivateKeyFile = "private_key_file";

// providers.jaas webhooks
inline constexpr const char* kWebhookSecretFile = "webhook_secret_file";
inline constexpr const char* kWebhookToleranceSeconds = "webhook_tolerance_seconds";
/// PROVIDERS.md: reject a signature whose t is more than this from now.
inline constexpr std::int64_t kDefaultWebhookToleranceSeconds = 300;

// both
inline constexpr const char* kTokenTtlSeconds = "token_ttl_seconds";

/// Token lifetime bounds: at least a minute so a slow page load still joins,
/// at most a day so a leaked link does not stay valid for long.
inline constexpr std::int64_t kMinTokenTtlSeconds = 60;
inline constexpr std::int64_t kMaxTokenTtlSeconds = 86400;
/// 90 minutes: a consultation slot plus its join window.
inline constexpr std::int64_t kDefaultTokenTtlSeconds = 5400;

/// Throws SettingError(token_ttl_seconds) outside the bounds. The daemon
/// validates the declared range too; this keeps the builders safe on their own.
inline void requireTokenTtl(std::chrono::seconds ttl) {
    if (ttl.count() < kMinTokenTtlSeconds || ttl.count() > kMaxTokenTtlSeconds) {
        throw SettingError(kTokenTtlSeconds, "must be between " +
                                                 std::to_string(kMinTokenTtlSeconds) + " and " +
                                                 std::to_string(kMaxTokenTtlSeconds) + " seconds");
    }
}

/// A setting the admin must set.
inline SettingSpec requiredSetting(std::string name, SettingType type, std::string description) {
    SettingSpec spec;
    spec.name = std::move(name);
    spec.type = type;
    spec.required = true;
    spec.description = std::move(description);
    return spec;
}

/// A setting with a default ("" = unset).
inline SettingSpec optionalSetting(std::string name, SettingType type, std::string defaultValue,
                                   std::string description) {
    SettingSpec spec;
    spec.name = std::move(name);
    spec.type = type;
    spec.defaultValue = std::move(defaultValue);
    spec.description = std::move(description);
    return spec;
}

/// `token_ttl_seconds`, identical for both flavours.
inline SettingSpec tokenTtlSetting() {
    SettingSpec spec = optionalSetting(kTokenTtlSeconds, SettingType::Int,
                                       std::to_string(kDefaultTokenTtlSeconds),
                                       "lifetime of a join token in seconds (exp = now + ttl)");
    spec.min = kMinTokenTtlSeconds;
    spec.max = kMaxTokenTtlSeconds;
    return spec;
}

}  // namespace consultd::jitsi::setting
