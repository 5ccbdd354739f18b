#pragma once
// One relay worker: an event loop on its own thread that owns its share of
// the listeners (SO_REUSEPORT spreads clients over workers by 4-tuple hash,
// so a client's datagrams always reach the same worker), every allocation
// and TCP/TLS connection it accepted, and their relay sockets. Nothing on the
// relay path is shared with another worker, so it takes no lock.
//
// Two ways to wait (RelayConfig::ioEngine, docs/turn.md "Design"): epoll for
// everything, or io_uring (WorkerUring.cpp) for the UDP listener and relay
// sockets, with the epoll set (TCP/TLS, the stop eventfd) watched as one more
// io_uring poll. io_uring lets a busy worker sleep until a batch is waiting.
//
// Thread-safety: run() on the worker's thread only; requestStop(),
// addStats() and addAllocations() from any thread (atomics and the registry
// mutex, which only the allocate/delete path and snapshots take).

#include "SharedState.h"
#include "SocketAddress.h"
#include "StunMessage.h"
#include "UniqueFd.h"
#include "consultd/turn/TurnRelay.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace consultd::turn {

enum class Transport : std::uint8_t { Udp, Tcp, Tls };

/// Single-writer counter: the owning worker bumps it with a plain
/// load/store (no locked instruction), other threads read it relaxed.
class Counter {
public:
    void add(std::uint64_t n = 1) noexcept { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void sub(std::uint64_t n = 1) noexcept { value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
    void set(std::uint64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
    std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

struct WorkerCounters {
    Counter allocationsActive, allocationsCreated, allocationsExpired, tcpConnectionsActive;
    Counter packetsFromClients, bytesFromClients, packetsToClients, bytesToClients;
    Counter stunRequests, authFailures, staleNonces, peerDenied, quotaRejections, capacityRejections;
    Counter dropsMalformed, dropsOversized, dropsNoAllocation, dropsUnknownChannel, dropsNoPermission;
    Counter dropsBandwidth, dropsBackpressure;
};

struct SslDeleter {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

class Worker {
public:
    Worker(SharedState& shared, int index, UniqueFd udpListener, UniqueFd tcpListener, UniqueFd tlsListener,
           SSL_CTX* tlsContext);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void run();
    void requestStop() noexcept;
    /// "io_uring" or "epoll".
    const char* ioEngineName() const noexcept { return uring_ ? "io_uring" : "epoll"; }
    void addStats(RelayStats& stats) const;
    void addAllocations(std::vector<AllocationInfo>& out) const;

private:
    struct EventSource {
        enum class Kind : std::uint8_t { Wakeup, UdpListener, TcpListener, TlsListener, Connection, Relay };
        Kind kind = Kind::Wakeup;
    };
    struct TokenBucket {
        std::int64_t tokens = 0;
        std::int64_t lastMs = 0;
        bool take(std::int64_t bytes, std::int64_t nowMs, std::int64_t ratePerSec) noexcept;
    };
    struct Permission {
        SocketAddress peer;  ///< port ignored: permissions are per IP (RFC 8656 9)
        std::int64_t expiresMs;
    };
    struct Channel {
        std::uint16_t number;
        SocketAddress peer;
        std::int64_t expiresMs;
    };
    struct Connection;
    struct Allocation : EventSource {
        Transport transport = Transport::Udp;
        SocketAddress client;
        Connection* connection = nullptr;  ///< TCP/TLS: the control connection
        UniqueFd relayFd;
        SocketAddress relayAddress;  ///< as advertised to the client
        std::string username, userId, clientIp;
        std::array<std::uint8_t, 16> key{};
        bool sha256Integrity = false;
        std::int64_t createdMs = 0;
        std::atomic<std::int64_t> expiresMs{0};  ///< written by the worker, read by snapshots
        std::vector<Permission> permissions;
        std::vector<Channel> channels;
        TokenBucket fromClientBucket, toClientBucket;
        // Last response, resent verbatim for a retransmitted request (RFC 8489 6.3.1).
        std::array<std::uint8_t, stun::kTransactionIdSize> lastTransaction{};
        std::array<std::uint8_t, 512> lastResponse{};
        std::size_t lastResponseSize = 0;
        Counter packetsFromClient, bytesFromClient, packetsToClient, bytesToClient;
        Counter permissionCount, channelCount;  ///< mirrors of the vectors' sizes, for snapshots
        bool dead = false;
        bool receiveArmed = false;  ///< io_uring: a multishot receive is outstanding
    };
    struct Connection : EventSource {
        Transport transport = Transport::Tcp;
        UniqueFd fd;
        std::unique_ptr<SSL, SslDeleter> ssl;
        bool handshakeDone = false;
        SocketAddress peer;
        std::vector<std::uint8_t> in;
        std::size_t inSize = 0;
        std::vector<std::uint8_t> out;
        std::size_t outHead = 0;
        bool wantsWrite = false;
        Allocation* allocation = nullptr;
        std::int64_t lastActivityMs = 0;
        bool dead = false;
    };
    /// Who a message came from and how to answer: UDP address or a connection.
    struct Client {
        Transport transport;
        SocketAddress address;
        Connection* connection;
    };

    // Event handlers.
    void onUdpListenerReadable();
    void onAccept(int listenerFd, Transport transport);
    void onConnectionEvent(Connection& c, std::uint32_t events);
    void onRelayReadable(Allocation& a);
    /// Relays one datagram from a peer to the allocation's client. True when
    /// it was queued for the UDP batch, which then references `payload`
    /// until flushUdpBatch().
    bool relayFromPeer(Allocation& a, const SocketAddress& peer, std::uint8_t* payload, std::size_t size);
    void onDatagramFromClient(const Client& client, std::span<const std::uint8_t> data);

    // Relay path.
    void relayChannelDataFromClient(Allocation& a, std::span<const std::uint8_t> frame);
    void relaySendIndication(Allocation& a, const stun::StunMessageView& m);
    bool sendToPeer(Allocation& a, const SocketAddress& peer, std::span<const std::uint8_t> payload);
    void flushUdpBatch();

    // STUN requests.
    void onStunMessage(const Client& client, std::span<const std::uint8_t> bytes);
    void handleRequest(const Client& client, const stun::StunMessageView& m);
    void handleAllocate(const Client& client, const stun::StunMessageView& m, const std::string& username,
                        const std::array<std::uint8_t, 16>& key);
    void handleRefresh(const Client& client, Allocation& a, const stun::StunMessageView& m);
    void handleCreatePermission(const Client& client, Allocation& a, const stun::StunMessageView& m);
    void handleChannelBind(const Client& client, Allocation& a, const stun::StunMessageView& m);
    /// `key`: sign the error with it (requests that passed authentication).
    void sendError(const Client& client, const stun::StunMessageView& m, int code,
                   const std::array<std::uint8_t, 16>* key, std::span<const std::uint16_t> unknown = {});
    void sendChallenge(const Client& client, const stun::StunMessageView& m, int code);
    /// Adds MI / MI-SHA256 (as the request used) and FINGERPRINT, sends, and
    /// caches the bytes on `cacheOn` for retransmissions.
    void finishAndSend(const Client& client, stun::StunMessageBuilder& b, const std::array<std::uint8_t, 16>* key,
                       bool sha256, Allocation* cacheOn, const stun::StunMessageView& request);
    void sendToClient(const Client& client, std::span<const std::uint8_t> bytes);

    // Allocation and connection lifetime.
    Allocation* findAllocation(const Client& client) const;
    void destroyAllocation(Allocation& a, bool expired);
    void closeConnection(Connection& c);
    bool bindRelaySocket(bool evenPort, bool reserveNext, UniqueFd& fd, SocketAddress& bound, UniqueFd& nextFd,
                         SocketAddress& nextBound);
    void sweep();
    /// Starts / stops receiving on a new / dying allocation's relay socket.
    /// unwatch returns true when the allocation must outlive the call
    /// (io_uring: until the cancelled receive completes).
    bool watchRelaySocket(Allocation& a);
    bool unwatchRelaySocket(Allocation& a);

    // io_uring engine (WorkerUring.cpp).
    struct UringLoop;
    void setUpUring();
    bool runUring();  ///< false: the ring could not be enabled, nothing ran
    void shutDownUring();
    bool armRelayReceive(Allocation& a);
    bool cancelRelayReceive(Allocation& a);
    void keepUntilCancelled(std::unique_ptr<Allocation> a);
    /// Queues one SENDMSG (MSG_DONTWAIT, no completion unless it fails);
    /// `toPeer` says which direction's counters a failure corrects.
    bool queueUringSend(int fd, const msghdr* message, bool toPeer, std::size_t bytes);
    /// Submits the queued sends, then gives their buffers back.
    void submitUringSends();
    /// A send's failure completion: a backpressure drop, not relayed.
    void sendFailed(std::uint64_t tag);
    /// Adds the submitted sends that did not fail to the relayed counters.
    void countSubmittedSends();
    void recycleSentBuffers();
    void runEpollLoop();
    /// Handles every ready epoll event; `timeoutMs` as for epoll_wait.
    /// Returns the number of events.
    int dispatchEpoll(int timeoutMs);

    // TCP/TLS plumbing.
    void processStreamInput(Connection& c);
    bool writeToConnection(Connection& c, std::initializer_list<std::span<const std::uint8_t>> parts);
    void flushConnection(Connection& c);
    void updateConnectionInterest(Connection& c);

    bool permitted(const Allocation& a, const SocketAddress& peer) const noexcept;
    std::uint64_t nextRandom() noexcept;
    void log(LogLevel level, const std::string& message) const { shared_.log(level, message); }

    SharedState& shared_;
    const int index_;
    UniqueFd epoll_;
    UniqueFd wakeup_;
    UniqueFd udpListener_, tcpListener_, tlsListener_;
    SSL_CTX* tlsContext_;
    EventSource wakeupSource_{EventSource::Kind::Wakeup};
    EventSource udpSource_{EventSource::Kind::UdpListener};
    EventSource tcpSource_{EventSource::Kind::TcpListener};
    EventSource tlsSource_{EventSource::Kind::TlsListener};
    std::atomic<bool> stopping_{false};

    std::int64_t nowMs_ = 0;    ///< monotonic, refreshed once per loop turn
    std::int64_t nowUnix_ = 0;  ///< wall clock, for credentials and nonces
    std::int64_t lastSweepMs_ = 0;
    std::uint64_t rng_[2] = {0, 0};

    // Ownership of allocations; the registry mutex guards insert/erase and
    // snapshots only.
    mutable std::mutex registryMutex_;
    std::unordered_map<Allocation*, std::unique_ptr<Allocation>> allocations_;
    std::unordered_map<SocketAddress, Allocation*, SocketAddressHash> udpAllocations_;
    std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
    // Freed after the current epoll batch: events for them may still be pending.
    std::vector<std::unique_ptr<Allocation>> deadAllocations_;
    std::vector<std::unique_ptr<Connection>> deadConnections_;

    // Preallocated packet buffers: the relay path never allocates.
    static constexpr std::size_t kBatch = 64;
    static constexpr std::size_t kSlotSize = 4096;  // larger datagrams count as oversized
    static constexpr std::size_t kDataIndicationHeader = 20 + 4 + 20 + 4;
    std::vector<std::uint8_t> inBuffers_;  ///< kBatch x kSlotSize, client listener
    std::array<mmsghdr, kBatch> inMsgs_{};
    std::array<iovec, kBatch> inIov_{};
    std::array<sockaddr_storage, kBatch> inAddrs_{};
    // Peer -> UDP client batch, flushed with one sendmmsg.
    std::vector<std::uint8_t> outBuffers_;  ///< kBatch x kSlotSize, relay sockets
    std::array<mmsghdr, kBatch> outMsgs_{};
    std::array<std::array<iovec, 3>, kBatch> outIov_{};
    std::array<std::array<std::uint8_t, kDataIndicationHeader>, kBatch> outHeaders_{};
    std::array<SocketAddress, kBatch> outDest_{};
    std::array<Allocation*, kBatch> outAlloc_{};
    std::size_t outCount_ = 0;     ///< queued messages
    std::size_t outSlotsUsed_ = 0; ///< payload slots filled by recvmmsg since the last flush
    // io_uring engine: client -> peer datagrams of UDP clients, queued as
    // SENDMSG requests that the turn's flushUdpBatch() submits together with
    // the peer -> client batch; the payload stays in its receive buffer.
    std::array<msghdr, kBatch> peerMsgs_{};
    std::array<iovec, kBatch> peerIov_{};
    std::array<SocketAddress, kBatch> peerDest_{};
    std::size_t peerCount_ = 0;           ///< queued since the last flush
    std::uint64_t peerSendsQueued_ = 0;   ///< ever queued: tells a caller whether its buffer is referenced
    std::array<mmsghdr, kBatch> relayMsgs_{};
    std::array<iovec, kBatch> relayIov_{};
    std::array<sockaddr_storage, kBatch> relayAddrs_{};
    std::vector<std::uint8_t> scratch_;  ///< responses, TLS framing

    WorkerCounters counters_;
    std::unique_ptr<UringLoop> uring_;  ///< null: epoll engine
};

}  // namespace consultd::turn
