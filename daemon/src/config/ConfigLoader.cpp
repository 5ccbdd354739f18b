#include "config/Config.h"
#include "config/Schema.h"

#include <libconfig.h++>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace consultd::config {

std::string Diagnostic::format() const {
    std::ostringstream out;
    out << (where.file.empty() ? "<config>" : where.file);
    if (where.line > 0) out << ':' << where.line;
    out << ": ";
    if (!setting.empty()) out << setting << ": ";
    out << problem;
    return out.str();
}

namespace {

/// The group the packaged service runs as (consultd), so that root running
/// `consultctl check-config` judges a 0640 root:consultd secret as the
/// daemon will; -1 (no group matches) where there is no such group.
gid_t serviceGroup() {
    const group* g = ::getgrnam("consultd");
    return g != nullptr ? g->gr_gid : static_cast<gid_t>(-1);
}

/// Levenshtein distance, for "did you mean" hints on unknown settings.
std::size_t editDistance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

std::string describeScalar(const Scalar& s) {
    struct Visitor {
        std::string operator()(bool b) const { return b ? "true" : "false"; }
        std::string operator()(std::int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const { return std::to_string(d); }
        std::string operator()(const std::string& str) const { return "\"" + str + "\""; }
        std::string operator()(const std::vector<std::string>& list) const {
            std::string out = "[";
            for (std::size_t i = 0; i < list.size(); ++i) out += (i ? ", \"" : "\"") + list[i] + "\"";
            return out + "]";
        }
    };
    return std::visit(Visitor{}, s);
}

const char* rawKind(const Value& v) {
    if (v.isList) return "list";
    switch (v.value.index()) {
        case 0: return "boolean";
        case 1: return "integer";
        case 2: return "float";
        case 3: return "string";
        default: return "list";
    }
}

/// Converts the default text of a spec into a typed value.
Value defaultValue(const SettingSpec& spec) {
    Value v;
    v.isDefault = true;
    switch (spec.type) {
        case SettingType::Bool: v.value = spec.defaultValue == "true"; break;
        case SettingType::Int: v.value = spec.defaultValue.empty() ? std::int64_t{0} : std::stoll(spec.defaultValue); break;
        case SettingType::StringList: v.value = std::vector<std::string>{}; v.isList = true; break;
        case SettingType::String:
        case SettingType::SecretFile: v.value = spec.defaultValue; break;
    }
    return v;
}

class FileParser {
public:
    FileParser(std::map<std::string, Value>& values, std::map<std::string, Location>& groups,
               std::vector<std::string>& providerGroups, std::vector<Diagnostic>& errors)
        : values_(values), groups_(groups), providerGroups_(providerGroups), errors_(errors) {}

    void parse(const std::string& file) {
        libconfig::Config cfg;
        try {
            cfg.readFile(file.c_str());
        } catch (const libconfig::ParseException& e) {
            errors_.push_back({{e.getFile() ? e.getFile() : file, e.getLine()}, "", std::string("syntax error: ") + e.getError()});
            return;
        } catch (const libconfig::FileIOException&) {
            errors_.push_back({{file, 0}, "", "cannot read the file"});
            return;
        }
        const libconfig::Setting& root = cfg.getRoot();
        for (int i = 0; i < root.getLength(); ++i) walkTop(root[i], file);
    }

private:
    Location where(const libconfig::Setting& s, const std::string& file) const {
        const char* src = s.getSourceFile();
        return {src ? src : file, static_cast<int>(s.getSourceLine())};
    }

    void walkTop(const libconfig::Setting& s, const std::string& file) {
        const std::string name = s.getName() ? s.getName() : "";
        const auto& schema = coreSchema();
        const auto group = std::find_if(schema.begin(), schema.end(), [&](const GroupSpec& g) { return g.path == name; });
        if (group == schema.end()) {
            errors_.push_back({where(s, file), name, "unknown group (known: server, storage, security, sessions, providers, turn, logging)"});
            return;
        }
        if (!s.isGroup()) {
            errors_.push_back({where(s, file), name, "must be a group: " + name + " = { ... };"});
            return;
        }
        groups_[name] = where(s, file);
        for (int i = 0; i < s.getLength(); ++i) {
            const libconfig::Setting& child = s[i];
            const std::string childName = child.getName() ? child.getName() : "";
            if (name == "providers" && child.isGroup()) {
                walkProvider(child, file);
            } else if (child.isGroup()) {
                errors_.push_back({where(child, file), name + "." + childName, "unexpected group"});
            } else {
                record(name + "." + childName, child, file);
            }
        }
    }

    void walkProvider(const libconfig::Setting& s, const std::string& file) {
        const std::string provider = s.getName();
        const std::string prefix = "providers." + provider;
        groups_[prefix] = where(s, file);
        if (std::find(providerGroups_.begin(), providerGroups_.end(), provider) == providerGroups_.end()) {
            providerGroups_.push_back(provider);
        }
        for (int i = 0; i < s.getLength(); ++i) {
            const libconfig::Setting& child = s[i];
            const std::string path = prefix + "." + (child.getName() ? child.getName() : "");
            if (child.isGroup()) {
                errors_.push_back({where(child, file), path, "unexpected group"});
            } else {
                record(path, child, file);
            }
        }
    }

    void record(const std::string& path, const libconfig::Setting& s, const std::string& file) {
        Value v;
        v.where = where(s, file);
        switch (s.getType()) {
            case libconfig::Setting::TypeBoolean: v.value = static_cast<bool>(s); break;
            // libconfig refuses to read an int as long long without auto-convert.
            case libconfig::Setting::TypeInt: v.value = static_cast<std::int64_t>(static_cast<int>(s)); break;
            case libconfig::Setting::TypeInt64: v.value = static_cast<std::int64_t>(static_cast<long long>(s)); break;
            case libconfig::Setting::TypeFloat: v.value = static_cast<double>(s); break;
            case libconfig::Setting::TypeString: v.value = std::string(static_cast<const char*>(s)); break;
            case libconfig::Setting::TypeArray:
            case libconfig::Setting::TypeList: {
                std::vector<std::string> list;
                for (int i = 0; i < s.getLength(); ++i) {
                    if (s[i].getType() == libconfig::Setting::TypeString) {
                        list.emplace_back(static_cast<const char*>(s[i]));
                    } else {
                        v.listHadNonString = true;
                    }
                }
                v.value = std::move(list);
                v.isList = true;
                break;
            }
            default: errors_.push_back({v.where, path, "unsupported value"}); return;
        }
        values_[path] = std::move(v);  // later files win
    }

    std::map<std::string, Value>& values_;
    std::map<std::string, Location>& groups_;
    std::vector<std::string>& providerGroups_;
    std::vector<Diagnostic>& errors_;
};

/// Type-checks and range-checks one raw value against its spec, resolving
/// paths and checking secret files. Returns false (with a diagnostic) on error.
bool validate(const std::string& path, const SettingSpec& spec, Value& v, std::vector<Diagnostic>& errors,
              std::vector<Diagnostic>& warnings) {
    auto fail = [&](const std::string& problem) {
        errors.push_back({v.where, path, problem});
        return false;
    };
    switch (spec.type) {
        case SettingType::Bool:
            if (v.isList || v.value.index() != 0) return fail(std::string("expected a boolean (true/false), got a ") + rawKind(v));
            break;
        case SettingType::Int: {
            if (v.isList || v.value.index() != 1) return fail(std::string("expected an integer, got a ") + rawKind(v));
            const auto i = std::get<std::int64_t>(v.value);
            if ((spec.min != 0 || spec.max != 0) && (i < spec.min || i > spec.max)) {
                return fail("value " + std::to_string(i) + " is out of range " + std::to_string(spec.min) + ".." +
                            std::to_string(spec.max));
            }
            break;
        }
        case SettingType::String:
        case SettingType::SecretFile: {
            if (v.isList || v.value.index() != 3) return fail(std::string("expected a string, got a ") + rawKind(v));
            const auto& s = std::get<std::string>(v.value);
            if (!spec.allowed.empty() && std::find(spec.allowed.begin(), spec.allowed.end(), s) == spec.allowed.end()) {
                std::string list;
                for (const auto& a : spec.allowed) list += (list.empty() ? "" : ", ") + a;
                return fail("\"" + s + "\" is not one of: " + list);
            }
            if (spec.type == SettingType::SecretFile && !s.empty()) {
                fs::path p(s);
                if (p.is_relative()) p = fs::path(v.where.file).parent_path() / p;
                struct stat st {};
                if (::stat(p.c_str(), &st) != 0) return fail("cannot read secret file " + p.string() + ": " + std::generic_category().message(errno));
                if (!S_ISREG(st.st_mode)) return fail(p.string() + " is not a regular file");
                if (::access(p.c_str(), R_OK) != 0) return fail("cannot read secret file " + p.string() + ": " + std::generic_category().message(errno));
                if ((st.st_mode & S_IRWXO) != 0) {
                    warnings.push_back({v.where, path, "secret file " + p.string() + " is readable by others; chmod o-rwx it"});
                } else if ((st.st_mode & S_IRWXG) != 0 && st.st_gid != ::getegid() && st.st_gid != serviceGroup()) {
                    warnings.push_back({v.where, path, "secret file " + p.string() + " is readable by its group, which is not consultd's; chmod g-rwx it"});
                }
            }
            break;
        }
        case SettingType::StringList:
            if (!v.isList) return fail("expected a list of strings [\"a\", \"b\"], got a " + std::string(rawKind(v)));
            if (v.listHadNonString) return fail("every element must be a string");
            break;
    }
    return true;
}

void validateGroup(const std::string& prefix, const std::vector<SettingSpec>& specs, std::map<std::string, Value>& values,
                   const Location& groupWhere, std::vector<Diagnostic>& errors, std::vector<Diagnostic>& warnings,
                   bool enforceRequired = true) {
    // Unknown settings are errors: a typo must not be silently ignored.
    for (auto& [path, value] : values) {
        if (path.rfind(prefix + ".", 0) != 0) continue;
        const std::string name = path.substr(prefix.size() + 1);
        if (name.find('.') != std::string::npos) continue;  // a sub-group's setting
        const auto spec = std::find_if(specs.begin(), specs.end(), [&](const SettingSpec& s) { return s.name == name; });
        if (spec == specs.end()) {
            std::string hint;
            std::size_t best = 3;  // suggest only close names: at most two edits
            for (const auto& s : specs) {
                const std::size_t d = editDistance(s.name, name);
                if (d < best) {
                    best = d;
                    hint = " (did you mean " + s.name + "?)";
                }
            }
            errors.push_back({value.where, path, "unknown setting" + hint});
        }
    }
    for (const auto& spec : specs) {
        const std::string path = prefix + "." + spec.name;
        auto it = values.find(path);
        if (it == values.end()) {
            if (spec.required && enforceRequired) errors.push_back({groupWhere, path, "must be set (" + spec.description + ")"});
            values[path] = defaultValue(spec);
            continue;
        }
        if (!validate(path, spec, it->second, errors, warnings)) continue;
        if (spec.required && enforceRequired && spec.type != SettingType::Bool && spec.type != SettingType::Int &&
            it->second.value.index() == 3 && std::get<std::string>(it->second.value).empty()) {
            errors.push_back({it->second.where, path, "must not be empty"});
        }
    }
}

/// Rules that involve more than one setting.
void crossCheck(const Config& config, std::vector<Diagnostic>& errors) {
    auto check = [&](bool bad, const std::string& setting, const std::string& problem) {
        if (bad) errors.push_back({config.locationOf(setting), setting, problem});
    };
    const std::string turnMode = config.getString("turn.mode");
    check(turnMode != "off" && config.getString("turn.secret_file").empty(), "turn.mode",
          "turn.mode \"" + turnMode + "\" needs turn.secret_file (the shared secret for TURN credentials)");
    check(turnMode == "external" && config.getStringList("turn.external_servers").empty(), "turn.external_servers",
          "turn.mode \"external\" needs at least one turn: URL");
    for (const auto& url : config.getStringList("turn.external_servers")) {
        check(url.rfind("turn:", 0) != 0 && url.rfind("turns:", 0) != 0 && url.rfind("stun:", 0) != 0,
              "turn.external_servers", "\"" + url + "\" is not a turn:, turns: or stun: URL");
    }
    for (const auto& url : config.getStringList("turn.stun_servers")) {
        check(url.rfind("stun:", 0) != 0, "turn.stun_servers", "\"" + url + "\" is not a stun: URL");
    }
    const bool tls = config.getBool("server.tls");
    check(tls && config.getString("server.tls_cert_file").empty(), "server.tls_cert_file", "must be set when server.tls = true");
    check(tls && config.getString("server.tls_key_file").empty(), "server.tls_key_file", "must be set when server.tls = true");
    const std::string publicUrl = config.getString("server.public_url");
    check(!publicUrl.empty() && publicUrl.rfind("https://", 0) != 0 && publicUrl.rfind("http://", 0) != 0,
          "server.public_url", "must start with https:// (or http:// for a loopback-only setup)");
}

std::vector<std::string> confDFiles(const std::string& mainFile) {
    std::vector<std::string> files;
    const fs::path dir = fs::path(mainFile).parent_path() / "conf.d";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".conf") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

ConfigLoader::Result ConfigLoader::load(const std::string& mainFile) {
    Result result;
    auto config = std::make_shared<Config>();
    config->mainFile_ = mainFile;
    config->files_.push_back(mainFile);
    for (auto& f : confDFiles(mainFile)) config->files_.push_back(f);

    FileParser parser(config->values_, config->groupLocations_, config->providerGroups_, result.errors);
    for (const auto& file : config->files_) parser.parse(file);
    if (!result.errors.empty() && config->values_.empty()) {
        // Nothing usable (syntax error in the main file): report only that.
        return result;
    }
    for (const auto& group : coreSchema()) {
        const auto where = config->groupLocations_.count(group.path) ? config->groupLocations_[group.path]
                                                                     : Location{mainFile, 0};
        validateGroup(group.path, group.settings, config->values_, where, result.errors, result.warnings);
    }
    if (result.errors.empty()) crossCheck(*config, result.errors);  // needs well-typed values
    result.config = std::move(config);
    return result;
}

void ConfigLoader::validateProviders(Result& result,
                                     const std::map<std::string, std::vector<SettingSpec>>& providerSchemas,
                                     const std::string& pluginDir) {
    if (!result.config) return;
    Config& config = *result.config;
    for (const auto& provider : config.providerGroups_) {
        const std::string prefix = "providers." + provider;
        const Location where = config.groupLocations_[prefix];
        std::vector<SettingSpec> specs = commonProviderSettings();
        const auto schema = providerSchemas.find(provider);
        if (schema == providerSchemas.end()) {
            // Validate `enabled` alone to know whether this is fatal.
            validateGroup(prefix, specs, config.values_, where, result.errors, result.warnings);
            // Unknown keys of a plugin-less group were reported by validateGroup; drop them as
            // errors only when the provider is enabled.
            if (config.providerEnabled(provider)) {
                result.errors.push_back({where, prefix, "provider \"" + provider + "\" is enabled but no plugin in " +
                                                             pluginDir + " provides it"});
            } else {
                std::erase_if(result.errors, [&](const Diagnostic& d) {
                    return d.setting.rfind(prefix + ".", 0) == 0 && d.problem.rfind("unknown setting", 0) == 0;
                });
                result.warnings.push_back({where, prefix, "no plugin provides \"" + provider + "\"; group ignored (it is disabled)"});
            }
            continue;
        }
        // A disabled provider's group is still type-checked (typos are caught
        // before someone enables it) but need not be complete.
        const auto enabled = config.values_.find(prefix + ".enabled");
        const bool isEnabled = enabled != config.values_.end() && enabled->second.value.index() == 0 &&
                               std::get<bool>(enabled->second.value);
        specs.insert(specs.end(), schema->second.begin(), schema->second.end());
        validateGroup(prefix, specs, config.values_, where, result.errors, result.warnings, isEnabled);
    }
    // Read defensively: a mistyped providers.default has already been reported
    // by the core validation (found by fuzz_config).
    const auto defValue = config.values_.find("providers.default");
    if (defValue == config.values_.end() || defValue->second.value.index() != 3) return;
    const std::string def = std::get<std::string>(defValue->second.value);
    const bool anyEnabled = std::any_of(config.providerGroups_.begin(), config.providerGroups_.end(),
                                        [&](const std::string& p) { return config.providerEnabled(p); });
    if (!anyEnabled) {
        // A freshly installed appliance: it starts (health, admin CLI) but is
        // not ready (/readyz 503) and refuses sessions until a provider is set up.
        result.warnings.push_back({config.locationOf("providers.default"), "providers",
                                   "no provider is enabled: consultd is not ready and refuses sessions until one "
                                   "is (e.g. providers.jitsi.enabled = true with its settings)"});
    } else if (!config.providerEnabled(def)) {
        result.errors.push_back({config.locationOf("providers.default"), "providers.default",
                                 "\"" + def + "\" is not an enabled provider: set providers." + def +
                                     ".enabled = true with its settings, or name an enabled provider"});
    }
}

// ---- Config ----------------------------------------------------------------

const Value& Config::value(const std::string& path) const {
    const auto it = values_.find(path);
    if (it == values_.end()) throw std::logic_error("undeclared setting " + path);
    return it->second;
}

bool Config::has(const std::string& path) const { return values_.count(path) != 0; }

bool Config::getBool(const std::string& path) const { return std::get<bool>(value(path).value); }
std::int64_t Config::getInt(const std::string& path) const { return std::get<std::int64_t>(value(path).value); }
std::string Config::getString(const std::string& path) const { return std::get<std::string>(value(path).value); }
std::vector<std::string> Config::getStringList(const std::string& path) const {
    return std::get<std::vector<std::string>>(value(path).value);
}

std::string Config::getPath(const std::string& path) const {
    const Value& v = value(path);
    const std::string raw = std::get<std::string>(v.value);
    if (raw.empty()) return raw;
    fs::path p(raw);
    if (p.is_relative() && !v.where.file.empty()) p = fs::path(v.where.file).parent_path() / p;
    return p.lexically_normal().string();
}

std::string Config::readSecret(const std::string& path) const {
    const std::string file = getPath(path);
    if (file.empty()) throw std::runtime_error(path + " is not set");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot read " + file);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
    if (content.empty()) throw std::runtime_error(path + ": " + file + " is empty");
    return content;
}

Location Config::locationOf(const std::string& path) const {
    const auto it = values_.find(path);
    if (it == values_.end() || it->second.isDefault) return {mainFile_, 0};
    return it->second.where;
}

bool Config::providerEnabled(const std::string& name) const {
    const auto it = values_.find("providers." + name + ".enabled");
    return it != values_.end() && it->second.value.index() == 0 && std::get<bool>(it->second.value);
}

std::vector<std::pair<std::string, std::string>> Config::describe() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [path, v] : values_) out.emplace_back(path, describeScalar(v.value));
    return out;
}

bool Config::sameValue(const Config& other, const std::string& path) const {
    const auto a = values_.find(path);
    const auto b = other.values_.find(path);
    if (a == values_.end() || b == other.values_.end()) return a == values_.end() && b == other.values_.end();
    return a->second.value == b->second.value;
}

void Config::keepValueFrom(const Config& other, const std::string& path) {
    const auto it = other.values_.find(path);
    if (it == other.values_.end()) {
        values_.erase(path);
    } else {
        values_[path] = it->second;
    }
}

std::vector<std::string> Config::paths() const {
    std::vector<std::string> out;
    for (const auto& [path, v] : values_) out.push_back(path);
    return out;
}

}  // namespace consultd::config
