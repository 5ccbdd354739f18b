#pragma once
// The embedded TURN relay (RFC 8656 over RFC 8489 STUN): UDP, TCP and TLS
// listeners, long-term credentials in coturn's `use-auth-secret` scheme, a
// peer address policy and quotas. One epoll loop per worker thread; each
// worker owns the allocations whose client it serves, so the relay path takes
// no lock and allocates no memory (see docs/turn.md, "Design").

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace consultd::turn {

/// Severity of a message handed to RelayConfig::logSink.
enum class LogLevel { Debug, Information, Warning, Error };

/// How a worker waits for, receives and sends UDP datagrams (docs/turn.md, "Design").
/// Auto: io_uring when the kernel offers what the relay needs (Linux 6.1:
/// multishot recvmsg, provided buffer rings, deferred task running), epoll
/// otherwise. IoUring: the same, but start() fails instead of falling back.
enum class IoEngine { Auto, IoUring, Epoll };

/// Everything the relay needs, filled by the daemon from the `turn` config
/// group. Validated by TurnRelay::start(), which throws std::invalid_argument
/// naming the field on a bad value.
struct RelayConfig {
    /// IP address the listeners bind to ("0.0.0.0" / "::" for all).
    std::string listenAddress = "127.0.0.1";
    /// Listener ports. 0 = let the kernel pick a free port (tests); -1 = off.
    int udpPort = 3478;
    int tcpPort = 3478;
    /// TLS (`turns:`) listener port; -1 = off, 0 = pick a free port.
    int tlsPort = -1;
    /// PEM certificate chain and private key, required when tlsPort >= 0.
    std::string tlsCertFile;
    std::string tlsKeyFile;
    /// REALM sent in challenges; clients hash it into their key.
    std::string realm = "consultd";
    /// The `use-auth-secret` secret. start() refuses an empty one.
    std::string sharedSecret;
    /// Public address advertised in XOR-RELAYED-ADDRESS when the server sits
    /// behind a 1:1 NAT. Empty = advertise the address relay sockets bind to.
    std::string externalIp;
    /// Relay (peer-facing) UDP port range, inclusive. relayPortMin = 0 lets
    /// the kernel choose (tests).
    int relayPortMin = 49152;
    int relayPortMax = 65535;
    /// Address relay sockets bind to. Empty = listenAddress, which must then
    /// be a concrete address, not a wildcard.
    std::string relayAddress;
    /// CIDR ranges of private (RFC 1918, ULA, CGNAT) peers that may be
    /// relayed to, e.g. a hospital LAN. Loopback, link-local, multicast,
    /// unspecified and the relay's own addresses are refused whatever this says.
    std::vector<std::string> allowedPeerRanges;
    /// Test-only: also relay to loopback peers. Never set it in production:
    /// it lets a client reach services bound to 127.0.0.1 on the appliance.
    bool allowLoopbackPeers = false;
    /// Allocation lifetimes in seconds (RFC 8656 default 600, capped by max).
    int maxAllocationLifetime = 3600;
    int defaultAllocationLifetime = 600;
    /// Quotas; 0 = unlimited. Per username counts by the id part of the
    /// username (credentials re-minted for the same id share one quota).
    int maxAllocationsPerUsername = 10;
    int maxAllocationsPerIp = 50;
    int maxAllocationsTotal = 2000;
    /// Per-allocation relay bandwidth in bytes/s, each direction separately,
    /// with a one-second burst; 0 = unlimited. Excess packets are dropped.
    std::int64_t maxBandwidthBytesPerSec = 0;
    /// Worker threads (event loops). 0 = defaultThreadCount(): half the
    /// online CPUs, at least one.
    int threads = 0;
    IoEngine ioEngine = IoEngine::Auto;
    /// io_uring only: a worker that just relayed packets sleeps until
    /// `kWakeBatch` datagrams are waiting or this many microseconds passed,
    /// whichever is first, so one wakeup serves a batch. It is the most a
    /// packet can be held back (each direction); 0 = wake for every packet.
    int batchWaitMicros = 500;
    /// SOFTWARE attribute value; empty = do not send one.
    std::string software = "consultd";
    /// Where the relay's log lines go. Called from worker threads, so it must
    /// be thread-safe. Allocation create/delete are Debug; empty = discard.
    std::function<void(LogLevel, const std::string&)> logSink;
};

/// Counters since start(), summed over workers. Monotonic unless noted.
struct RelayStats {
    std::uint64_t allocationsActive = 0;   ///< gauge
    std::uint64_t allocationsCreated = 0;
    std::uint64_t allocationsExpired = 0;  ///< removed because their lifetime ran out
    std::uint64_t tcpConnectionsActive = 0;  ///< gauge, TCP and TLS
    std::uint64_t packetsFromClients = 0;  ///< relayed client -> peer
    std::uint64_t bytesFromClients = 0;    ///< application payload bytes
    std::uint64_t packetsToClients = 0;    ///< relayed peer -> client
    std::uint64_t bytesToClients = 0;
    std::uint64_t stunRequests = 0;        ///< requests answered (any method)
    std::uint64_t authFailures = 0;        ///< 401 for a bad password, unknown or expired user
    std::uint64_t staleNonces = 0;         ///< 438 answers
    std::uint64_t peerDenied = 0;          ///< 403 answers (peer address policy)
    std::uint64_t quotaRejections = 0;     ///< 486 answers
    std::uint64_t capacityRejections = 0;  ///< 508 answers (no relay port)
    std::uint64_t dropsMalformed = 0;      ///< not STUN / bad length / bad FINGERPRINT / wrong cookie
    std::uint64_t dropsOversized = 0;      ///< datagram or frame larger than the relay handles
    std::uint64_t dropsNoAllocation = 0;   ///< ChannelData / Send with no allocation
    std::uint64_t dropsUnknownChannel = 0; ///< ChannelData on an unbound or expired channel
    std::uint64_t dropsNoPermission = 0;   ///< peer data or Send without a permission
    std::uint64_t dropsBandwidth = 0;      ///< over maxBandwidthBytesPerSec
    std::uint64_t dropsBackpressure = 0;   ///< TCP/TLS client could not keep up, or the kernel refused a send
};

/// One allocation's identity and counters, for per-allocation /metrics.
struct AllocationInfo {
    std::string username;
    std::string transport;      ///< "udp", "tcp" or "tls" (client side)
    std::string clientAddress;  ///< ip:port
    std::string relayAddress;   ///< ip:port as advertised
    std::int64_t secondsLeft = 0;
    std::uint64_t packetsFromClient = 0, bytesFromClient = 0;
    std::uint64_t packetsToClient = 0, bytesToClient = 0;
    std::uint64_t permissions = 0, channels = 0;
};

/// The ports the listeners actually bound (after port 0 was resolved);
/// 0 for a listener that is off.
struct BoundPorts {
    std::uint16_t udp = 0;
    std::uint16_t tcp = 0;
    std::uint16_t tls = 0;
};

/// Worker loops for `threads = 0`: half the online CPUs, at least one. Each
/// loop sleeps and wakes on its own, so at a clinic's packet rates (a few
/// thousand per second) every extra loop mostly adds wakeups, and the media
/// and recording pipelines need the other cores (docs/performance.md, TURN).
int defaultThreadCount() noexcept;

/// The relay. Thread-safety: start()/stop() from one controlling thread;
/// stats(), allocations(), boundPorts() and setSharedSecret() may be called
/// from any thread at any time while it runs.
class TurnRelay {
public:
    explicit TurnRelay(RelayConfig config);
    /// Stops and joins the workers if still running.
    ~TurnRelay();
    TurnRelay(const TurnRelay&) = delete;
    TurnRelay& operator=(const TurnRelay&) = delete;

    /// Validates the config, binds every listener and starts the workers.
    /// Throws std::invalid_argument for a bad setting and std::runtime_error
    /// naming the address and port when a bind fails; nothing is left running
    /// after a throw.
    void start();
    /// Closes the listeners and every allocation, joins the workers. Idempotent.
    void stop();
    bool running() const noexcept;

    RelayStats stats() const;
    /// A snapshot of the live allocations (takes each worker's registry lock
    /// briefly; the relay path does not use that lock).
    std::vector<AllocationInfo> allocations() const;
    BoundPorts boundPorts() const;
    /// "io_uring" or "epoll": what the workers use (empty before start()).
    std::string ioEngine() const;
    /// Replaces the shared secret (SIGHUP). Every request from then on (Refresh
    /// included) is checked against the new secret; media on existing
    /// allocations keeps flowing until they expire or fail to refresh.
    void setSharedSecret(std::string secret);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace consultd::turn
