#include "RoomName.h"

#include "consultd/provider.h"

#include <algorithm>
#include <string>

namespace consultd::jitsi {

bool isSafeRoomName(std::string_view room) noexcept {
    if (room.empty() || room.size() > kMaxRoomNameLength) return false;
    return std::all_of(room.begin(), room.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

void requireSafeRoomName(std::string_view room) {
    if (!isSafeRoomName(room)) {
        // The name itself is not echoed: it may be arbitrary bytes.
        throw ProviderRejected("room name must be 1-" + std::to_string(kMaxRoomNameLength) +
                               " characters of [a-z0-9-]");
    }
}

}  // namespace consultd::jitsi
