#pragma once
// A validated, immutable configuration snapshot.
//
// Thread-safety: a Config is never modified after ConfigLoader has finished
// with it; share it as std::shared_ptr<const Config> and read it from any
// thread. A reload builds a new snapshot and swaps the pointer.

#include "consultd/provider.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace consultd::config {

struct Location {
    std::string file;
    int line = 0;
};

/// One config problem: printed as "file:line: setting: problem".
struct Diagnostic {
    Location where;
    std::string setting;
    std::string problem;
    std::string format() const;
};

using Scalar = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>>;

struct Value {
    Scalar value;
    Location where;
    bool isDefault = false;
    bool isList = false;         ///< raw value was an array/list
    bool listHadNonString = false;
};

class Config {
public:
    bool getBool(const std::string& path) const;
    std::int64_t getInt(const std::string& path) const;
    std::string getString(const std::string& path) const;
    std::vector<std::string> getStringList(const std::string& path) const;
    /// For *_file / *_dir / secret settings: the value resolved against the
    /// folder of the file that set it ("" when unset).
    std::string getPath(const std::string& path) const;
    /// Contents of the secret file named by `path`, trailing newlines stripped.
    /// Throws std::runtime_error naming the setting when unset or unreadable.
    std::string readSecret(const std::string& path) const;
    bool has(const std::string& path) const;
    Location locationOf(const std::string& path) const;

    /// Names of the sub-groups of `providers` found in the files.
    const std::vector<std::string>& providerGroups() const { return providerGroups_; }
    bool providerEnabled(const std::string& name) const;

    const std::string& mainFile() const { return mainFile_; }
    const std::vector<std::string>& files() const { return files_; }

    /// Every setting as "path = value" lines, secret files shown by path only.
    std::vector<std::pair<std::string, std::string>> describe() const;

    /// Whether `path` has the same value in both snapshots.
    bool sameValue(const Config& other, const std::string& path) const;
    std::vector<std::string> paths() const;
    /// Copies `path` from `other` (used on reload to keep values that need a
    /// restart). Only on a snapshot not yet shared with other threads.
    void keepValueFrom(const Config& other, const std::string& path);

private:
    friend class ConfigLoader;
    const Value& value(const std::string& path) const;

    std::map<std::string, Value> values_;
    std::vector<std::string> providerGroups_;
    std::map<std::string, Location> groupLocations_;
    std::string mainFile_;
    std::vector<std::string> files_;
};

/// Reads consultd.conf plus conf.d/*.conf (name order, later wins) and
/// validates them against the schema. Stateless.
class ConfigLoader {
public:
    struct Result {
        std::shared_ptr<Config> config;  ///< null when a file could not be parsed
        std::vector<Diagnostic> errors;
        std::vector<Diagnostic> warnings;
        bool ok() const { return config && errors.empty(); }
    };

    /// Phase 1: parse every file and validate the core groups. Provider
    /// groups are kept raw until validateProviders().
    static Result load(const std::string& mainFile);

    /// Phase 2: validate each `providers.<name>` group against the settings
    /// its plugin declares; a group without a plugin is an error when enabled.
    static void validateProviders(Result& result,
                                  const std::map<std::string, std::vector<SettingSpec>>& providerSchemas,
                                  const std::string& pluginDir);
};

}  // namespace consultd::config
