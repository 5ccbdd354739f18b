#include "plugins/PluginHost.h"

#include <Poco/Logger.h>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace fs = std::filesystem;

namespace consultd::plugins {

namespace {

/// The validated config group of one provider, seen through the plugin API.
class ProviderSettingsView final : public ProviderSettings {
public:
    ProviderSettingsView(std::shared_ptr<const config::Config> config, std::string prefix)
        : config_(std::move(config)), prefix_(std::move(prefix)) {}

    bool getBool(const std::string& name) const override { return guarded(name, [&] { return config_->getBool(path(name)); }); }
    std::int64_t getInt(const std::string& name) const override { return guarded(name, [&] { return config_->getInt(path(name)); }); }
    std::string getString(const std::string& name) const override {
        return guarded(name, [&] { return config_->getString(path(name)); });
    }
    std::vector<std::string> getStringList(const std::string& name) const override {
        return guarded(name, [&] { return config_->getStringList(path(name)); });
    }
    std::string readSecret(const std::string& name) const override {
        return guarded(name, [&] { return config_->readSecret(path(name)); });
    }
    std::string secretPath(const std::string& name) const override {
        return guarded(name, [&] { return config_->getPath(path(name)); });
    }

private:
    std::string path(const std::string& name) const { return prefix_ + "." + name; }

    template <typename F>
    auto guarded(const std::string& name, F&& f) const -> decltype(f()) {
        try {
            return f();
        } catch (const std::bad_variant_access&) {
            throw SettingError(path(name), "read with the wrong type");
        } catch (const std::logic_error&) {
            throw SettingError(path(name), "not declared by the plugin");
        } catch (const std::runtime_error& e) {
            throw SettingError(path(name), e.what());
        }
    }

    std::shared_ptr<const config::Config> config_;
    std::string prefix_;
};

class ProviderContextImpl final : public ProviderContext {
public:
    ProviderContextImpl(const std::string& name, std::shared_ptr<const config::Config> config,
                        IceServerSource iceServers, std::string publicUrl, SignalingSource signaling,
                        WebhookReplaySource replay)
        : name_(name),
          settings_(std::move(config), "providers." + name),
          logger_(Poco::Logger::get("provider." + name)),
          iceServers_(std::move(iceServers)),
          publicUrl_(std::move(publicUrl)),
          signaling_(std::move(signaling)),
          replay_(std::move(replay)) {}

    const ProviderSettings& settings() const override { return settings_; }

    void log(LogLevel level, const std::string& message) const override {
        switch (level) {
            case LogLevel::Error: logger_.error(message); break;
            case LogLevel::Warning: logger_.warning(message); break;
            case LogLevel::Notice: logger_.notice(message); break;
            case LogLevel::Info: logger_.information(message); break;
            case LogLevel::Debug: logger_.debug(message); break;
        }
    }

    std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }

    std::vector<IceServer> iceServersFor(const std::string& sessionId, const std::string& participantId) const override {
        return iceServers_ ? iceServers_(sessionId, participantId) : std::vector<IceServer>{};
    }

    std::string publicUrl() const override { return publicUrl_; }

    std::string signalingUrl() const override { return signaling_.url ? signaling_.url() : std::string(); }

    std::string mintSignalingToken(const SessionView& session, const ParticipantView& participant,
                                   std::int64_t expiresAt) const override {
        if (!signaling_.mintToken) throw ProviderUnavailable("this daemon offers no signaling");
        return signaling_.mintToken(session, participant, expiresAt);
    }

    bool claimWebhookId(const std::string& replayId, std::int64_t expiresAt) const override {
        if (!replay_) return true;
        try {
            return replay_(name_, replayId, expiresAt);
        } catch (const std::exception& e) {
            // The plugin sees one exception type for "try again later".
            throw ProviderUnavailable(std::string("webhook replay store unavailable: ") + e.what());
        }
    }

private:
    std::string name_;
    ProviderSettingsView settings_;
    Poco::Logger& logger_;
    IceServerSource iceServers_;
    std::string publicUrl_;
    SignalingSource signaling_;
    WebhookReplaySource replay_;
};

}  // namespace

struct PluginHost::Module {
    std::string path;
    void* handle = nullptr;  // intentionally never dlclose()d
    const PluginModule* module = nullptr;
};

struct PluginHost::Entry {
    std::string name;
    Module* module = nullptr;
    std::unique_ptr<ProviderContextImpl> context;
    std::unique_ptr<Provider> provider;  // destroyed before context (declared after)
};

PluginHost::PluginHost() = default;

