// Worker: construction, the event loop, UDP client intake, allocation
// lifetime and snapshots. The relay path, STUN requests and TCP/TLS
// plumbing live in WorkerRelayPath.cpp, WorkerRequests.cpp, WorkerStreams.cpp.
#include "Worker.h"

#include "TurnCrypto.h"
#include "WorkerDetail.h"
#include "WorkerUring.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace consultd::turn {

using namespace worker_detail;
namespace attr = stun::attr;
using stun::MessageClass;
using stun::Method;

bool Worker::TokenBucket::take(std::int64_t bytes, std::int64_t nowMs, std::int64_t ratePerSec) noexcept {
    if (ratePerSec <= 0) return true;
    if (lastMs == 0) {
        tokens = ratePerSec;  // a fresh allocation starts with a one-second burst
        lastMs = nowMs;
    }
    if (nowMs > lastMs) {
        tokens = std::min(ratePerSec, tokens + (nowMs - lastMs) * ratePerSec / 1000);
        lastMs = nowMs;
    }
    if (tokens < bytes) return false;
    tokens -= bytes;
    return true;
}

Worker::Worker(SharedState& shared, int index, UniqueFd udpListener, UniqueFd tcpListener, UniqueFd tlsListener,
               SSL_CTX* tlsContext)
    : shared_(shared),
      index_(index),
      udpListener_(std::move(udpListener)),
      tcpListener_(std::move(tcpListener)),
      tlsListener_(std::move(tlsListener)),
      tlsContext_(tlsContext) {
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    wakeup_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!epoll_ || !wakeup_) throw std::runtime_error(std::string("TURN: epoll/eventfd: ") + std::strerror(errno));
    auto add = [&](int fd, EventSource* src) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = src;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
            throw std::runtime_error(std::string("TURN: epoll_ctl: ") + std::strerror(errno));
    };
    add(wakeup_.get(), &wakeupSource_);
    if (shared_.config.ioEngine != IoEngine::Epoll) setUpUring();  // throws only for IoEngine::IoUring
    if (udpListener_ && !uring_) add(udpListener_.get(), &udpSource_);
    if (tcpListener_) add(tcpListener_.get(), &tcpSource_);
    if (tlsListener_) add(tlsListener_.get(), &tlsSource_);

    crypto::randomBytes(std::span(reinterpret_cast<std::uint8_t*>(rng_), sizeof rng_));
    rng_[0] |= 1;
    inBuffers_.resize(kBatch * kSlotSize);
    outBuffers_.resize(kBatch * kSlotSize);
    scratch_.resize(kStreamBufferSize + 64);
    for (std::size_t i = 0; i < kBatch; ++i) {
        inIov_[i] = {inBuffers_.data() + i * kSlotSize, kSlotSize};
        relayIov_[i] = {outBuffers_.data() + i * kSlotSize, kSlotSize};
    }
    nowMs_ = lastSweepMs_ = monotonicMs();
    nowUnix_ = unixNow();
}

Worker::~Worker() {
    // Release quotas held by allocations still alive (stop() without expiry).
    for (auto& [ptr, a] : allocations_) shared_.quotas.release(a->userId, a->clientIp);
}

void Worker::requestStop() noexcept {
    stopping_.store(true);
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wakeup_.get(), &one, sizeof one);
}

