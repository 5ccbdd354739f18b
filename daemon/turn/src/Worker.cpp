#include "Worker.h"

#include "TurnCrypto.h"
#include "consultd/turn/Credentials.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>

#include <csignal>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace consultd::turn {
namespace {

namespace attr = stun::attr;
using stun::MessageClass;
using stun::Method;

constexpr std::int64_t kPermissionLifetimeMs = 300'000;  // RFC 8656 9
constexpr std::int64_t kChannelLifetimeMs = 600'000;     // RFC 8656 12
constexpr std::int64_t kReservationLifetimeSec = 30;     // RFC 8656 7.2
constexpr std::int64_t kIdleConnectionMs = 30'000;       // TCP without allocation
constexpr std::size_t kMaxPermissions = 64;
constexpr std::size_t kMaxChannels = 64;
constexpr std::size_t kStreamBufferSize = 65536 + 64;     // largest frame: 0xFFFF body + header
constexpr std::size_t kMaxOutBuffer = 512 * 1024;         // then drop, as UDP would
constexpr std::size_t kMaxConnectionsPerWorker = 4096;
constexpr int kMaxBatchesPerWakeup = 8;                   // fairness between sockets

std::uint16_t readU16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
void writeU16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

std::int64_t monotonicNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock clock_nanosleep waits on
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
std::int64_t monotonicMs() { return monotonicNs() / 1'000'000; }
std::int64_t unixNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

const char* transportName(Transport t) {
    switch (t) {
    case Transport::Udp: return "udp";
    case Transport::Tcp: return "tcp";
    case Transport::Tls: return "tls";
    }
    return "?";
}

// The attributes this relay understands; any other comprehension-required
// one gets 420 (RFC 8489 7.3.1).
bool knownAttribute(std::uint16_t type) {
    switch (type) {
    case attr::Username: case attr::MessageIntegrity: case attr::MessageIntegritySha256: case attr::Realm:
    case attr::Nonce: case attr::ChannelNumber: case attr::Lifetime: case attr::XorPeerAddress: case attr::Data:
    case attr::RequestedAddressFamily: case attr::EvenPort: case attr::RequestedTransport:
    case attr::DontFragment: case attr::ReservationToken: case attr::Fingerprint: case attr::Bandwidth:
    case attr::Priority: case attr::UseCandidate: case attr::Padding: case attr::ResponsePort:
    case attr::ChangeRequest: case attr::XorMappedAddress: case attr::MappedAddress:
        return true;
    default:
        return !stun::isComprehensionRequired(type);
    }
}

// Plausible start of the next TCP frame (used to accept unpadded ChannelData
// from clients that do not pad, as some older TURN clients do).
bool plausibleFrameStart(const std::uint8_t* p, std::size_t available) {
    if (available < 4) return true;
    if (stun::isChannelData(p[0])) return stun::isValidChannel(readU16(p));
    if ((p[0] & 0xC0) != 0) return false;
    if (available < 8) return true;
    return p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xA4 && p[7] == 0x42;
}

}  // namespace

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
    if (udpListener_) add(udpListener_.get(), &udpSource_);
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

    std::array<epoll_event, 256> events{};
    while (!stopping_.load(std::memory_order_relaxed)) {
        const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 250);
        nowMs_ = monotonicMs();
        nowUnix_ = unixNow();
        if (n < 0 && errno != EINTR) {
            log(LogLevel::Error, std::string("TURN worker epoll_wait failed: ") + std::strerror(errno));
            break;
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
    // Orderly teardown on this thread: relay fds and connections close here.
    std::vector<Allocation*> all;
    for (auto& [ptr, a] : allocations_) all.push_back(ptr);
    for (Allocation* a : all) destroyAllocation(*a, false);
    std::vector<Connection*> conns;
    for (auto& [ptr, c] : connections_) conns.push_back(ptr);
    for (Connection* c : conns) closeConnection(*c);
    deadAllocations_.clear();
    deadConnections_.clear();
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

// ---------------------------------------------------------------- relay path

bool Worker::permitted(const Allocation& a, const SocketAddress& peer) const noexcept {
    for (const auto& p : a.permissions)
        if (p.expiresMs > nowMs_ && p.peer.sameIp(peer)) return true;
    return false;
}

bool Worker::sendToPeer(Allocation& a, const SocketAddress& peer, std::span<const std::uint8_t> payload) {
    if (!permitted(a, peer)) {
        counters_.dropsNoPermission.add();
        return false;
    }
    if (!a.fromClientBucket.take(static_cast<std::int64_t>(payload.size()), nowMs_, shared_.config.maxBandwidthBytesPerSec)) {
        counters_.dropsBandwidth.add();
        return false;
    }
    const ssize_t n = ::sendto(a.relayFd.get(), payload.data(), payload.size(), MSG_DONTWAIT, peer.sockaddrPtr(),
                               peer.length());
    if (n < 0) {
        counters_.dropsBackpressure.add();
        return false;
    }
    counters_.packetsFromClients.add();
    counters_.bytesFromClients.add(payload.size());
    a.packetsFromClient.add();
    a.bytesFromClient.add(payload.size());
    return true;
}

void Worker::relayChannelDataFromClient(Allocation& a, std::span<const std::uint8_t> frame) {
    const std::uint16_t number = readU16(frame.data());
    const std::size_t length = readU16(frame.data() + 2);
    if (length + 4 > frame.size()) {
        counters_.dropsMalformed.add();
        return;
    }
    for (const auto& ch : a.channels) {
        if (ch.number == number && ch.expiresMs > nowMs_) {
            sendToPeer(a, ch.peer, frame.subspan(4, length));
            return;
        }
    }
    counters_.dropsUnknownChannel.add();
}

void Worker::relaySendIndication(Allocation& a, const stun::StunMessageView& m) {
    const auto peer = m.findXorAddress(attr::XorPeerAddress);
    const stun::Attribute* data = m.find(attr::Data);
    if (!peer || !data) {
        counters_.dropsMalformed.add();
        return;
    }
    sendToPeer(a, *peer, data->value);
}

void Worker::onRelayReadable(Allocation& a) {
    for (int round = 0; round < kMaxBatchesPerWakeup && !a.dead; ++round) {
        if (outSlotsUsed_ == kBatch) flushUdpBatch();
        const std::size_t base = outSlotsUsed_;
        const std::size_t room = kBatch - base;
        for (std::size_t i = 0; i < room; ++i) {
            auto& h = relayMsgs_[i].msg_hdr;
            h = {};
            h.msg_name = &relayAddrs_[i];
            h.msg_namelen = sizeof(sockaddr_storage);
            relayIov_[i] = {outBuffers_.data() + (base + i) * kSlotSize, kSlotSize};
            h.msg_iov = &relayIov_[i];
            h.msg_iovlen = 1;
        }
        const int n = ::recvmmsg(a.relayFd.get(), relayMsgs_.data(), static_cast<unsigned>(room), MSG_DONTWAIT, nullptr);
        if (n <= 0) return;
        outSlotsUsed_ += static_cast<std::size_t>(n);
        for (int i = 0; i < n; ++i) {
            const auto idx = static_cast<std::size_t>(i);
            const auto& h = relayMsgs_[idx].msg_hdr;
            if (h.msg_flags & MSG_TRUNC) {
                counters_.dropsOversized.add();
                continue;
            }
            const SocketAddress peer =
                SocketAddress::fromSockaddr(static_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
            const std::size_t size = relayMsgs_[idx].msg_len;
            if (!permitted(a, peer)) {
                counters_.dropsNoPermission.add();
                continue;
            }
            if (!a.toClientBucket.take(static_cast<std::int64_t>(size), nowMs_, shared_.config.maxBandwidthBytesPerSec)) {
                counters_.dropsBandwidth.add();
                continue;
            }
            std::uint8_t* payload = outBuffers_.data() + (base + idx) * kSlotSize;
            const Channel* channel = nullptr;
            for (const auto& ch : a.channels)
                if (ch.expiresMs > nowMs_ && ch.peer == peer) {
                    channel = &ch;
                    break;
                }
            // Header: ChannelData (4 bytes) or a Data indication (RFC 8656 11.3 / 12.5).
            std::uint8_t* header = outHeaders_[outCount_].data();
            std::size_t headerSize = 0;
            std::size_t padding = 0;
            if (channel) {
                writeU16(header, channel->number);
                writeU16(header + 2, static_cast<std::uint16_t>(size));
                headerSize = 4;
                if (a.transport != Transport::Udp) padding = (4 - size % 4) % 4;  // TCP must pad
            } else {
                if (size > 0xFFFF - 64) {
                    counters_.dropsOversized.add();
                    continue;
                }
                padding = (4 - size % 4) % 4;
                const std::size_t addrLen = peer.family() == AF_INET6 ? 20 : 8;
                const std::size_t body = 4 + addrLen + 4 + size + padding;
                writeU16(header, stun::messageType(Method::Data, MessageClass::Indication));
                writeU16(header + 2, static_cast<std::uint16_t>(body));
                header[4] = 0x21, header[5] = 0x12, header[6] = 0xA4, header[7] = 0x42;
                const std::uint64_t r1 = nextRandom(), r2 = nextRandom();
                std::memcpy(header + 8, &r1, 8);
                std::memcpy(header + 16, &r2, 4);
                writeU16(header + 20, attr::XorPeerAddress);
                writeU16(header + 22, static_cast<std::uint16_t>(addrLen));
                stun::encodeXorAddress(peer, std::span<const std::uint8_t, 12>(header + 8, 12), header + 24);
                writeU16(header + 24 + addrLen, attr::Data);
                writeU16(header + 26 + addrLen, static_cast<std::uint16_t>(size));
                headerSize = 28 + addrLen;
            }
            static const std::uint8_t zeros[4] = {0, 0, 0, 0};
            a.packetsToClient.add();
            a.bytesToClient.add(size);
            if (a.transport == Transport::Udp) {
                const std::size_t slot = outCount_++;
                outDest_[slot] = a.client;
                outAlloc_[slot] = &a;
                outIov_[slot][0] = {header, headerSize};
                outIov_[slot][1] = {payload, size};
                outIov_[slot][2] = {const_cast<std::uint8_t*>(zeros), padding};
                auto& mh = outMsgs_[slot].msg_hdr;
                mh = {};
                mh.msg_name = const_cast<sockaddr*>(outDest_[slot].sockaddrPtr());
                mh.msg_namelen = outDest_[slot].length();
                mh.msg_iov = outIov_[slot].data();
                mh.msg_iovlen = padding ? 3 : 2;
            } else if (a.connection) {
                if (writeToConnection(*a.connection, {std::span<const std::uint8_t>(header, headerSize),
                                                      std::span<const std::uint8_t>(payload, size),
                                                      std::span<const std::uint8_t>(zeros, padding)})) {
                    counters_.packetsToClients.add();
                    counters_.bytesToClients.add(size);
                } else {
                    counters_.dropsBackpressure.add();
                }
            }
        }
        // Queued UDP messages point at payload slots [0, outSlotsUsed_), which
        // the next recvmmsg leaves alone; flushUdpBatch() frees them all.
        if (static_cast<std::size_t>(n) < room) return;
    }
}

void Worker::flushUdpBatch() {
    std::size_t sent = 0;
    while (sent < outCount_) {
        const int n = ::sendmmsg(udpListener_.get(), outMsgs_.data() + sent, static_cast<unsigned>(outCount_ - sent),
                                 MSG_DONTWAIT);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            // Count each unsent packet once and skip it, as UDP would lose it.
            counters_.dropsBackpressure.add();
            ++sent;
            continue;
        }
        for (std::size_t i = sent; i < sent + static_cast<std::size_t>(n); ++i) {
            counters_.packetsToClients.add();
            counters_.bytesToClients.add(outIov_[i][1].iov_len);
        }
        sent += static_cast<std::size_t>(n);
    }
    outCount_ = 0;
    outSlotsUsed_ = 0;
}

// ---------------------------------------------------------------- STUN

void Worker::sendToClient(const Client& client, std::span<const std::uint8_t> bytes) {
    if (client.transport == Transport::Udp) {
        ::sendto(udpListener_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT, client.address.sockaddrPtr(),
                 client.address.length());
    } else if (client.connection && !client.connection->dead) {
        if (!writeToConnection(*client.connection, {bytes})) counters_.dropsBackpressure.add();
    }
}

Worker::Allocation* Worker::findAllocation(const Client& client) const {
    if (client.transport == Transport::Udp) {
        auto it = udpAllocations_.find(client.address);
        return it == udpAllocations_.end() ? nullptr : it->second;
    }
    return client.connection ? client.connection->allocation : nullptr;
}

void Worker::onStunMessage(const Client& client, std::span<const std::uint8_t> bytes) {
    stun::StunMessageView m;
    if (m.parse(bytes) != stun::ParseResult::Ok) {
        counters_.dropsMalformed.add();
        return;
    }
    switch (m.messageClass()) {
    case MessageClass::Request:
        handleRequest(client, m);
        return;
    case MessageClass::Indication:
        if (m.method() == Method::Send) {
            if (Allocation* a = findAllocation(client)) relaySendIndication(*a, m);
            else counters_.dropsNoAllocation.add();
        }
        return;  // Binding indications are keepalives: nothing to do
    default:
        counters_.dropsMalformed.add();  // we never sent a request this could answer
        return;
    }
}

void Worker::finishAndSend(const Client& client, stun::StunMessageBuilder& b, const std::array<std::uint8_t, 16>* key,
                           bool sha256, Allocation* cacheOn, const stun::StunMessageView& request) {
    if (!shared_.config.software.empty()) b.addString(attr::Software, shared_.config.software);
    if (key) {
        if (sha256) b.addMessageIntegritySha256(*key);
        else b.addMessageIntegrity(*key);
    }
    b.addFingerprint();
    if (!b.ok()) {
        log(LogLevel::Error, "TURN: response did not fit its buffer");
        return;
    }
    const auto bytes = b.bytes();
    if (cacheOn && bytes.size() <= cacheOn->lastResponse.size()) {
        std::copy(request.transactionId().begin(), request.transactionId().end(), cacheOn->lastTransaction.begin());
        std::copy(bytes.begin(), bytes.end(), cacheOn->lastResponse.begin());
        cacheOn->lastResponseSize = bytes.size();
    }
    sendToClient(client, bytes);
}

void Worker::sendError(const Client& client, const stun::StunMessageView& m, int code,
                       const std::array<std::uint8_t, 16>* key, std::span<const std::uint16_t> unknown) {
    std::array<std::uint8_t, 512> buffer;
    stun::StunMessageBuilder b(buffer, m.method(), MessageClass::Error, m.transactionId());
    b.addError(code, stun::reasonPhrase(code));
    if (!unknown.empty()) b.addUnknownAttributes(unknown);
    finishAndSend(client, b, key, key && m.usesSha256Integrity(), nullptr, m);
}

void Worker::sendChallenge(const Client& client, const stun::StunMessageView& m, int code) {
    std::array<std::uint8_t, 512> buffer;
    stun::StunMessageBuilder b(buffer, m.method(), MessageClass::Error, m.transactionId());
    b.addError(code, stun::reasonPhrase(code));
    b.addString(attr::Realm, shared_.config.realm);
    b.addString(attr::Nonce, shared_.nonces.issue(client.address, nowUnix_));
    finishAndSend(client, b, nullptr, false, nullptr, m);
}

void Worker::handleRequest(const Client& client, const stun::StunMessageView& m) {
    counters_.stunRequests.add();
    Allocation* existing = findAllocation(client);
    if (existing && existing->lastResponseSize > 0 &&
        std::equal(m.transactionId().begin(), m.transactionId().end(), existing->lastTransaction.begin())) {
        // A retransmission: answer exactly as before, change nothing.
        sendToClient(client, std::span<const std::uint8_t>(existing->lastResponse.data(), existing->lastResponseSize));
        return;
    }

    std::array<std::uint16_t, 8> unknown{};
    std::size_t unknownCount = 0;
    for (const auto& a : m.attributes())
        if (!knownAttribute(a.type) && unknownCount < unknown.size()) unknown[unknownCount++] = a.type;
    if (unknownCount > 0) {
        sendError(client, m, 420, nullptr, std::span<const std::uint16_t>(unknown.data(), unknownCount));
        return;
    }

    if (m.method() == Method::Binding) {
        if (auto change = m.findU32(attr::ChangeRequest); change && (*change & 0x6) != 0) {
            // No alternate address to answer from (RFC 5780 needs two IPs).
            const std::uint16_t t = attr::ChangeRequest;
            sendError(client, m, 420, nullptr, std::span<const std::uint16_t>(&t, 1));
            return;
        }
        std::array<std::uint8_t, 256> buffer;
        stun::StunMessageBuilder b(buffer, Method::Binding, MessageClass::Success, m.transactionId());
        b.addXorAddress(attr::XorMappedAddress, client.address);
        b.addAddress(attr::MappedAddress, client.address);  // for RFC 3489-era clients
        finishAndSend(client, b, nullptr, false, nullptr, m);
        return;
    }
    if (m.method() != Method::Allocate && m.method() != Method::Refresh && m.method() != Method::CreatePermission &&
        m.method() != Method::ChannelBind) {
        sendError(client, m, 400, nullptr);
        return;
    }

    // Long-term credentials (RFC 8489 9.2.4), checked before any state is made.
    if (!m.hasMessageIntegrity()) {
        sendChallenge(client, m, 401);
        return;
    }
    const auto username = m.findString(attr::Username);
    const auto realm = m.findString(attr::Realm);
    const auto nonce = m.findString(attr::Nonce);
    if (!username || !realm || !nonce) {
        sendError(client, m, 400, nullptr);
        return;
    }
    if (shared_.nonces.check(*nonce, client.address, nowUnix_) != NonceService::Check::Valid) {
        counters_.staleNonces.add();
        sendChallenge(client, m, 438);
        return;
    }
    const auto expiry = usernameExpiry(*username);
    if (!expiry || *expiry < nowUnix_ || *realm != shared_.config.realm) {
        counters_.authFailures.add();
        sendChallenge(client, m, 401);
        return;
    }
    const std::string user(*username);
    const std::string password = passwordFor(shared_.secret(), user);
    const auto key = crypto::md5(user + ":" + shared_.config.realm + ":" + password);
    if (!m.verifyIntegrity(key)) {
        counters_.authFailures.add();
        sendChallenge(client, m, 401);
        return;
    }

    if (m.method() == Method::Allocate) {
        if (existing) {
            sendError(client, m, 437, &existing->key);
            return;
        }
        handleAllocate(client, m, user, key);
        return;
    }
    if (!existing) {
        // 437 carries no integrity: there is no allocation whose key to use.
        sendError(client, m, 437, nullptr);
        return;
    }
    if (existing->username != user) {
        sendError(client, m, 441, nullptr);
        return;
    }
    existing->key = key;  // the same user; keeps working across a secret change window
    existing->sha256Integrity = m.usesSha256Integrity();
    switch (m.method()) {
    case Method::Refresh: handleRefresh(client, *existing, m); break;
    case Method::CreatePermission: handleCreatePermission(client, *existing, m); break;
    case Method::ChannelBind: handleChannelBind(client, *existing, m); break;
    default: break;
    }
}

void Worker::handleAllocate(const Client& client, const stun::StunMessageView& m, const std::string& username,
                            const std::array<std::uint8_t, 16>& key) {
    const auto transport = m.find(attr::RequestedTransport);
    if (!transport || transport->value.size() != 4) {
        sendError(client, m, 400, &key);
        return;
    }
    if (transport->value[0] != 17) {  // only UDP relaying (RFC 6062 TCP relay not offered)
        sendError(client, m, 442, &key);
        return;
    }
    const stun::Attribute* evenPort = m.find(attr::EvenPort);
    const stun::Attribute* token = m.find(attr::ReservationToken);
    const stun::Attribute* family = m.find(attr::RequestedAddressFamily);
    if ((evenPort && token) || (token && family) || (evenPort && evenPort->value.size() != 1) ||
        (token && token->value.size() != 8) || (family && family->value.size() != 4)) {
        sendError(client, m, 400, &key);
        return;
    }
    const int relayFamily = shared_.relayBindAddress.family();
    if (family) {
        const int wanted = family->value[0] == 0x01 ? AF_INET : family->value[0] == 0x02 ? AF_INET6 : -1;
        if (wanted != relayFamily) {
            sendError(client, m, 440, &key);
            return;
        }
    }

    const std::string userId(usernameId(username));
    const std::string clientIp = client.address.ipString();
    if (!shared_.quotas.tryAcquire(userId, clientIp)) {
        counters_.quotaRejections.add();
        sendError(client, m, 486, &key);
        return;
    }

    auto alloc = std::make_unique<Allocation>();
    alloc->kind = EventSource::Kind::Relay;
    SocketAddress bound;
    std::uint64_t reservationToken = 0;
    bool haveReservation = false;
    if (token) {
        std::uint64_t t = 0;
        std::memcpy(&t, token->value.data(), 8);
        auto reserved = shared_.reservations.take(t, nowUnix_);
        if (!reserved) {
            shared_.quotas.release(userId, clientIp);
            counters_.capacityRejections.add();
            sendError(client, m, 508, &key);
            return;
        }
        alloc->relayFd = std::move(reserved->fd);
        bound = reserved->address;
    } else {
        const bool even = evenPort != nullptr;
        const bool reserve = evenPort && (evenPort->value[0] & 0x80);
        const std::size_t reservationCap =
            shared_.config.maxAllocationsTotal > 0 ? static_cast<std::size_t>(shared_.config.maxAllocationsTotal) : 4096;
        if (reserve && shared_.reservations.full(reservationCap)) {
            shared_.quotas.release(userId, clientIp);
            counters_.capacityRejections.add();
            sendError(client, m, 508, &key);
            return;
        }
        UniqueFd nextFd;
        SocketAddress nextBound;
        if (!bindRelaySocket(even, reserve, alloc->relayFd, bound, nextFd, nextBound)) {
            shared_.quotas.release(userId, clientIp);
            counters_.capacityRejections.add();
            sendError(client, m, 508, &key);
            return;
        }
        if (reserve) {
            crypto::randomBytes(std::span(reinterpret_cast<std::uint8_t*>(&reservationToken), 8));
            shared_.reservations.put(reservationToken, std::move(nextFd), nextBound, nowUnix_ + kReservationLifetimeSec);
            haveReservation = true;
        }
    }
    if (m.has(attr::DontFragment)) {
        // RFC 8656 7.2: honour DONT-FRAGMENT by setting DF on the relay socket.
        const int pmtu = IP_PMTUDISC_DO;
        if (relayFamily == AF_INET) ::setsockopt(alloc->relayFd.get(), IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
        const int on = 1;
        if (relayFamily == AF_INET6) ::setsockopt(alloc->relayFd.get(), IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof on);
    }

    const auto requested = m.findU32(attr::Lifetime);
    const std::int64_t maxLifetime = shared_.config.maxAllocationLifetime;
    const std::int64_t defLifetime = std::min<std::int64_t>(shared_.config.defaultAllocationLifetime, maxLifetime);
    const std::int64_t lifetime = requested ? std::clamp<std::int64_t>(*requested, defLifetime, maxLifetime) : defLifetime;

    alloc->transport = client.transport;
    alloc->client = client.address;
    alloc->connection = client.connection;
    alloc->relayAddress = shared_.relayAdvertisedAddress;
    alloc->relayAddress.setPort(bound.port());
    alloc->username = username;
    alloc->userId = userId;
    alloc->clientIp = clientIp;
    alloc->key = key;
    alloc->sha256Integrity = m.usesSha256Integrity();
    alloc->createdMs = nowMs_;
    alloc->expiresMs.store(nowMs_ + lifetime * 1000, std::memory_order_relaxed);

    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<EventSource*>(alloc.get());
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, alloc->relayFd.get(), &ev) != 0) {
        shared_.quotas.release(userId, clientIp);
        sendError(client, m, 500, &key);
        return;
    }
    Allocation* a = alloc.get();
    {
        std::lock_guard lock(registryMutex_);
        allocations_.emplace(a, std::move(alloc));
    }
    if (client.transport == Transport::Udp) udpAllocations_[client.address] = a;
    else client.connection->allocation = a;
    counters_.allocationsActive.add();
    counters_.allocationsCreated.add();
    log(LogLevel::Debug, "TURN allocation created: user=" + userId + " client=" + std::string(transportName(a->transport)) +
                             "/" + client.address.toString() + " relay=" + a->relayAddress.toString() +
                             " lifetime=" + std::to_string(lifetime));

    std::array<std::uint8_t, 512> buffer;
    stun::StunMessageBuilder b(buffer, Method::Allocate, MessageClass::Success, m.transactionId());
    b.addXorAddress(attr::XorRelayedAddress, a->relayAddress);
    b.addU32(attr::Lifetime, static_cast<std::uint32_t>(lifetime));
    b.addXorAddress(attr::XorMappedAddress, client.address);
    if (haveReservation) b.add(attr::ReservationToken, std::span(reinterpret_cast<const std::uint8_t*>(&reservationToken), 8));
    finishAndSend(client, b, &a->key, a->sha256Integrity, a, m);
}

