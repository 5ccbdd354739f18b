#include "signal/SignalingHub.h"

#include <Poco/Buffer.h>
#include <Poco/Logger.h>
#include <Poco/Net/NetException.h>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace consultd::signal {

namespace {
Poco::Logger& logger() { return Poco::Logger::get("signal"); }
constexpr int kFramesPerJob = 16;  // then the socket goes back to the poller (fairness)
constexpr std::int64_t kDrainMs = 2000;
constexpr int kFin = Poco::Net::WebSocket::FRAME_FLAG_FIN;
bool writable(int fd) {
    pollfd p{fd, POLLOUT, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}
std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

/// A fixed set of threads running queued jobs. The queue is bounded by
/// construction: each connection has at most one read and one write job queued.
class SignalingHub::WorkerPool {
public:
    explicit WorkerPool(int threads) {
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
    }
    ~WorkerPool() { stop(); }
    void submit(std::function<void()> job) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            jobs_.push_back(std::move(job));
        }
        wake_.notify_one();
    }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
        threads_.clear();
    }

private:
    void run() {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
                if (jobs_.empty()) return;  // stopping and drained
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            try {
                job();
            } catch (const std::exception& e) {
                logger().error(std::string("signaling job failed: ") + e.what());
            }
        }
    }
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

struct SignalingHub::Connection {
    Connection(ConnectionId id_, Poco::Net::WebSocket socket_, std::string address_)
        : id(id_), address(std::move(address_)), socket(std::move(socket_)) {
        fd = socket.impl()->sockfd();
    }
    const ConnectionId id;
    const std::string address;
    Poco::Net::WebSocket socket;
    int fd = -1;
    const std::chrono::steady_clock::time_point accepted = std::chrono::steady_clock::now();
    /// Serialises frame I/O: a TLS session must not read and write from two threads at once.
    std::mutex ioMutex;
    std::mutex queueMutex;  // guards the members below
    std::deque<std::string> queue;
    bool writing = false;
    /// The socket's send buffer was full: the writer gave its worker back and
    /// the poller resumes it when the socket is writable (or drops it at writableDeadlineMs).
    bool awaitingWritable = false;
    std::int64_t writableDeadlineMs = 0;
    bool closeRequested = false;
    std::uint16_t closeCode = 1000;
    std::string closeReason;
    std::atomic<bool> dropped{false};
    /// After our close frame: input is read and discarded until the peer
    /// closes or drainUntil passes, so unread input cannot turn our close
    /// into a reset that loses the close frame and the error before it.
    std::atomic<bool> draining{false};
    std::atomic<std::int64_t> drainUntilMs{0};
};

SignalingHub::SignalingHub(HubOptions options) : options_(std::move(options)) {}

SignalingHub::~SignalingHub() { stop(); }

void SignalingHub::start() {
    if (rooms_ == nullptr) throw std::logic_error("SignalingHub::start without rooms");
    epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epollFd_ < 0 || wakeFd_ < 0) throw std::runtime_error("signaling: cannot create epoll/eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, wakeFd_, &ev);
    running_ = true;
    workers_ = std::make_unique<WorkerPool>(options_.workerThreads);
    loopThread_ = std::thread([this] { loop(); });
}

void SignalingHub::stop() {
    if (!running_.exchange(false)) return;
    std::vector<std::shared_ptr<Connection>> all;
    {
        std::lock_guard lock(connectionsMutex_);
        for (const auto& [id, c] : connections_) all.push_back(c);
    }
    for (const auto& c : all) {
        try {
            std::unique_lock io(c->ioMutex, std::try_to_lock);
            if (io.owns_lock()) c->socket.shutdown(Poco::Net::WebSocket::WS_ENDPOINT_GOING_AWAY, "server stopping");
        } catch (const Poco::Exception&) {
            // The peer is gone already; nothing to tell it.
        }
        drop(c);
    }
    const std::uint64_t one = 1;
    if (::write(wakeFd_, &one, sizeof one) < 0) logger().warning("signaling: cannot wake the poller");
    if (loopThread_.joinable()) loopThread_.join();
    if (workers_) workers_->stop();
    workers_.reset();
    {
        std::lock_guard lock(connectionsMutex_);
        connections_.clear();
        perAddress_.clear();
    }
    ::close(wakeFd_);
    ::close(epollFd_);
    wakeFd_ = epollFd_ = -1;
}