std::uint64_t Worker::nextRandom() noexcept {
    // xorshift128+: Data indication transaction ids need to be unpredictable
    // enough to not collide, not cryptographic, and must not cost a syscall.
    std::uint64_t s1 = rng_[0];
    const std::uint64_t s0 = rng_[1];
    rng_[0] = s0;
    s1 ^= s1 << 23;
    rng_[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rng_[1] + s0;
}

void Worker::run() {
    // A write to a TCP/TLS client that reset raises SIGPIPE in the writing
    // thread (OpenSSL's socket BIO uses plain write()); blocked here it stays
    // pending for this thread and the write fails with EPIPE instead of
    // killing the daemon. The library must not change process-wide handlers.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

    if (uring_ && !runUring()) {
        uring_.reset();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &udpSource_;
        if (udpListener_) ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, udpListener_.get(), &ev);
    }
    if (!uring_) runEpollLoop();
    // Orderly teardown on this thread: relay fds and connections close here.
    std::vector<Allocation*> all;
    for (auto& [ptr, a] : allocations_) all.push_back(ptr);
    for (Allocation* a : all) destroyAllocation(*a, false);
    std::vector<Connection*> conns;
    for (auto& [ptr, c] : connections_) conns.push_back(ptr);
    for (Connection* c : conns) closeConnection(*c);
    if (uring_) shutDownUring();  // waits for the cancelled receives, then frees their allocations
    deadAllocations_.clear();
    deadConnections_.clear();
}

void Worker::runEpollLoop() {
    while (!stopping_.load(std::memory_order_relaxed)) {
        const int n = dispatchEpoll(250);
        if (n < 0) break;
        flushUdpBatch();
        deadAllocations_.clear();
        deadConnections_.clear();
        if (nowMs_ - lastSweepMs_ >= 1000) {
            lastSweepMs_ = nowMs_;
            sweep();
            deadAllocations_.clear();
            deadConnections_.clear();
        }
    }
}

int Worker::dispatchEpoll(int timeoutMs) {
    std::array<epoll_event, 256> events{};
    int total = 0;
    for (;;) {
        const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeoutMs);
        if (timeoutMs != 0) {
            nowMs_ = monotonicMs();
            nowUnix_ = unixNow();
        }
        if (n < 0) {
            if (errno == EINTR) return total;
            log(LogLevel::Error, std::string("TURN worker epoll_wait failed: ") + std::strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; ++i) {
            auto* src = static_cast<EventSource*>(events[i].data.ptr);
            switch (src->kind) {
            case EventSource::Kind::Wakeup: {
                std::uint64_t v;
                [[maybe_unused]] auto r = ::read(wakeup_.get(), &v, sizeof v);
                break;
            }
            case EventSource::Kind::UdpListener: onUdpListenerReadable(); break;
            case EventSource::Kind::TcpListener: onAccept(tcpListener_.get(), Transport::Tcp); break;
            case EventSource::Kind::TlsListener: onAccept(tlsListener_.get(), Transport::Tls); break;
            case EventSource::Kind::Connection: {
                auto* c = static_cast<Connection*>(src);
                if (!c->dead) onConnectionEvent(*c, events[i].events);
                break;
            }
            case EventSource::Kind::Relay: {
                auto* a = static_cast<Allocation*>(src);
                if (!a->dead) onRelayReadable(*a);
                break;
            }
            }
        }
        total += n;
        // epoll engine: one wait per turn. io_uring engine (timeout 0): drain
        // the ready list, since its poll fires again only for new events.
        if (timeoutMs != 0 || n < static_cast<int>(events.size())) return total;
    }
}

// ---------------------------------------------------------------- UDP clients

void Worker::onUdpListenerReadable() {
    for (int round = 0; round < kMaxBatchesPerWakeup; ++round) {
        for (std::size_t i = 0; i < kBatch; ++i) {
            inMsgs_[i].msg_hdr = {};
            inMsgs_[i].msg_hdr.msg_name = &inAddrs_[i];
            inMsgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
            inMsgs_[i].msg_hdr.msg_iov = &inIov_[i];
            inMsgs_[i].msg_hdr.msg_iovlen = 1;
            inMsgs_[i].msg_len = 0;
        }
        const int n = ::recvmmsg(udpListener_.get(), inMsgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) return;
        for (int i = 0; i < n; ++i) {
            const auto& h = inMsgs_[static_cast<std::size_t>(i)].msg_hdr;
            if (h.msg_flags & MSG_TRUNC) {
                counters_.dropsOversized.add();
                continue;
            }
            const Client client{Transport::Udp,
                                SocketAddress::fromSockaddr(static_cast<const sockaddr*>(h.msg_name), h.msg_namelen),
                                nullptr};
            onDatagramFromClient(client, std::span<const std::uint8_t>(inBuffers_.data() + static_cast<std::size_t>(i) * kSlotSize,
                                                                        inMsgs_[static_cast<std::size_t>(i)].msg_len));
        }
        if (static_cast<std::size_t>(n) < kBatch) return;
    }
}

