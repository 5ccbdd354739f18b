// Worker: the io_uring engine. The UDP listener and every relay socket have
// one multishot recvmsg each, receiving into buffers the kernel takes from a
// provided-buffer ring, so no system call is made per socket or per packet
// to receive. The epoll set (TCP/TLS, the stop eventfd) is one multishot
// poll. The ring runs deferred task work (IORING_SETUP_DEFER_TASKRUN): a
// worker that just relayed packets waits for kWakeBatch completions or
// batchWaitMicros, whichever comes first, and the kernel wakes it once for
// the batch instead of once per packet (Linux 6.8+ batches such wakeups;
// older kernels wake per packet and the engine still works). UDP sends go
// through the ring too: each turn's datagrams, both ways, are SENDMSG
// requests with MSG_DONTWAIT (so the kernel runs them inline at submission,
// never later) and IOSQE_CQE_SKIP_SUCCESS (only a failure completes), all
// submitted by one io_uring_enter at the end of the turn.
#include "WorkerUring.h"

#include "WorkerDetail.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace consultd::turn {

using namespace worker_detail;

namespace {
// Not in liburing 2.3's headers: Linux 6.12's batch wait (io_uring_getevents_arg.min_wait_usec).
constexpr unsigned kFeatMinTimeout = 1U << 15;
}  // namespace

Worker::UringLoop::~UringLoop() {
    if (ringUp) ::io_uring_queue_exit(&ring);  // before the buffers it may write into
    std::free(bufRing);
}

void Worker::UringLoop::giveBack(unsigned id) noexcept {
    ::io_uring_buf_ring_add(bufRing, buffer(id), kBufferSize, static_cast<unsigned short>(id),
                            ::io_uring_buf_ring_mask(kBuffers), static_cast<int>(added++));
}

void Worker::UringLoop::commit() noexcept {
    if (added == 0) return;
    ::io_uring_buf_ring_advance(bufRing, static_cast<int>(added));
    added = 0;
}

io_uring_sqe* Worker::UringLoop::sqe() noexcept {
    io_uring_sqe* s = ::io_uring_get_sqe(&ring);
    if (!s) {
        submit();  // the queue is full: hand it over, then there is room
        s = ::io_uring_get_sqe(&ring);
    }
    return s;
}

int Worker::UringLoop::submit() noexcept {
    const int rc = ::io_uring_submit(&ring);
    settled();
    return rc;
}

void Worker::UringLoop::settled() noexcept {
    if (::io_uring_sq_ready(&ring) != 0) return;
    submitted.fromPackets += queued.fromPackets;
    submitted.fromBytes += queued.fromBytes;
    submitted.toPackets += queued.toPackets;
    submitted.toBytes += queued.toBytes;
    queued = {};
}

void Worker::setUpUring() {
    auto unavailable = [&](const std::string& why) {
        if (shared_.config.ioEngine == IoEngine::IoUring)
            throw std::runtime_error("turn: io_engine = \"io_uring\" but " + why);
        if (index_ == 0)
            log(LogLevel::Information, "TURN relay uses epoll: io_uring is not available (" + why + ")");
    };
    auto u = std::make_unique<UringLoop>();
    io_uring_params p{};
    // Disabled until run() enables it on the worker's own thread, which
    // SINGLE_ISSUER / DEFER_TASKRUN then tie the ring to.
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
    p.cq_entries = 8192;
    int rc = ::io_uring_queue_init_params(256, &u->ring, &p);
    if (rc < 0) {
        // EINVAL: a kernel before 6.1; EPERM: kernel.io_uring_disabled or a
        // seccomp filter; ENOSYS: not built in.
        unavailable(std::string("io_uring_setup: ") + std::strerror(-rc));
        return;
    }
    u->ringUp = true;
    if (!(p.features & IORING_FEAT_EXT_ARG)) {
        unavailable("the kernel lacks IORING_FEAT_EXT_ARG");
        return;
    }
    if (!(p.features & IORING_FEAT_CQE_SKIP)) {
        unavailable("the kernel lacks IORING_FEAT_CQE_SKIP");
        return;
    }
    u->minTimeout = p.features & kFeatMinTimeout;
    void* ringMemory = nullptr;
    if (::posix_memalign(&ringMemory, 4096, UringLoop::kBuffers * sizeof(io_uring_buf)) != 0) throw std::bad_alloc();
    std::memset(ringMemory, 0, UringLoop::kBuffers * sizeof(io_uring_buf));
    u->bufRing = static_cast<io_uring_buf_ring*>(ringMemory);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ringMemory);
    reg.ring_entries = UringLoop::kBuffers;
    reg.bgid = 0;
    rc = ::io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (rc < 0) {
        unavailable(std::string("buffer ring: ") + std::strerror(-rc));
        return;
    }
    u->pool.resize(static_cast<std::size_t>(UringLoop::kBuffers) * UringLoop::kBufferSize);
    ::io_uring_buf_ring_init(u->bufRing);
    for (unsigned i = 0; i < UringLoop::kBuffers; ++i) u->giveBack(i);
    u->commit();
    u->recvTemplate.msg_namelen = UringLoop::kNameSpace;
    u->sentLater.reserve(2 * kBatch);  // both directions' batches
    u->rearm.reserve(64);
    uring_ = std::move(u);
}

