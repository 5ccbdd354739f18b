// Worker: the relay path (ChannelData, Send and Data indications, peer
// packets). Runs per packet: no allocation, no lock, no syscall beyond the
// socket operations themselves (the io_uring engine queues UDP sends and
// submits them once per turn).
#include "Worker.h"

#include "WorkerDetail.h"

#include <sys/socket.h>

#include <cstring>

namespace consultd::turn {

using namespace worker_detail;
namespace attr = stun::attr;
using stun::MessageClass;
using stun::Method;

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
    if (uring_ && a.transport == Transport::Udp) {
        // The payload lies in the datagram's receive buffer, which the
        // engine keeps until flushUdpBatch() has submitted this send.
        if (peerCount_ == kBatch) flushUdpBatch();
        const std::size_t slot = peerCount_;
        peerDest_[slot] = peer;
        peerIov_[slot] = {const_cast<std::uint8_t*>(payload.data()), payload.size()};
        msghdr& m = peerMsgs_[slot];
        m = {};
        m.msg_name = const_cast<sockaddr*>(peerDest_[slot].sockaddrPtr());
        m.msg_namelen = peerDest_[slot].length();
        m.msg_iov = &peerIov_[slot];
        m.msg_iovlen = 1;
        if (!queueUringSend(a.relayFd.get(), &m, true, payload.size())) {
            counters_.dropsBackpressure.add();
            return false;
        }
        ++peerCount_;
        ++peerSendsQueued_;
    } else {
        // TCP/TLS clients (their frame is consumed from the stream buffer
        // right after this call) and the epoll engine send at once.
        const ssize_t n = ::sendto(a.relayFd.get(), payload.data(), payload.size(), MSG_DONTWAIT,
                                   peer.sockaddrPtr(), peer.length());
        if (n < 0) {
            counters_.dropsBackpressure.add();
            return false;
        }
        counters_.packetsFromClients.add();
        counters_.bytesFromClients.add(payload.size());
    }
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
        // Payload slot base + i belongs to message i; a message queued for the
        // batch keeps its slot until flushUdpBatch(), which frees them all.
        // The queue (outCount_) never outgrows the slots in use, so
        // relayFromPeer() does not flush while these slots are referenced.
        outSlotsUsed_ += static_cast<std::size_t>(n);
        for (int i = 0; i < n; ++i) {
            const auto idx = static_cast<std::size_t>(i);
            const auto& h = relayMsgs_[idx].msg_hdr;
            if (h.msg_flags & MSG_TRUNC) {
                counters_.dropsOversized.add();
                continue;
            }
            relayFromPeer(a, SocketAddress::fromSockaddr(static_cast<const sockaddr*>(h.msg_name), h.msg_namelen),
                          outBuffers_.data() + (base + idx) * kSlotSize, relayMsgs_[idx].msg_len);
        }
        if (static_cast<std::size_t>(n) < room) return;
    }
}

bool Worker::relayFromPeer(Allocation& a, const SocketAddress& peer, std::uint8_t* payload, std::size_t size) {
    if (!permitted(a, peer)) {
        counters_.dropsNoPermission.add();
        return false;
    }
    if (!a.toClientBucket.take(static_cast<std::int64_t>(size), nowMs_, shared_.config.maxBandwidthBytesPerSec)) {
        counters_.dropsBandwidth.add();
        return false;
    }
    const Channel* channel = nullptr;
    for (const auto& ch : a.channels)
        if (ch.expiresMs > nowMs_ && ch.peer == peer) {
            channel = &ch;
            break;
        }
    // A full batch goes out first (io_uring: buffers are not slots, so the
    // batch can fill up within a turn; epoll: never, see onRelayReadable).
    if (a.transport == Transport::Udp && outCount_ == kBatch) flushUdpBatch();
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
            return false;
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
        return true;
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
    return false;
}

void Worker::flushUdpBatch() {
    if (uring_) {
        // One submission carries this turn's sends both ways, instead of a
        // sendto() per client datagram and a sendmmsg() per batch.
        for (std::size_t i = 0; i < outCount_; ++i) {
            if (!queueUringSend(udpListener_.get(), &outMsgs_[i].msg_hdr, false, outIov_[i][1].iov_len))
                counters_.dropsBackpressure.add();
        }
        outCount_ = 0;
        outSlotsUsed_ = 0;
        peerCount_ = 0;
        submitUringSends();  // then gives the batch's buffers back
        return;
    }
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

}  // namespace consultd::turn