void Worker::handleRefresh(const Client& client, Allocation& a, const stun::StunMessageView& m) {
    if (const stun::Attribute* family = m.find(attr::RequestedAddressFamily)) {
        const int wanted = family->value.size() == 4 && family->value[0] == 0x02 ? AF_INET6 : AF_INET;
        if (wanted != a.relayAddress.family()) {
            sendError(client, m, 443, &a.key);
            return;
        }
    }
    const auto requested = m.findU32(attr::Lifetime);
    const std::int64_t maxLifetime = shared_.config.maxAllocationLifetime;
    const std::int64_t defLifetime = std::min<std::int64_t>(shared_.config.defaultAllocationLifetime, maxLifetime);
    const std::int64_t lifetime = requested ? std::min<std::int64_t>(*requested, maxLifetime) : defLifetime;

    std::array<std::uint8_t, 256> buffer;
    stun::StunMessageBuilder b(buffer, Method::Refresh, MessageClass::Success, m.transactionId());
    b.addU32(attr::Lifetime, static_cast<std::uint32_t>(lifetime));
    if (lifetime == 0) {
        const auto key = a.key;
        const bool sha = a.sha256Integrity;
        destroyAllocation(a, false);
        finishAndSend(client, b, &key, sha, nullptr, m);
        return;
    }
    a.expiresMs.store(nowMs_ + lifetime * 1000, std::memory_order_relaxed);
    finishAndSend(client, b, &a.key, a.sha256Integrity, &a, m);
}

