// Worker: TCP and TLS clients: accept, framing (RFC 8656 12.5 / RFC 8489
// 6.2.2), buffered writes, TLS handshakes.
#include "Worker.h"

#include "WorkerDetail.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace consultd::turn {

using namespace worker_detail;
namespace attr = stun::attr;
using stun::MessageClass;
using stun::Method;

namespace {

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

}  // namespace consultd::turn