bool SignalingHub::full() const {
    std::lock_guard lock(connectionsMutex_);
    return connections_.size() >= options_.maxConnections;
}

bool SignalingHub::fullFor(const std::string& address) const {
    std::lock_guard lock(connectionsMutex_);
    const auto it = perAddress_.find(address);
    return it != perAddress_.end() && it->second >= options_.maxConnectionsPerAddress;
}

std::size_t SignalingHub::connectionCount() const {
    std::lock_guard lock(connectionsMutex_);
    return connections_.size();
}

bool SignalingHub::adopt(Poco::Net::WebSocket socket, const std::string& address) {
    const ConnectionId id = nextId_++;
    auto connection = std::make_shared<Connection>(id, std::move(socket), address);
    {
        std::lock_guard lock(connectionsMutex_);
        auto& fromAddress = perAddress_[address];
        if (!running_ || connections_.size() >= options_.maxConnections ||
            fromAddress >= options_.maxConnectionsPerAddress) {
            if (fromAddress == 0) perAddress_.erase(address);
            try {
                connection->socket.shutdown(1013, "signaling is at capacity; try again later");
                connection->socket.close();
            } catch (const Poco::Exception&) {
                // Refusing anyway.
            }
            return false;
        }
        connections_.emplace(id, connection);
        ++fromAddress;
    }
    try {
        connection->socket.setMaxPayloadSize(static_cast<int>(options_.maxMessageBytes));
        const Poco::Timespan frameTimeout(static_cast<long>(options_.frameTimeout.count() / 1000),
                                          static_cast<long>((options_.frameTimeout.count() % 1000) * 1000));
        connection->socket.setReceiveTimeout(frameTimeout);
        connection->socket.setSendTimeout(frameTimeout);
        connection->socket.setNoDelay(true);
    } catch (const Poco::Exception& e) {
        logger().warning("signaling: cannot set socket options: " + e.displayText());
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.u64 = id;
    if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, connection->fd, &ev) != 0) {
        logger().error("signaling: epoll_ctl ADD failed (errno " + std::to_string(errno) + ")");
        drop(connection);
        return false;
    }
    return true;
}

std::shared_ptr<SignalingHub::Connection> SignalingHub::find(ConnectionId id) const {
    std::lock_guard lock(connectionsMutex_);
    const auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second;
}

void SignalingHub::loop() {
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    auto lastSweep = std::chrono::steady_clock::now();
    while (running_) {
        // While a writer waits for a full socket, look every 20 ms; else sleep up to 500 ms.
        const int n = ::epoll_wait(epollFd_, events, kMaxEvents, awaitingWriters_ ? 20 : 500);
        if (n < 0 && errno != EINTR) {
            logger().error("signaling: epoll_wait failed (errno " + std::to_string(errno) + ")");
            break;
        }
        for (int i = 0; i < n; ++i) {
            const ConnectionId id = events[i].data.u64;
            if (id == 0) {  // wake-up: stop(), or a writer now waits for its socket
                std::uint64_t count = 0;
                if (::read(wakeFd_, &count, sizeof count) < 0) {
                    // EAGAIN: already drained.
                }
                continue;
            }
            if (auto connection = find(id)) {
                workers_->submit([this, connection] { readFrames(connection); });
            }
        }
        resumeWriters();
        const auto now = std::chrono::steady_clock::now();
        if (now - lastSweep >= std::chrono::seconds(1)) {
            lastSweep = now;
            closeIdle();
        }
    }
}

void SignalingHub::resumeWriters() {
    std::vector<std::shared_ptr<Connection>> waiting;
    {
        std::lock_guard lock(connectionsMutex_);
        for (const auto& [id, c] : connections_) {
            std::lock_guard queueLock(c->queueMutex);
            if (c->awaitingWritable) waiting.push_back(c);
        }
    }
    awaitingWriters_ = !waiting.empty();
    const std::int64_t now = nowMs();
    for (const auto& c : waiting) {
        bool resume = false;
        bool expired = false;
        {
            std::lock_guard lock(c->queueMutex);
            if (!c->awaitingWritable) continue;
            if (writable(c->fd)) {
                c->awaitingWritable = false;
                resume = true;
            } else if (now >= c->writableDeadlineMs) {
                expired = true;
            }
        }
        if (resume) workers_->submit([this, c] { writeQueued(c); });
        if (expired) drop(c);  // not even a close frame fits: a stalled reader
    }
}

