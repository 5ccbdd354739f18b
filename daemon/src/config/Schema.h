#pragma once
// The one place where consultd's own settings are declared: name, type,
// default, range, whether SIGHUP may change it, and a description. This table
// drives validation, the check of etc/consultd.conf (tests/daemon/config) and
// docs/config.md (`consultd --print-schema`). Provider groups are declared by
// their plugins (ProviderFactory::settings()).

#include "consultd/provider.h"

#include <string>
#include <vector>

namespace consultd::config {

using consultd::SettingSpec;
using consultd::SettingType;

struct GroupSpec {
    std::string path;         ///< e.g. "server"
    std::string description;  ///< one line
    std::vector<SettingSpec> settings;
};

/// Every core group, in documentation order.
const std::vector<GroupSpec>& coreSchema();

/// Settings every provider group has besides the plugin's own.
const std::vector<SettingSpec>& commonProviderSettings();

/// Name of a setting type as shown in messages and docs.
const char* typeName(SettingType type);

}  // namespace consultd::config
