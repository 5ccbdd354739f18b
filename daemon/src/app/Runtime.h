#pragma once
// Everything the running daemon owns, shared by its subsystems. Built by
// ConsultdApplication; each subsystem fills in and tears down its own part.
//
// Thread-safety: the config pointer is swapped under a mutex on SIGHUP and read
// through currentConfig() from any thread; the other members are set during
// initialisation (one thread) and read-only afterwards.

#include "config/Config.h"
#include "core/IceServerMinter.h"
#include "core/Metrics.h"
#include "core/SessionService.h"
#include "http/ApiServices.h"
#include "http/HttpService.h"
#include "http/Router.h"
#include "plugins/PluginHost.h"
#include "store/Store.h"

#include <consultd/turn/TurnRelay.h>

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
    std::unique_ptr<http::ApiServices> services;
    std::unique_ptr<http::Router> router;
    std::unique_ptr<http::HttpService> http;
    std::vector<std::string> embeddedTurnUrls;
    std::unique_ptr<turn::TurnRelay> turnRelay;  // only with turn.mode = "embedded"

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