void Worker::handleCreatePermission(const Client& client, Allocation& a, const stun::StunMessageView& m) {
    // All or nothing (RFC 8656 10.2): validate every XOR-PEER-ADDRESS first.
    std::array<SocketAddress, 16> peers;
    std::size_t count = 0;
    for (const auto& at : m.usableAttributes()) {
        if (at.type == attr::XorPeerAddress) {
            auto peer = m.xorAddress(at);
            if (!peer || count == peers.size()) {
                sendError(client, m, 400, &a.key);
                return;
            }
            peers[count++] = *peer;
        }
    }
    if (count == 0) {
        sendError(client, m, 400, &a.key);
        return;
    }
    for (std::size_t i = 0; i < count; ++i) {
        if (peers[i].family() != a.relayAddress.family()) {
            sendError(client, m, 443, &a.key);
            return;
        }
        if (!shared_.policy.allowed(peers[i])) {
            counters_.peerDenied.add();
            sendError(client, m, 403, &a.key);
            return;
        }
    }
    for (std::size_t i = 0; i < count; ++i) {
        auto it = std::find_if(a.permissions.begin(), a.permissions.end(),
                               [&](const Permission& p) { return p.peer.sameIp(peers[i]); });
        if (it != a.permissions.end()) {
            it->expiresMs = nowMs_ + kPermissionLifetimeMs;
        } else if (a.permissions.size() >= kMaxPermissions) {
            counters_.capacityRejections.add();
            sendError(client, m, 508, &a.key);
            return;
        } else {
            a.permissions.push_back({peers[i], nowMs_ + kPermissionLifetimeMs});
        }
    }
    a.permissionCount.set(a.permissions.size());
    std::array<std::uint8_t, 256> buffer;
    stun::StunMessageBuilder b(buffer, Method::CreatePermission, MessageClass::Success, m.transactionId());
    finishAndSend(client, b, &a.key, a.sha256Integrity, &a, m);
}

