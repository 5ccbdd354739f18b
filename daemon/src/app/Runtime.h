#pragma once
// Everything the running daemon owns, shared by its subsystems. Built by
// ConsultdApplication; each subsystem fills in and tears down its own part.
//
// Thread-safety: the config pointer is swapped under a mutex on SIGHUP and read
// through currentConfig() from any thread; the other members are set during
// initialisation (one thread) and read-only afterwards.

#include "admin/AdminAuth.h"
#include "admin/Dashboard.h"
#include "config/Config.h"
#include "core/DeviceService.h"
#include "core/IceServerMinter.h"
#include "core/InviteService.h"
#include "core/Metrics.h"
#include "core/ProviderRoomRetrier.h"
#include "core/SessionService.h"
#include "http/AdminServices.h"
#include "http/ApiServices.h"
#include "http/HttpService.h"
#include "http/Router.h"
#include "plugins/PluginHost.h"
#include "recording/LiveRecorder.h"
#include "recording/RecordingRetention.h"
#include "recording/RecordingImporter.h"
#include "recording/RecordingService.h"
#include "signal/SignalingService.h"
#include "signal/SignalingTokens.h"
#include "store/Store.h"

#include <consultd/turn/TurnRelay.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace consultd::app {

struct Runtime {
    std::shared_ptr<const config::Config> currentConfig() const {
        std::lock_guard lock(configMutex);
        return config;
    }
    void setConfig(std::shared_ptr<const config::Config> next) {
        std::lock_guard lock(configMutex);
        config = std::move(next);
    }
    core::ConfigSource configSource() {
        return [this] { return currentConfig(); };
    }

    mutable std::mutex configMutex;
    std::shared_ptr<const config::Config> config;

    core::Metrics metrics;
    std::unique_ptr<plugins::PluginHost> plugins;  // discovered before the config is fully validated
    std::unique_ptr<store::Store> store;
    std::shared_ptr<const core::IceServerMinter> iceMinter;
    std::mutex iceMutex;
    std::unique_ptr<core::SessionService> sessions;
    std::unique_ptr<core::InviteService> invites;  // made with the HTTP service
    std::unique_ptr<core::DeviceService> devices;  // made with the HTTP service
    std::unique_ptr<core::ProviderRoomRetrier> roomRetrier;  // stopped before sessions go
    std::unique_ptr<recording::RecordingImporter> importer;  // provider recordings; stopped before sessions go
    std::unique_ptr<http::ApiServices> services;
    std::unique_ptr<admin::AdminAuth> adminAuth;        // made with the HTTP service
    std::unique_ptr<admin::Dashboard> dashboard;
    std::unique_ptr<http::AdminServices> adminServices;
    std::unique_ptr<http::Router> router;
    std::unique_ptr<http::HttpService> http;
    std::vector<std::string> embeddedTurnUrls;
    std::unique_ptr<signal::SignalingTokens> signalingTokens;  // made before the providers (grants carry tokens)
    std::unique_ptr<signal::SignalingService> signaling;       // made with the HTTP service
    std::unique_ptr<turn::TurnRelay> turnRelay;  // only with turn.mode = "embedded"
    std::unique_ptr<recording::RecordingService> recordings;      // made before the HTTP service (routes use it)
    std::unique_ptr<recording::RecordingRetention> retention;
    /// Makes the native (GStreamer) recorder; unset in a build without GStreamer.
    std::function<std::unique_ptr<recording::LiveRecorderFactory>()> liveRecorderFactory;

    /// The public base URL: from the config, or derived from the bound
    /// listener once it is bound (port 0 picks one).
    std::string publicUrl() const {
        std::lock_guard lock(publicUrlMutex);
        return boundPublicUrl;
    }
    void setPublicUrl(std::string url) {
        std::lock_guard lock(publicUrlMutex);
        boundPublicUrl = std::move(url);
    }
    /// ws(s)://<public host>/api/v1/signal.
    std::string signalingUrl() const {
        std::string url = publicUrl();
        if (url.rfind("https://", 0) == 0) url = "wss://" + url.substr(8);
        else if (url.rfind("http://", 0) == 0) url = "ws://" + url.substr(7);
        return url + "/api/v1/signal";
    }
    mutable std::mutex publicUrlMutex;
    std::string boundPublicUrl;

    std::vector<IceServer> mintIceServers(const std::string& session, const std::string& participant) {
        std::shared_ptr<const core::IceServerMinter> minter;
        {
            std::lock_guard lock(iceMutex);
            minter = iceMinter;
        }
        return minter ? minter->mint(session, participant) : std::vector<IceServer>{};
    }
};

}  // namespace consultd::app