PluginHost::~PluginHost() {
    // Providers first, then their contexts; modules stay mapped.
    for (auto& entry : entries_) entry->provider.reset();
    entries_.clear();
}

void PluginHost::discover(const std::string& dir, std::vector<std::string>& errors) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        errors.push_back(dir + ": plugin folder does not exist (providers.plugin_dir)");
        return;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".so") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        const std::string path = file.string();
        void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            const char* why = ::dlerror();
            errors.push_back(path + ": cannot load: " + (why ? why : "unknown dlopen error"));
            continue;
        }
        using VersionFn = int (*)();
        using ModuleFn = const PluginModule* (*)();
        auto version = reinterpret_cast<VersionFn>(::dlsym(handle, "consultd_plugin_api_version"));
        if (version == nullptr) {
            errors.push_back(path + ": not a consultd plugin (missing symbol consultd_plugin_api_version)");
            continue;
        }
        const int pluginApi = version();
        if (pluginApi != kProviderApiVersion) {
            errors.push_back(path + ": built against plugin API " + std::to_string(pluginApi) +
                             ", this daemon provides " + std::to_string(kProviderApiVersion) +
                             "; rebuild the plugin or install the matching package");
            continue;
        }
        auto moduleFn = reinterpret_cast<ModuleFn>(::dlsym(handle, "consultd_plugin_module"));
        if (moduleFn == nullptr) {
            errors.push_back(path + ": missing symbol consultd_plugin_module");
            continue;
        }
        const PluginModule* pluginModule = nullptr;
        try {
            pluginModule = moduleFn();
        } catch (const std::exception& e) {
            errors.push_back(path + ": consultd_plugin_module() failed: " + e.what());
            continue;
        }
        if (pluginModule == nullptr || pluginModule->factories.empty()) {
            errors.push_back(path + ": plugin provides no provider");
            continue;
        }
        auto module = std::make_unique<Module>();
        module->path = path;
        module->handle = handle;
        module->module = pluginModule;
        for (const ProviderFactory* factory : pluginModule->factories) {
            const std::string name = factory->name();
            if (factories_.count(name) != 0) {
                errors.push_back(path + ": provider \"" + name + "\" is already provided by " + factoryModules_[name]->path);
                continue;
            }
            factories_[name] = factory;
            factoryModules_[name] = module.get();
        }
        modules_.push_back(std::move(module));
    }
}

std::map<std::string, std::vector<SettingSpec>> PluginHost::schemas() const {
    std::map<std::string, std::vector<SettingSpec>> out;
    for (const auto& [name, factory] : factories_) out[name] = factory->settings();
    return out;
}

void PluginHost::createProviders(const std::shared_ptr<const config::Config>& config, IceServerSource iceServers,
                                 std::string publicUrl, std::vector<std::string>& errors, SignalingSource signaling) {
    for (const auto& name : config->providerGroups()) {
        if (!config->providerEnabled(name)) continue;
        const auto factory = factories_.find(name);
        if (factory == factories_.end()) {
            errors.push_back("providers." + name + ": enabled but no plugin provides it");
            continue;
        }
        auto entry = std::make_unique<Entry>();
        entry->name = name;
        entry->module = factoryModules_[name];
        entry->context = std::make_unique<ProviderContextImpl>(name, config, iceServers, publicUrl, signaling, replay_);
        try {
            entry->provider = factory->second->create(*entry->context);
            if (!entry->provider) throw std::runtime_error("factory returned no provider");
        } catch (const SettingError& e) {
            // Plugins name settings relative to their group ("domain"), as ProviderSettings does.
            const std::string prefix = "providers." + name + ".";
            const std::string setting = e.setting().rfind(prefix, 0) == 0 ? e.setting() : prefix + e.setting();
            const auto at = config->locationOf(setting);
            errors.push_back(at.file + ":" + std::to_string(at.line) + ": " + setting + ": " + e.what());
            continue;
        } catch (const std::exception& e) {
            errors.push_back(entry->module->path + ": provider \"" + name + "\" failed to start: " + e.what());
            continue;
        }
        entries_.push_back(std::move(entry));
    }
}

Provider* PluginHost::find(const std::string& name) const {
    for (const auto& entry : entries_) {
        if (entry->name == name) return entry->provider.get();
    }
    return nullptr;
}

std::vector<ProviderInfo> PluginHost::list() const {
    std::vector<ProviderInfo> out;
    for (const auto& entry : entries_) {
        out.push_back({entry->name, entry->module->path, entry->module->module->moduleName,
                       entry->module->module->moduleVersion, entry->provider.get()});
    }
    return out;
}

}  // namespace consultd::plugins