void Worker::handleChannelBind(const Client& client, Allocation& a, const stun::StunMessageView& m) {
    const auto channelValue = m.findU32(attr::ChannelNumber);
    const auto peer = m.findXorAddress(attr::XorPeerAddress);
    if (!channelValue || !peer) {
        sendError(client, m, 400, &a.key);
        return;
    }
    const auto number = static_cast<std::uint16_t>(*channelValue >> 16);
    if (!stun::isValidChannel(number)) {
        sendError(client, m, 400, &a.key);
        return;
    }
    if (peer->family() != a.relayAddress.family()) {
        sendError(client, m, 443, &a.key);
        return;
    }
    if (!shared_.policy.allowed(*peer)) {
        counters_.peerDenied.add();
        sendError(client, m, 403, &a.key);
        return;
    }
    Channel* match = nullptr;
    for (auto& ch : a.channels) {
        const bool sameNumber = ch.number == number;
        const bool samePeer = ch.peer == *peer;
        if (sameNumber != samePeer) {
            // RFC 8656 11.2: a number is bound to one peer and a peer to one number.
            sendError(client, m, 400, &a.key);
            return;
        }
        if (sameNumber) match = &ch;
    }
    if (!match) {
        if (a.channels.size() >= kMaxChannels) {
            counters_.capacityRejections.add();
            sendError(client, m, 508, &a.key);
            return;
        }
        a.channels.push_back({number, *peer, 0});
        match = &a.channels.back();
    }
    match->expiresMs = nowMs_ + kChannelLifetimeMs;
    auto it = std::find_if(a.permissions.begin(), a.permissions.end(),
                           [&](const Permission& p) { return p.peer.sameIp(*peer); });
    if (it != a.permissions.end()) it->expiresMs = nowMs_ + kPermissionLifetimeMs;
    else a.permissions.push_back({*peer, nowMs_ + kPermissionLifetimeMs});
    a.permissionCount.set(a.permissions.size());
    a.channelCount.set(a.channels.size());

    std::array<std::uint8_t, 256> buffer;
    stun::StunMessageBuilder b(buffer, Method::ChannelBind, MessageClass::Success, m.transactionId());
    finishAndSend(client, b, &a.key, a.sha256Integrity, &a, m);
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
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, a.relayFd.get(), nullptr);
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
        deadAllocations_.push_back(std::move(it->second));
        allocations_.erase(it);
    }
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

