#pragma once
// The narrow context routes get: the services they need, never the application.

#include "config/Config.h"
#include "consultd/provider.h"
#include "core/DeviceService.h"
#include "core/InviteService.h"
#include "core/Metrics.h"
#include "core/SessionService.h"
#include "plugins/PluginHost.h"
#include "store/Store.h"

#include <functional>
#include <string>
#include <vector>

namespace consultd::recording {
class RecordingService;
}

namespace consultd::http {

struct ApiServices {
    core::SessionService& sessions;
    store::Store& store;
    plugins::PluginHost& plugins;
    core::Metrics& metrics;
    core::ConfigSource config;
    /// ICE servers with fresh credentials for a participant (may be empty).
    plugins::IceServerSource iceServers;
    /// Invite links and their redemption (join page); set before serving.
    core::InviteService* invites = nullptr;
    /// Exam-room devices and kiosk enrollment; set before serving.
    core::DeviceService* devices = nullptr;
    /// Local recordings; null when the daemon runs without them (unit tests).
    recording::RecordingService* recordings = nullptr;
};

}  // namespace consultd::http