bool Worker::armRelayReceive(Allocation& a) {
    io_uring_sqe* s = uring_->sqe();
    if (!s) return false;
    ::io_uring_prep_recvmsg_multishot(s, a.relayFd.get(), &uring_->recvTemplate, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = 0;
    ::io_uring_sqe_set_data64(s, reinterpret_cast<std::uintptr_t>(&a));
    a.receiveArmed = true;
    ++uring_->outstanding;
    return true;
}

bool Worker::cancelRelayReceive(Allocation& a) {
    if (!a.receiveArmed) return false;
    io_uring_sqe* s = uring_->sqe();
    if (s) {
        ::io_uring_prep_cancel64(s, reinterpret_cast<std::uintptr_t>(&a), 0);
        ::io_uring_sqe_set_data64(s, UringLoop::kTagCancel);
    }
    // Without a submission slot the receive ends at shutDownUring() at the
    // latest; the allocation waits in `draining` either way.
    return true;
}

void Worker::keepUntilCancelled(std::unique_ptr<Allocation> a) {
    Allocation* key = a.get();
    uring_->draining.emplace(key, std::move(a));
}

bool Worker::queueUringSend(int fd, const msghdr* message, bool toPeer, std::size_t bytes) {
    io_uring_sqe* s = uring_->sqe();
    if (!s) return false;
    ::io_uring_prep_sendmsg(s, fd, message, MSG_DONTWAIT);
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;
    ::io_uring_sqe_set_data64(
        s, (static_cast<std::uint64_t>(bytes) << 8) | (toPeer ? UringLoop::kTagSendToPeer : UringLoop::kTagSendToClient));
    auto& t = uring_->queued;
    if (toPeer) {
        ++t.fromPackets;
        t.fromBytes += static_cast<std::int64_t>(bytes);
    } else {
        ++t.toPackets;
        t.toBytes += static_cast<std::int64_t>(bytes);
    }
    return true;
}

void Worker::sendFailed(std::uint64_t tag) {
    // EAGAIN: the socket's send buffer is full; EACCES, ENETUNREACH: the
    // kernel refused the destination.
    counters_.dropsBackpressure.add();
    auto& t = uring_->submitted;
    const auto bytes = static_cast<std::int64_t>(tag >> 8);
    if ((tag & 7) == UringLoop::kTagSendToPeer) {
        --t.fromPackets;
        t.fromBytes -= bytes;
    } else {
        --t.toPackets;
        t.toBytes -= bytes;
    }
}

void Worker::countSubmittedSends() {
    auto& t = uring_->submitted;
    // Negative only after a partial submission: carried until it settles.
    if (t.fromPackets < 0 || t.fromBytes < 0 || t.toPackets < 0 || t.toBytes < 0) return;
    counters_.packetsFromClients.add(static_cast<std::uint64_t>(t.fromPackets));
    counters_.bytesFromClients.add(static_cast<std::uint64_t>(t.fromBytes));
    counters_.packetsToClients.add(static_cast<std::uint64_t>(t.toPackets));
    counters_.bytesToClients.add(static_cast<std::uint64_t>(t.toBytes));
    t = {};
}

void Worker::submitUringSends() {
    UringLoop& u = *uring_;
    int rc = 0;
    for (int attempt = 0; attempt < 3 && ::io_uring_sq_ready(&u.ring) > 0; ++attempt) {
        rc = u.submit();
        if (rc >= 0 || (rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)) break;
    }
    if (::io_uring_sq_ready(&u.ring) > 0) {
        // The requests still point into this batch's buffers and slots:
        // keep the buffers out of the kernel's reach until a later submit.
        if (!u.loggedSubmitError) {
            u.loggedSubmitError = true;
            log(LogLevel::Warning, std::string("TURN worker could not submit its sends: ") + std::strerror(-rc));
        }
        return;
    }
    recycleSentBuffers();
}

void Worker::recycleSentBuffers() {
    for (std::uint16_t id : uring_->sentLater) uring_->giveBack(id);
    uring_->sentLater.clear();
    uring_->commit();
}

bool Worker::runUring() {
    UringLoop& u = *uring_;
    // io_uring_enable_rings() is declared by liburing 2.3 but not exported.
    if (::syscall(__NR_io_uring_register, u.ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) != 0) {
        log(LogLevel::Error, std::string("TURN worker cannot enable its io_uring (") + std::strerror(errno) +
                                 "); this worker uses epoll");
        return false;
    }

    auto armListener = [&] {
        if (!udpListener_ || u.listenerArmed) return;
        io_uring_sqe* s = u.sqe();
        if (!s) return;
        ::io_uring_prep_recvmsg_multishot(s, udpListener_.get(), &u.recvTemplate, 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = 0;
        ::io_uring_sqe_set_data64(s, UringLoop::kTagListener);
        u.listenerArmed = true;
        ++u.outstanding;
    };
    auto armEpoll = [&] {
        if (u.epollArmed) return;
        io_uring_sqe* s = u.sqe();
        if (!s) return;
        ::io_uring_prep_poll_multishot(s, epoll_.get(), POLLIN);
        ::io_uring_sqe_set_data64(s, UringLoop::kTagEpoll);
        u.epollArmed = true;
        ++u.outstanding;
    };
    armListener();
    armEpoll();

    const long batchWaitNs = static_cast<long>(shared_.config.batchWaitMicros) * 1000;
    bool busy = false;         // the last turn had completions
    bool epollAgain = false;   // the epoll set had events: look again before sleeping
    while (!stopping_.load(std::memory_order_relaxed)) {
        int waited;
        if (epollAgain) {
            waited = ::io_uring_submit_and_get_events(&u.ring);
            u.settled();
        } else if (u.minTimeout && batchWaitNs > 0) {
            // Sleep until kWakeBatch completions wait; once batchWaitMicros
            // passed, the first completion (or one already waiting) ends
            // the wait; with none at all, wake for the sweep after 250 ms.
            // An idle worker therefore wakes for its first packet at once.
            u.submit();
            __kernel_timespec idle{0, 250'000'000};
            io_uring_getevents_arg arg{};
            arg.sigmask_sz = _NSIG / 8;
            arg.pad = static_cast<std::uint32_t>(shared_.config.batchWaitMicros);  // min_wait_usec
            arg.ts = reinterpret_cast<std::uintptr_t>(&idle);
            waited = static_cast<int>(::syscall(__NR_io_uring_enter, u.ring.ring_fd, 0, UringLoop::kWakeBatch,
                                                IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof arg));
            if (waited < 0) waited = -errno;
        } else {
            __kernel_timespec ts{};
            unsigned waitFor = 1;
            if (busy && batchWaitNs > 0) {
                waitFor = UringLoop::kWakeBatch;
                ts.tv_nsec = batchWaitNs;
            } else {
                ts.tv_nsec = 250'000'000;  // idle: the sweep's pace
            }
            io_uring_cqe* first = nullptr;
            waited = ::io_uring_submit_and_wait_timeout(&u.ring, &first, waitFor, &ts, nullptr);
            u.settled();
        }
        if (waited < 0 && waited != -ETIME && waited != -EINTR && waited != -EAGAIN && waited != -EBUSY) {
            log(LogLevel::Error, std::string("TURN worker io_uring_enter failed: ") + std::strerror(-waited));
            break;
        }
        nowMs_ = monotonicMs();
        nowUnix_ = unixNow();

        unsigned head = 0, seen = 0;
        bool epollReady = false;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&u.ring, head, cqe) {
            ++seen;
            const std::uint64_t tag = ::io_uring_cqe_get_data64(cqe);
            const bool more = cqe->flags & IORING_CQE_F_MORE;
            const bool hasBuffer = cqe->flags & IORING_CQE_F_BUFFER;
            const unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            if (tag == UringLoop::kTagCancel) continue;
            if (UringLoop::isSend(tag)) {
                sendFailed(tag);  // only a failed send completes
                continue;
            }
            if (tag == UringLoop::kTagEpoll) {
                epollReady = true;
                if (!more) u.epollArmed = false, --u.outstanding;
                continue;
            }
            Allocation* a = tag == UringLoop::kTagListener ? nullptr : reinterpret_cast<Allocation*>(tag);
            if (!more) {
                --u.outstanding;
                if (!a) u.listenerArmed = false;
                else a->receiveArmed = false;
            }
            if (a && a->dead) {
                if (hasBuffer) u.giveBack(id);
                if (!more) u.draining.erase(a);  // closes its relay socket
                continue;
            }
            if (!more && a) u.rearm.push_back(a);
            if (cqe->res < 0 || !hasBuffer) {
                // ENOBUFS: every buffer is in use until this turn gives them
                // back; the datagrams wait in the socket. Others: re-armed.
                if (cqe->res != -ENOBUFS && cqe->res != -ECANCELED && !a && !u.loggedListenerError) {
                    u.loggedListenerError = true;
                    log(LogLevel::Warning,
                        std::string("TURN UDP listener receive failed: ") + std::strerror(-cqe->res));
                }
                if (hasBuffer) u.giveBack(id);
                continue;
            }
            std::uint8_t* buf = u.buffer(id);
            io_uring_recvmsg_out* out = ::io_uring_recvmsg_validate(buf, cqe->res, &u.recvTemplate);
            if (!out || (out->flags & MSG_TRUNC) || out->namelen > UringLoop::kNameSpace) {
                counters_.dropsOversized.add();
                u.giveBack(id);
                continue;
            }
            const SocketAddress from = SocketAddress::fromSockaddr(
                static_cast<const sockaddr*>(::io_uring_recvmsg_name(out)), out->namelen);
            auto* payload = static_cast<std::uint8_t*>(::io_uring_recvmsg_payload(out, &u.recvTemplate));
            const std::size_t size = ::io_uring_recvmsg_payload_length(out, cqe->res, &u.recvTemplate);
            if (!a) {
                const std::uint64_t queuedBefore = peerSendsQueued_;
                onDatagramFromClient(Client{Transport::Udp, from, nullptr}, std::span<const std::uint8_t>(payload, size));
                if (peerSendsQueued_ != queuedBefore) u.sentLater.push_back(static_cast<std::uint16_t>(id));
                else u.giveBack(id);  // everything for it was sent or copied
            } else if (relayFromPeer(*a, from, payload, size)) {
                u.sentLater.push_back(static_cast<std::uint16_t>(id));
            } else {
                u.giveBack(id);
            }
        }
        ::io_uring_cq_advance(&u.ring, seen);
        // Every send submitted so far, in earlier turns or by a full batch
        // in this one, has had its failure (if any) read above.
        countSubmittedSends();

        epollAgain = (epollReady || epollAgain) && dispatchEpoll(0) > 0;
        flushUdpBatch();  // gives the batch's buffers back
        u.commit();
        // Receives that ended while their owner lives on start again, now
        // that buffers are back (an allocation that died meanwhile does not).
        armListener();
        armEpoll();
        for (Allocation* a : u.rearm)
            if (!a->dead && !a->receiveArmed) armRelayReceive(*a);
        u.rearm.clear();
        busy = seen > 0;

        deadAllocations_.clear();
        deadConnections_.clear();
        if (nowMs_ - lastSweepMs_ >= 1000) {
            lastSweepMs_ = nowMs_;
            sweep();
            deadAllocations_.clear();
            deadConnections_.clear();
        }
    }
    return true;
}

void Worker::shutDownUring() {
    UringLoop& u = *uring_;
    flushUdpBatch();
    if (io_uring_sqe* s = u.sqe()) {
        ::io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
        ::io_uring_sqe_set_data64(s, UringLoop::kTagCancel);
    }
    // Bounded: every cancelled receive completes at once; 2 s covers a
    // machine under load, then ring teardown cancels whatever is left.
    for (int turn = 0; turn < 200 && u.outstanding > 0; ++turn) {
        __kernel_timespec ts{0, 10'000'000};
        io_uring_cqe* first = nullptr;
        ::io_uring_submit_and_wait_timeout(&u.ring, &first, 1, &ts, nullptr);
        u.settled();
        unsigned head = 0, seen = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&u.ring, head, cqe) {
            ++seen;
            const std::uint64_t tag = ::io_uring_cqe_get_data64(cqe);
            if (UringLoop::isSend(tag)) {
                sendFailed(tag);
                continue;
            }
            if (tag == UringLoop::kTagCancel || (cqe->flags & IORING_CQE_F_MORE)) continue;
            --u.outstanding;
            if (tag != UringLoop::kTagListener && tag != UringLoop::kTagEpoll)
                u.draining.erase(reinterpret_cast<Allocation*>(tag));
        }
        ::io_uring_cq_advance(&u.ring, seen);
    }
    countSubmittedSends();
    ::io_uring_queue_exit(&u.ring);
    u.ringUp = false;
    u.draining.clear();
}

}  // namespace consultd::turn
