#pragma once
/// Room-name checks shared by both Jitsi flavours.

#include <cstddef>
#include <string_view>

namespace consultd::jitsi {

/// Longest room name accepted. The daemon derives names far shorter than
/// this; the bound keeps MUC addresses and URLs well inside prosody's limits.
inline constexpr std::size_t kMaxRoomNameLength = 64;

/// True when `room` is 1..kMaxRoomNameLength characters of [a-z0-9-].
bool isSafeRoomName(std::string_view room) noexcept;

/// Throws consultd::ProviderRejected unless isSafeRoomName(room). The daemon
/// already sanitises room names; this is the plugin's own line of defence,
/// because the name lands unescaped in a URL path, a MUC JID and a JWT claim.
void requireSafeRoomName(std::string_view room);

}  // namespace consultd::jitsi
