#pragma once
// The signaling connections: WebSocket connections taken over from the HTTP
// server after the handshake, served without a thread per socket.
//
// One epoll thread watches every socket (EPOLLONESHOT): when one is
// readable, a read job goes to a small fixed pool of worker threads, which
// reads the waiting frames, hands complete text messages to SignalingRooms
// and re-arms the socket. Outgoing messages go into a bounded per-connection
// queue drained by one write job at a time; a consumer whose queue is full is
// closed (1008). A writer never blocks on a full socket: it hands the
// connection back to the poller, which resumes it when the socket is writable
// and drops it after the frame timeout. Frames above the size limit are refused by POCO
// (setMaxPayloadSize) and the connection is closed with 1009. A connection
// that does not join within the join timeout is closed. A frame that does not
// complete within the frame timeout ends its connection, so a slow sender
// holds a worker for at most that long.
//
// Thread-safety: thread-safe. adopt(), send(), close() may be called from any
// thread; start()/stop() from one controlling thread.

#include "signal/SignalingRooms.h"

#include <Poco/Net/WebSocket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace consultd::signal {

struct HubOptions {
    std::size_t maxConnections = 2000;
    std::size_t maxConnectionsPerAddress = 200;
    int workerThreads = 2;
    std::size_t sendQueueMessages = 256;
    std::size_t maxMessageBytes = 65536;
    std::chrono::milliseconds frameTimeout{2000};
    std::chrono::seconds joinTimeout{10};
};

class SignalingHub final : public SignalingOutput {
public:
    explicit SignalingHub(HubOptions options);
    ~SignalingHub() override;
    SignalingHub(const SignalingHub&) = delete;
    SignalingHub& operator=(const SignalingHub&) = delete;

    /// The rooms messages are handed to; set once, before start().
    void attach(SignalingRooms& rooms) { rooms_ = &rooms; }
    /// Starts the epoll thread and the workers.
    void start();
    /// Closes every connection (1001 going away) and joins the threads.
    void stop();

    /// Takes over a WebSocket whose handshake is done, from client `address`.
    /// False (and the socket is closed with 1013) when the hub is full, the
    /// address holds its maximum, or the hub is stopped.
    bool adopt(Poco::Net::WebSocket socket, const std::string& address);
    /// Whether adopt() would refuse a new connection now (in all).
    bool full() const;
    /// Whether `address` holds maxConnectionsPerAddress sockets now.
    bool fullFor(const std::string& address) const;
    std::size_t connectionCount() const;

    void send(ConnectionId connection, std::string text) override;
    void close(ConnectionId connection, std::uint16_t code, const std::string& reason) override;

private:
    struct Connection;
    class WorkerPool;

    std::shared_ptr<Connection> find(ConnectionId id) const;
    void loop();
    void readFrames(const std::shared_ptr<Connection>& connection);
    void writeQueued(const std::shared_ptr<Connection>& connection);
    void scheduleWrite(const std::shared_ptr<Connection>& connection);
    void rearm(const Connection& connection);
    void drop(const std::shared_ptr<Connection>& connection);
    void closeIdle();
    void resumeWriters();

    HubOptions options_;
    SignalingRooms* rooms_ = nullptr;
    int epollFd_ = -1;
    int wakeFd_ = -1;
    std::atomic<bool> running_{false};
    std::atomic<bool> awaitingWriters_{false};
    std::atomic<ConnectionId> nextId_{1};
    std::thread loopThread_;
    std::unique_ptr<WorkerPool> workers_;
    mutable std::mutex connectionsMutex_;
    std::unordered_map<ConnectionId, std::shared_ptr<Connection>> connections_;
    std::unordered_map<std::string, std::size_t> perAddress_;  // guarded by connectionsMutex_
};

}  // namespace consultd::signal
