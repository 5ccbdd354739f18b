#pragma once
// `consultd device ...` (also `consultctl device ...`): exam-room devices.
//
//   consultd device create --name NAME [--room ROOM] [--json]   prints the one-time enrollment code
//   consultd device list [--json]
//   consultd device enrollment-code DEVICE_ID [--json]           a new code (the old one stops working)
//   consultd device revoke DEVICE_ID [--json]
//
// Every command takes --config FILE (default /etc/consultd/consultd.conf) and
// writes the audit log as "cli:<login>" (safe while the daemon runs).
// Exit codes: 0 ok, 1 failed (unknown device, already revoked, database),
// 2 usage, 78 configuration error.

namespace consultd::app {

/// Runs one device command; argv[1] is "device". Never throws.
int runDeviceCommand(int argc, char** argv);

}  // namespace consultd::app
