#pragma once
/// A ProviderSettings backed by a plain name -> value map, validated against
/// a factory's SettingSpecs the way the daemon validates a config group
/// (unknown names, missing required values, bad integers and out-of-range
/// values are SettingErrors). Used by the unit tests and jitsi_grant_tool,
/// which must not depend on the daemon's config code.

#include "consultd/provider.h"

#include <map>
#include <string>
#include <vector>

namespace consultd::testing {

/// Immutable after construction; safe to read from several threads.
class KeyValueSettings final : public ProviderSettings {
public:
    /// Throws SettingError naming the first invalid setting.
    KeyValueSettings(std::vector<SettingSpec> specs, std::map<std::string, std::string> values);

    bool getBool(const std::string& name) const override;
    std::int64_t getInt(const std::string& name) const override;
    std::string getString(const std::string& name) const override;
    std::vector<std::string> getStringList(const std::string& name) const override;
    std::string readSecret(const std::string& name) const override;
    std::string secretPath(const std::string& name) const override;

private:
    const SettingSpec& spec(const std::string& name, SettingType type) const;
    std::string value(const SettingSpec& spec) const;

    std::vector<SettingSpec> specs_;
    std::map<std::string, std::string> values_;
};

}  // namespace consultd::testing