void SignalingHub::closeIdle() {
    std::vector<ConnectionId> candidates;
    std::vector<std::shared_ptr<Connection>> drained;
    const auto now = std::chrono::steady_clock::now();
    const std::int64_t now_ms = nowMs();
    {
        std::lock_guard lock(connectionsMutex_);
        for (const auto& [id, c] : connections_) {
            if (c->draining && c->drainUntilMs <= now_ms) drained.push_back(c);
            else if (now - c->accepted >= options_.joinTimeout) candidates.push_back(id);
        }
    }
    for (const auto& c : drained) drop(c);
    for (const ConnectionId id : candidates) {
        if (!rooms_->joined(id)) close(id, kClosePolicy, "no join within the join timeout");
    }
}

void SignalingHub::rearm(const Connection& connection) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.u64 = connection.id;
    ::epoll_ctl(epollFd_, EPOLL_CTL_MOD, connection.fd, &ev);  // ENOENT after drop(): fine
}

void SignalingHub::readFrames(const std::shared_ptr<Connection>& connection) {
    using Poco::Net::WebSocket;
    if (connection->draining) {
        char discard[16384];
        for (int i = 0; i < 64; ++i) {
            const ssize_t got = ::recv(connection->fd, discard, sizeof discard, MSG_DONTWAIT);
            if (got > 0) continue;
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
            drop(connection);  // the peer closed too (or reset): done
            return;
        }
        if (!connection->dropped) rearm(*connection);
        return;
    }
    for (int frame = 0; frame < kFramesPerJob; ++frame) {
        if (connection->dropped) return;
        Poco::Buffer<char> buffer(0);
        int flags = 0;
        int n = 0;
        bool more = false;
        try {
            std::lock_guard io(connection->ioMutex);
            n = connection->socket.receiveFrame(buffer, flags);
        } catch (const Poco::Net::WebSocketException& e) {
            if (e.code() == WebSocket::WS_ERR_PAYLOAD_TOO_BIG) {
                // The rest of the frame is still in the socket: nothing more can be read.
                rooms_->onOversizedMessage(connection->id);
                return;
            }
            drop(connection);
            return;
        } catch (const Poco::Exception&) {
            drop(connection);  // reset, timeout inside a frame, TLS error
            return;
        }
        const int opcode = flags & WebSocket::FRAME_OP_BITMASK;
        if (n == 0 && flags == 0) {
            drop(connection);  // peer closed the TCP connection
            return;
        }
        if (opcode == WebSocket::FRAME_OP_CLOSE) {
            bool answer = false;
            {
                std::lock_guard lock(connection->queueMutex);
                answer = !connection->closeRequested;
                connection->closeRequested = true;
            }
            if (answer) {
                try {
                    std::lock_guard io(connection->ioMutex);
                    connection->socket.sendFrame(buffer.begin(), n, kFin | WebSocket::FRAME_OP_CLOSE);
                } catch (const Poco::Exception&) {
                    // The peer asked to close; it may be gone already.
                }
            }
            drop(connection);
            return;
        }
        if (opcode == WebSocket::FRAME_OP_PING) {
            try {
                std::lock_guard io(connection->ioMutex);
                connection->socket.sendFrame(buffer.begin(), n, kFin | WebSocket::FRAME_OP_PONG);
            } catch (const Poco::Exception&) {
                drop(connection);
                return;
            }
        } else if (opcode == WebSocket::FRAME_OP_TEXT || opcode == WebSocket::FRAME_OP_BINARY) {
            if ((flags & WebSocket::FRAME_FLAG_FIN) == 0) {
                close(connection->id, 1003, "fragmented messages are not supported");
                return;
            }
            try {
                rooms_->onMessage(connection->id, std::string(buffer.begin(), static_cast<std::size_t>(n)));
            } catch (const std::exception& e) {
                logger().error(std::string("signaling: message handling failed: ") + e.what());
                close(connection->id, kCloseUnavailable, "internal error");
                return;
            }
        } else if (opcode == WebSocket::FRAME_OP_CONT) {
            close(connection->id, 1003, "fragmented messages are not supported");
            return;
        }
        try {
            std::lock_guard io(connection->ioMutex);
            more = connection->socket.available() > 0;
        } catch (const Poco::Exception&) {
            more = false;
        }
        if (!more) break;
        if (frame == kFramesPerJob - 1) {
            // Data buffered in user space (TLS, WebSocket) does not wake epoll: requeue.
            workers_->submit([this, connection] { readFrames(connection); });
            return;
        }
    }
    if (!connection->dropped) rearm(*connection);
}

