#pragma once
// Loads provider plugins (shared libraries) and owns the providers built from them.
//
// Loading order: discover() dlopens every *.so in the plugin folder with
// RTLD_NOW|RTLD_LOCAL, checks consultd_plugin_api_version() before touching any
// C++ type, and collects the factories; the caller then validates the config
// with schemas(); createProviders() builds the enabled providers. Modules are
// never dlclose()d: objects and static data from them may outlive the host.
//
// Thread-safety: discover() and createProviders() run once at start on one
// thread. Afterwards the host is immutable and find()/list() are thread-safe;
// Provider methods are themselves thread-safe (plugin contract).

#include "config/Config.h"
#include "consultd/provider.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace consultd::plugins {

/// Mints ICE servers for a participant (the TURN subsystem implements it).
using IceServerSource = std::function<std::vector<IceServer>(const std::string& sessionId,
                                                             const std::string& participantId)>;

/// What the daemon's signaling gives providers (ProviderContext::signalingUrl
/// and mintSignalingToken). Either function may be empty: no signaling.
struct SignalingSource {
    /// The current signaling URL ("ws(s)://host:port/api/v1/signal").
    std::function<std::string()> url;
    /// A signaling token for one participant until `expiresAt` (Unix seconds,
    /// capped by the daemon). The result is a secret.
    std::function<std::string(const SessionView&, const ParticipantView&, std::int64_t expiresAt)> mintToken;
};

/// Records a webhook replay id for a provider until expiresAt (Unix
/// seconds); false when it is already recorded (ProviderContext::claimWebhookId).
using WebhookReplaySource =
    std::function<bool(const std::string& provider, const std::string& replayId, std::int64_t expiresAt)>;

struct ProviderInfo {
    std::string name;
    std::string modulePath;
    std::string moduleName;
    std::string moduleVersion;
    Provider* provider = nullptr;  // owned by the host
};

class PluginHost {
public:
    PluginHost();
    ~PluginHost();
    PluginHost(const PluginHost&) = delete;
    PluginHost& operator=(const PluginHost&) = delete;

    /// Loads every *.so in `dir`. Each problem is appended to `errors` as
    /// "<file>: <what is wrong>".
    void discover(const std::string& dir, std::vector<std::string>& errors);

    /// Settings declared by each discovered provider kind.
    std::map<std::string, std::vector<SettingSpec>> schemas() const;

    /// Creates every enabled provider of `config`; problems go to `errors`.
    void createProviders(const std::shared_ptr<const config::Config>& config, IceServerSource iceServers,
                         std::string publicUrl, std::vector<std::string>& errors, SignalingSource signaling = {});

    /// Where the providers' contexts record webhook replay ids; set before
    /// createProviders() (without it claimWebhookId() always answers true).
    void setWebhookReplaySource(WebhookReplaySource replay) { replay_ = std::move(replay); }

    /// The provider named `name`, or nullptr when not loaded.
    Provider* find(const std::string& name) const;
    std::vector<ProviderInfo> list() const;

private:
    struct Module;
    struct Entry;
    std::vector<std::unique_ptr<Module>> modules_;
    std::map<std::string, const ProviderFactory*> factories_;
    std::map<std::string, Module*> factoryModules_;
    WebhookReplaySource replay_;
    std::vector<std::unique_ptr<Entry>> entries_;  // destroyed before modules_ (declared after)
};

}  // namespace consultd::plugins
