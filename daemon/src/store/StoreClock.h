#pragma once
// The store's notion of "now" for timestamps a caller left at 0.

#include <chrono>
#include <cstdint>

namespace consultd::store {

/// Unix time in milliseconds (UTC), the unit of every time column.
inline std::int64_t nowMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace consultd::store