// ---------------------------------------------------------------- TCP / TLS

void Worker::onAccept(int listenerFd, Transport transport) {
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        UniqueFd fd(::accept4(listenerFd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) return;
        if (connections_.size() >= kMaxConnectionsPerWorker) continue;  // closes it: quota on unauthenticated state
        const int on = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        auto c = std::make_unique<Connection>();
        c->kind = EventSource::Kind::Connection;
        c->transport = transport;
        c->peer = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
        c->in.resize(kStreamBufferSize);
        c->out.reserve(16384);
        c->lastActivityMs = nowMs_;
        if (transport == Transport::Tls) {
            c->ssl.reset(SSL_new(tlsContext_));
            if (!c->ssl || SSL_set_fd(c->ssl.get(), fd.get()) != 1) continue;
            SSL_set_accept_state(c->ssl.get());
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.ptr = static_cast<EventSource*>(c.get());
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) continue;
        c->fd = std::move(fd);
        counters_.tcpConnectionsActive.add();
        Connection* raw = c.get();
        connections_.emplace(raw, std::move(c));
        if (transport == Transport::Tls) onConnectionEvent(*raw, EPOLLIN);
    }
}

void Worker::closeConnection(Connection& c) {
    if (c.dead) return;
    if (c.allocation) destroyAllocation(*c.allocation, false);  // RFC 8656: closing the connection ends it
    c.dead = true;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
    counters_.tcpConnectionsActive.sub();
    auto it = connections_.find(&c);
    if (it != connections_.end()) {
        deadConnections_.push_back(std::move(it->second));
        connections_.erase(it);
    }
}

