#pragma once
// The io_uring engine's state, private to Worker.cpp and WorkerUring.cpp.

#include "Worker.h"

#include <liburing.h>
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace consultd::turn {

struct Worker::UringLoop {
    /// Receive buffers the kernel picks from (one provided-buffer ring, group 0).
    static constexpr unsigned kBuffers = 512;
    /// Source address room: IPv4 and IPv6 (a longer one arrives truncated and is dropped).
    static constexpr std::size_t kNameSpace = sizeof(sockaddr_in6);
    /// io_uring_recvmsg_out, the address, then a datagram of up to kSlotSize.
    static constexpr std::size_t kBufferSize = (sizeof(io_uring_recvmsg_out) + kNameSpace + kSlotSize + 63) / 64 * 64;
    /// A busy worker sleeps until this many completions wait (or batchWaitMicros passed).
    static constexpr unsigned kWakeBatch = 32;
    /// user_data of requests that are not an allocation's receive (allocations are 8-aligned pointers).
    static constexpr std::uint64_t kTagListener = 1, kTagEpoll = 2, kTagCancel = 3;
    /// A send's user_data: one of these in the low three bits, its byte count from bit 8.
    static constexpr std::uint64_t kTagSendToPeer = 4, kTagSendToClient = 5;
    static bool isSend(std::uint64_t tag) noexcept {
        return (tag & 7) == kTagSendToPeer || (tag & 7) == kTagSendToClient;
    }

    io_uring ring{};
    bool ringUp = false;
    io_uring_buf_ring* bufRing = nullptr;  ///< page-aligned, malloc'd
    std::vector<std::uint8_t> pool;         ///< kBuffers x kBufferSize
    unsigned added = 0;                     ///< buffers given back since the last commit
    msghdr recvTemplate{};                  ///< what multishot recvmsg lays out in each buffer
    std::vector<std::uint16_t> sentLater;   ///< buffers the UDP batch still references
    std::vector<Allocation*> rearm;         ///< receives that ended (no buffer, error) and live on
    bool listenerArmed = false, epollArmed = false;
    unsigned outstanding = 0;  ///< multishot requests whose final completion has not arrived
    /// Dead allocations whose cancelled receive has not completed yet.
    std::unordered_map<Allocation*, std::unique_ptr<Allocation>> draining;
    bool loggedListenerError = false, loggedSubmitError = false;
    /// Relayed-packet counts of UDP sends. Only a failed send completes, and
    /// its completion is posted when the send is submitted, so a send is
    /// counted as relayed once the completions after its submission were read.
    struct Tally {
        std::int64_t fromPackets = 0, fromBytes = 0, toPackets = 0, toBytes = 0;
    };
    Tally queued;     ///< not submitted yet
    Tally submitted;  ///< submitted; failures subtracted as their completions are read
    /// Linux 6.12+ (IORING_FEAT_MIN_TIMEOUT): one wait both gathers a batch
    /// for up to batchWaitMicros and then wakes on the first completion.
    bool minTimeout = false;

    UringLoop() = default;
    UringLoop(const UringLoop&) = delete;
    UringLoop& operator=(const UringLoop&) = delete;
    ~UringLoop();

    std::uint8_t* buffer(unsigned id) noexcept { return pool.data() + static_cast<std::size_t>(id) * kBufferSize; }
    void giveBack(unsigned id) noexcept;
    void commit() noexcept;
    io_uring_sqe* sqe() noexcept;
    /// io_uring_submit(), then settled().
    int submit() noexcept;
    /// After any submission: with the queue empty, every queued send was submitted.
    void settled() noexcept;
};

}  // namespace consultd::turn