void SignalingHub::send(ConnectionId id, std::string text) {
    auto connection = find(id);
    if (!connection) return;
    {
        std::lock_guard lock(connection->queueMutex);
        if (connection->closeRequested) return;
        if (connection->queue.size() >= options_.sendQueueMessages) {
            // A slow consumer: it does not get to make the daemon hold more.
            connection->queue.clear();
            connection->closeRequested = true;
            connection->closeCode = kClosePolicy;
            connection->closeReason = "slow consumer: send queue full";
        } else {
            connection->queue.push_back(std::move(text));
        }
    }
    scheduleWrite(connection);
}

void SignalingHub::close(ConnectionId id, std::uint16_t code, const std::string& reason) {
    auto connection = find(id);
    if (!connection) return;
    {
        std::lock_guard lock(connection->queueMutex);
        if (connection->closeRequested) return;
        connection->closeRequested = true;
        connection->closeCode = code;
        connection->closeReason = reason.substr(0, 120);  // a close frame holds 125 bytes
    }
    scheduleWrite(connection);
}

void SignalingHub::scheduleWrite(const std::shared_ptr<Connection>& connection) {
    {
        std::lock_guard lock(connection->queueMutex);
        if (connection->writing) return;
        connection->writing = true;
    }
    workers_->submit([this, connection] { writeQueued(connection); });
}

void SignalingHub::writeQueued(const std::shared_ptr<Connection>& connection) {
    using Poco::Net::WebSocket;
    for (;;) {
        std::string next;
        bool closeNow = false;
        {
            std::lock_guard lock(connection->queueMutex);
            if (!connection->queue.empty()) {
                next = std::move(connection->queue.front());
                connection->queue.pop_front();
            } else if (connection->closeRequested) {
                closeNow = true;
            } else {
                connection->writing = false;
                return;
            }
        }
        if (connection->dropped) return;
        if (!writable(connection->fd)) {
            // A consumer that does not read: never block a worker on it. Put the
            // message back and let the poller resume this writer.
            std::lock_guard lock(connection->queueMutex);
            if (!closeNow) connection->queue.push_front(std::move(next));
            connection->awaitingWritable = true;
            connection->writableDeadlineMs = nowMs() + options_.frameTimeout.count();
            awaitingWriters_ = true;
            const std::uint64_t one = 1;
            if (::write(wakeFd_, &one, sizeof one) < 0) {
                // The poller still looks within its 500 ms timeout.
            }
            return;  // `writing` stays set: no second writer meanwhile
        }
        try {
            std::lock_guard io(connection->ioMutex);
            if (closeNow) {
                connection->socket.shutdown(connection->closeCode, connection->closeReason);
            } else {
                connection->socket.sendFrame(next.data(), static_cast<int>(next.size()), WebSocket::FRAME_TEXT);
            }
        } catch (const Poco::Exception&) {
            drop(connection);  // timed out (a stalled reader) or reset
            return;
        }
        if (closeNow) {
            connection->drainUntilMs = nowMs() + kDrainMs;
            connection->draining = true;
            ::shutdown(connection->fd, SHUT_WR);
            rearm(*connection);
            return;
        }
    }
}

void SignalingHub::drop(const std::shared_ptr<Connection>& connection) {
    if (connection->dropped.exchange(true)) return;
    ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, connection->fd, nullptr);
    // Wakes a worker blocked in a read on this socket; the descriptor itself
    // is closed with the last reference, so it cannot be reused under epoll.
    ::shutdown(connection->fd, SHUT_RDWR);
    {
        std::lock_guard lock(connectionsMutex_);
        if (connections_.erase(connection->id) != 0) {
            const auto it = perAddress_.find(connection->address);
            if (it != perAddress_.end() && --it->second == 0) perAddress_.erase(it);
        }
    }
    if (rooms_ != nullptr) rooms_->onDisconnected(connection->id);
}

}  // namespace consultd::signal