void Worker::updateConnectionInterest(Connection& c) {
    bool want = c.out.size() > c.outHead;
    if (c.ssl && !c.handshakeDone) want = want || SSL_want_write(c.ssl.get());
    if (want == c.wantsWrite) return;
    c.wantsWrite = want;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u);
    ev.data.ptr = static_cast<EventSource*>(&c);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
}

void Worker::onConnectionEvent(Connection& c, std::uint32_t events) {
    c.lastActivityMs = nowMs_;
    if (c.ssl && !c.handshakeDone) {
        const int r = SSL_do_handshake(c.ssl.get());
        if (r == 1) {
            c.handshakeDone = true;
        } else {
            const int err = SSL_get_error(c.ssl.get(), r);
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                closeConnection(c);
                return;
            }
            updateConnectionInterest(c);
            return;
        }
    }
    if (events & EPOLLOUT) {
        flushConnection(c);
        if (c.dead) return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        // TLS reads until WANT_READ: records OpenSSL already buffered would
        // raise no further epoll event.
        for (int round = 0; (c.ssl || round < kMaxBatchesPerWakeup) && !c.dead; ++round) {
            const std::size_t room = c.in.size() - c.inSize;
            ssize_t n;
            if (c.ssl) {
                n = SSL_read(c.ssl.get(), c.in.data() + c.inSize, static_cast<int>(room));
                if (n <= 0) {
                    const int err = SSL_get_error(c.ssl.get(), static_cast<int>(n));
                    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
                    ERR_clear_error();
                    closeConnection(c);
                    return;
                }
            } else {
                n = ::recv(c.fd.get(), c.in.data() + c.inSize, room, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                    closeConnection(c);
                    return;
                }
                if (n < 0) break;
            }
            c.inSize += static_cast<std::size_t>(n);
            processStreamInput(c);
            if (!c.ssl && static_cast<std::size_t>(n) < room) break;
        }
    }
    if (!c.dead) updateConnectionInterest(c);
}

