#pragma once
// The narrow context routes get: the services they need, never the application.

#include "config/Config.h"
#include "consultd/provider.h"
#include "core/Metrics.h"
#include "core/SessionService.h"
#include "plugins/PluginHost.h"
#include "store/Store.h"

#include <functional>
#include <string>
#include <vector>

namespace consultd::http {

struct ApiServices {
    core::SessionService& sessions;
    store::Store& store;
    plugins::PluginHost& plugins;
    core::Metrics& metrics;
    core::ConfigSource config;
    /// ICE servers with fresh credentials for a participant (may be empty).
    plugins::IceServerSource iceServers;
};

}  // namespace consultd::http
