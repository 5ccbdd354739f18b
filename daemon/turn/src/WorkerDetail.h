#pragma once
// Constants and small helpers shared by the Worker's source files
// (Worker.cpp, WorkerRelayPath.cpp, WorkerRequests.cpp, WorkerStreams.cpp).
// Internal to the relay; not part of the library's interface.

#include "StunMessage.h"
#include "Worker.h"

#include <chrono>
#include <cstdint>
#include <ctime>

namespace consultd::turn::worker_detail {

inline constexpr std::int64_t kPermissionLifetimeMs = 300'000;  // RFC 8656 9
inline constexpr std::int64_t kChannelLifetimeMs = 600'000;     // RFC 8656 12
inline constexpr std::int64_t kReservationLifetimeSec = 30;     // RFC 8656 7.2
inline constexpr std::int64_t kIdleConnectionMs = 30'000;       // TCP without allocation
inline constexpr std::size_t kMaxPermissions = 64;
inline constexpr std::size_t kMaxChannels = 64;
inline constexpr std::size_t kStreamBufferSize = 65536 + 64;     // largest frame: 0xFFFF body + header
inline constexpr std::size_t kMaxOutBuffer = 512 * 1024;         // then drop, as UDP would
inline constexpr std::size_t kMaxConnectionsPerWorker = 4096;
inline constexpr int kMaxBatchesPerWakeup = 8;                   // fairness between sockets

inline std::uint16_t readU16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
inline void writeU16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

inline std::int64_t monotonicMs() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}
inline std::int64_t unixNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline const char* transportName(Transport t) {
    switch (t) {
    case Transport::Udp: return "udp";
    case Transport::Tcp: return "tcp";
    case Transport::Tls: return "tls";
    }
    return "?";
}

}  // namespace consultd::turn::worker_detail