void Worker::processStreamInput(Connection& c) {
    std::size_t pos = 0;
    const Client client{c.transport, c.peer, &c};
    while (!c.dead && c.inSize - pos >= 4) {
        const std::uint8_t* p = c.in.data() + pos;
        const std::size_t available = c.inSize - pos;
        std::size_t frame = 0;
        if (stun::isChannelData(p[0])) {
            const std::size_t length = readU16(p + 2);
            frame = 4 + length;
            const std::size_t paddedFrame = 4 + ((length + 3) & ~std::size_t{3});
            if (paddedFrame != frame) {
                // RFC 8656 12.5 requires padding over TCP; accept a client that
                // does not pad when the byte after the unpadded frame clearly
                // starts the next frame and the padded position does not.
                if (available < paddedFrame) {
                    if (available < frame) break;
                    if (available == frame) break;  // wait: padding may still arrive
                    if (!plausibleFrameStart(p + frame, available - frame)) break;
                } else if (available > frame &&
                           !(plausibleFrameStart(p + frame, available - frame) &&
                             !plausibleFrameStart(p + paddedFrame, available - paddedFrame))) {
                    frame = paddedFrame;
                }
            }
            if (available < frame) break;
            if (c.allocation) relayChannelDataFromClient(*c.allocation, std::span<const std::uint8_t>(p, frame));
            else counters_.dropsNoAllocation.add();
        } else if ((p[0] & 0xC0) == 0) {
            if (available < stun::kHeaderSize) break;
            frame = stun::kHeaderSize + readU16(p + 2);
            if (available < frame) break;
            onStunMessage(client, std::span<const std::uint8_t>(p, frame));
        } else {
            counters_.dropsMalformed.add();  // lost framing: nothing after this can be trusted
            closeConnection(c);
            return;
        }
        pos += frame;
    }
    if (c.dead) return;
    if (pos > 0) {
        std::memmove(c.in.data(), c.in.data() + pos, c.inSize - pos);
        c.inSize -= pos;
    }
}

