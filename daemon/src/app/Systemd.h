#pragma once
// sd_notify(3) for Type=notify: READY, STATUS, WATCHDOG, RELOADING, STOPPING.
// Without NOTIFY_SOCKET (not under systemd) every call is a no-op.
// Thread-safety: thread-safe (sd_notify opens its own socket per call).

#include <chrono>
#include <optional>
#include <string>

namespace consultd::app {

class Systemd {
public:
    static void ready(const std::string& status);
    static void status(const std::string& status);
    static void reloading();
    static void stopping(const std::string& status);
    static void watchdog();
    /// Half of WATCHDOG_USEC when the service manager asked for pings.
    static std::optional<std::chrono::microseconds> watchdogInterval();
};

}  // namespace consultd::app
