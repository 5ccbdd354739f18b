#include "app/Systemd.h"

#include <systemd/sd-daemon.h>

#include <ctime>

namespace consultd::app {

namespace {
void notify(const std::string& text) { sd_notify(0, text.c_str()); }
}  // namespace

void Systemd::ready(const std::string& status) { notify("READY=1\nSTATUS=" + status); }
void Systemd::status(const std::string& status) { notify("STATUS=" + status); }

void Systemd::reloading() {
    // systemd >= 253 wants MONOTONIC_USEC with RELOADING=1; older ones ignore it.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const long long usec = static_cast<long long>(ts.tv_sec) * 1000000LL + ts.tv_nsec / 1000;
    notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading configuration");
}

void Systemd::stopping(const std::string& status) { notify("STOPPING=1\nSTATUS=" + status); }
void Systemd::watchdog() { notify("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> Systemd::watchdogInterval() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec / 2);
    return std::nullopt;
}

}  // namespace consultd::app
