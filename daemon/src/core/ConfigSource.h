#pragma once
// How long-lived services read the current configuration: a function returning
// the snapshot in force (swapped on SIGHUP). Thread-safe by contract.

#include "config/Config.h"

#include <functional>
#include <memory>

namespace consultd::core {

using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;

}  // namespace consultd::core