void Worker::onDatagramFromClient(const Client& client, std::span<const std::uint8_t> data) {
    if (data.size() >= 4 && stun::isChannelData(data[0])) {
        Allocation* a = findAllocation(client);
        if (!a) {
            counters_.dropsNoAllocation.add();
            return;
        }
        relayChannelDataFromClient(*a, data);
        return;
    }
    onStunMessage(client, data);
}

// ---------------------------------------------------------------- lifetime

bool Worker::bindRelaySocket(bool evenPort, bool reserveNext, UniqueFd& fd, SocketAddress& bound, UniqueFd& nextFd,
                             SocketAddress& nextBound) {
    const SocketAddress base = shared_.relayBindAddress;
    auto tryBind = [&](std::uint16_t port, UniqueFd& out, SocketAddress& where) {
        UniqueFd s(::socket(base.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!s) return false;
        // Room for a burst from the peer while the worker serves other
        // sockets; memory is only used while packets actually queue.
        const int size = 1 << 20;
        ::setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        SocketAddress addr = base;
        addr.setPort(port);
        if (::bind(s.get(), addr.sockaddrPtr(), addr.length()) != 0) return false;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&ss), &len);
        where = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
        out = std::move(s);
        return true;
    };
    const int lo = shared_.config.relayPortMin, hi = shared_.config.relayPortMax;
    if (lo == 0) {
        for (int attempt = 0; attempt < 64; ++attempt) {
            UniqueFd s;
            SocketAddress where;
            if (!tryBind(0, s, where)) return false;
            if (evenPort && where.port() % 2 != 0) continue;
            if (reserveNext && (where.port() == 0xFFFF || !tryBind(static_cast<std::uint16_t>(where.port() + 1), nextFd, nextBound)))
                continue;
            fd = std::move(s);
            bound = where;
            return true;
        }
        return false;
    }
    const int range = hi - lo + 1;
    const int start = static_cast<int>(nextRandom() % static_cast<std::uint64_t>(range));
    const int maxAttempts = std::min(range, 4096);
    for (int i = 0; i < maxAttempts; ++i) {
        const int port = lo + (start + i) % range;
        if (evenPort && port % 2 != 0) continue;
        if (reserveNext && port + 1 > hi) continue;
        UniqueFd s;
        SocketAddress where;
        if (!tryBind(static_cast<std::uint16_t>(port), s, where)) continue;
        if (reserveNext && !tryBind(static_cast<std::uint16_t>(port + 1), nextFd, nextBound)) continue;
        fd = std::move(s);
        bound = where;
        return true;
    }
    return false;
}

void Worker::destroyAllocation(Allocation& a, bool expired) {
    if (a.dead) return;
    a.dead = true;
    const bool draining = unwatchRelaySocket(a);
    if (a.transport == Transport::Udp) udpAllocations_.erase(a.client);
    else if (a.connection) a.connection->allocation = nullptr;
    shared_.quotas.release(a.userId, a.clientIp);
    counters_.allocationsActive.sub();
    if (expired) counters_.allocationsExpired.add();
    log(LogLevel::Debug, "TURN allocation deleted: user=" + a.userId + " client=" + std::string(transportName(a.transport)) +
                             "/" + a.client.toString() + " relay=" + a.relayAddress.toString() +
                             (expired ? " (expired)" : "") + " packets=" + std::to_string(a.packetsFromClient.get()) + "/" +
                             std::to_string(a.packetsToClient.get()));
    std::lock_guard lock(registryMutex_);
    auto it = allocations_.find(&a);
    if (it != allocations_.end()) {
        // io_uring: the receive still holds the socket and names this
        // allocation until its final completion, which frees it.
        if (draining) keepUntilCancelled(std::move(it->second));
        else deadAllocations_.push_back(std::move(it->second));
        allocations_.erase(it);
    }
}

