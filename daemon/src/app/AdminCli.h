#pragma once
// `consultd admin create|reset-password|list|disable`: the admin console's
// users. Passwords come from stdin (asked twice without echo on a terminal)
// or from --password-file, never from the command line (argv is visible to
// every local user in /proc). Every change is audited with the CLI actor.

#include "store/Store.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace consultd::app {

using StoreOpener = std::function<std::unique_ptr<store::Store>(int& rc)>;

/// `positional` starts with "admin"; options as parsed by the CLI ("json",
/// "password-file"). Returns the CLI exit code (0 ok, 1 failed, 2 usage).
int runAdminUserCommand(const std::vector<std::string>& positional, const std::map<std::string, std::string>& options,
                        const StoreOpener& openStore, const std::string& actor);

}  // namespace consultd::app