bool Worker::writeToConnection(Connection& c, std::initializer_list<std::span<const std::uint8_t>> parts) {
    std::size_t total = 0;
    for (auto part : parts) total += part.size();
    const std::size_t pending = c.out.size() - c.outHead;
    if (pending + total > kMaxOutBuffer) return false;
    std::size_t skip = 0;
    if (pending == 0 && !c.ssl) {
        // Fast path: straight to the socket; only a remainder is buffered.
        std::array<iovec, 4> iov{};
        std::size_t count = 0;
        for (auto part : parts)
            if (!part.empty() && count < iov.size())
                iov[count++] = {const_cast<std::uint8_t*>(part.data()), part.size()};
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = count;
        const ssize_t n = ::sendmsg(c.fd.get(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
        skip = n > 0 ? static_cast<std::size_t>(n) : 0;
        if (skip == total) return true;
    }
    if (c.outHead > 0 && c.outHead == c.out.size()) {
        c.out.clear();
        c.outHead = 0;
    }
    for (auto part : parts) {
        if (skip >= part.size()) {
            skip -= part.size();
            continue;
        }
        c.out.insert(c.out.end(), part.begin() + static_cast<std::ptrdiff_t>(skip), part.end());
        skip = 0;
    }
    if (c.ssl) flushConnection(c);
    if (!c.dead) updateConnectionInterest(c);
    return true;
}

void Worker::flushConnection(Connection& c) {
    while (c.out.size() > c.outHead) {
        const std::size_t pending = c.out.size() - c.outHead;
        ssize_t n;
        if (c.ssl) {
            if (!c.handshakeDone) return;
            n = SSL_write(c.ssl.get(), c.out.data() + c.outHead, static_cast<int>(std::min<std::size_t>(pending, 1 << 20)));
            if (n <= 0) {
                const int err = SSL_get_error(c.ssl.get(), static_cast<int>(n));
                if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) break;
                ERR_clear_error();
                closeConnection(c);
                return;
            }
        } else {
            n = ::send(c.fd.get(), c.out.data() + c.outHead, pending, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
                closeConnection(c);
                return;
            }
        }
        c.outHead += static_cast<std::size_t>(n);
    }
    if (c.outHead == c.out.size()) {
        c.out.clear();
        c.outHead = 0;
    } else if (c.outHead > c.out.size() / 2) {
        c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(c.outHead));
        c.outHead = 0;
    }
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