bool Worker::watchRelaySocket(Allocation& a) {
    if (uring_) return armRelayReceive(a);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<EventSource*>(&a);
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, a.relayFd.get(), &ev) == 0;
}

bool Worker::unwatchRelaySocket(Allocation& a) {
    if (uring_) return cancelRelayReceive(a);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, a.relayFd.get(), nullptr);
    return false;
}

void Worker::sweep() {
    std::vector<Allocation*> expired;
    for (auto& [ptr, a] : allocations_) {
        if (a->expiresMs.load(std::memory_order_relaxed) <= nowMs_) {
            expired.push_back(ptr);
            continue;
        }
        std::erase_if(a->permissions, [&](const Permission& p) { return p.expiresMs <= nowMs_; });
        std::erase_if(a->channels, [&](const Channel& c) { return c.expiresMs <= nowMs_; });
        a->permissionCount.set(a->permissions.size());
        a->channelCount.set(a->channels.size());
    }
    for (Allocation* a : expired) destroyAllocation(*a, true);
    std::vector<Connection*> idle;
    for (auto& [ptr, c] : connections_)
        if (!c->allocation && nowMs_ - c->lastActivityMs > kIdleConnectionMs) idle.push_back(ptr);
    for (Connection* c : idle) closeConnection(*c);
    if (index_ == 0) shared_.reservations.expire(nowUnix_);
}

// ---------------------------------------------------------------- snapshots

void Worker::addStats(RelayStats& s) const {
    const auto& k = counters_;
    s.allocationsActive += k.allocationsActive.get();
    s.allocationsCreated += k.allocationsCreated.get();
    s.allocationsExpired += k.allocationsExpired.get();
    s.tcpConnectionsActive += k.tcpConnectionsActive.get();
    s.packetsFromClients += k.packetsFromClients.get();
    s.bytesFromClients += k.bytesFromClients.get();
    s.packetsToClients += k.packetsToClients.get();
    s.bytesToClients += k.bytesToClients.get();
    s.stunRequests += k.stunRequests.get();
    s.authFailures += k.authFailures.get();
    s.staleNonces += k.staleNonces.get();
    s.peerDenied += k.peerDenied.get();
    s.quotaRejections += k.quotaRejections.get();
    s.capacityRejections += k.capacityRejections.get();
    s.dropsMalformed += k.dropsMalformed.get();
    s.dropsOversized += k.dropsOversized.get();
    s.dropsNoAllocation += k.dropsNoAllocation.get();
    s.dropsUnknownChannel += k.dropsUnknownChannel.get();
    s.dropsNoPermission += k.dropsNoPermission.get();
    s.dropsBandwidth += k.dropsBandwidth.get();
    s.dropsBackpressure += k.dropsBackpressure.get();
}

void Worker::addAllocations(std::vector<AllocationInfo>& out) const {
    const std::int64_t now = monotonicMs();
    std::lock_guard lock(registryMutex_);
    for (const auto& [ptr, a] : allocations_) {
        AllocationInfo info;
        info.username = a->username;
        info.transport = transportName(a->transport);
        info.clientAddress = a->client.toString();
        info.relayAddress = a->relayAddress.toString();
        info.secondsLeft = std::max<std::int64_t>(0, (a->expiresMs.load(std::memory_order_relaxed) - now) / 1000);
        info.packetsFromClient = a->packetsFromClient.get();
        info.bytesFromClient = a->bytesFromClient.get();
        info.packetsToClient = a->packetsToClient.get();
        info.bytesToClient = a->bytesToClient.get();
        info.permissions = a->permissionCount.get();
        info.channels = a->channelCount.get();
        out.push_back(std::move(info));
    }
}

}  // namespace consultd::turn
