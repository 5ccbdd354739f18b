#include "consultd/turn/TurnRelay.h"

#include "SharedState.h"
#include "Worker.h"

#include <ifaddrs.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace consultd::turn {
namespace {

struct SslCtxDeleter {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

std::string opensslError() {
    char buf[256] = "unknown error";
    if (const unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

void require(bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument("turn: " + message);
}

SocketAddress parseAddress(const std::string& text, const char* setting) {
    auto a = SocketAddress::parse(text, 0);
    require(a.has_value(), std::string(setting) + " '" + text + "' is not a numeric IP address");
    return *a;
}

bool isWildcard(const SocketAddress& a) {
    static const std::uint8_t zeros[16] = {};
    return std::memcmp(a.ipBytes(), zeros, a.ipLength()) == 0;
}

void validate(const RelayConfig& c) {
    require(!c.sharedSecret.empty(), "shared secret is empty (set turn.secret_file)");
    require(!c.realm.empty(), "realm is empty");
    for (auto [port, name] : {std::pair{c.udpPort, "udp_port"}, {c.tcpPort, "tcp_port"}, {c.tlsPort, "tls_port"}})
        require(port >= -1 && port <= 65535, std::string(name) + " must be -1 (off), 0 (any) or 1-65535");
    require(c.udpPort >= 0 || c.tcpPort >= 0 || c.tlsPort >= 0, "every listener is off");
    require(c.tlsPort < 0 || (!c.tlsCertFile.empty() && !c.tlsKeyFile.empty()),
            "tls_port is set but tls_cert_file / tls_key_file are not");
    require(c.relayPortMin == 0 || (c.relayPortMin >= 1024 && c.relayPortMin <= c.relayPortMax && c.relayPortMax <= 65535),
            "relay port range must be 0 (kernel) or 1024 <= relay_port_min <= relay_port_max <= 65535");
    require(c.defaultAllocationLifetime > 0 && c.maxAllocationLifetime > 0,
            "allocation lifetimes must be positive");
    require(c.maxAllocationsPerUsername >= 0 && c.maxAllocationsPerIp >= 0 && c.maxAllocationsTotal >= 0 &&
                c.maxBandwidthBytesPerSec >= 0,
            "quotas must be >= 0 (0 = unlimited)");
    require(c.threads >= 0 && c.threads <= 256, "threads must be 0 (half the CPUs) to 256");
    require(c.batchWaitMicros >= 0 && c.batchWaitMicros <= 10000, "batch_wait_us must be 0 to 10000");
}

std::vector<SocketAddress> ownAddresses(const RelayConfig& c, const SocketAddress& listen, const SocketAddress& relay) {
    std::vector<SocketAddress> own{listen, relay};
    if (!c.externalIp.empty()) own.push_back(parseAddress(c.externalIp, "external_ip"));
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
        for (ifaddrs* i = list; i; i = i->ifa_next) {
            if (!i->ifa_addr) continue;
            const auto a = SocketAddress::fromSockaddr(i->ifa_addr, i->ifa_addr->sa_family == AF_INET6
                                                                        ? sizeof(sockaddr_in6)
                                                                        : sizeof(sockaddr_in));
            if (!a.empty()) own.push_back(a);
        }
        ::freeifaddrs(list);
    }
    std::erase_if(own, [](const SocketAddress& a) { return a.empty() || isWildcard(a); });
    return own;
}

/// What a UDP listener asks for per direction: bursts of media from many
/// clients, and a deep queue beats drops. The kernel silently caps it at
/// net.core.rmem_max / wmem_max (212992 on a stock Debian kernel).
constexpr int kUdpListenerBufferBytes = 4 << 20;

/// The receive buffer the kernel granted, as it counts it (SO_RCVBUF reports
/// twice the usable size, the rest being its bookkeeping allowance).
int grantedReceiveBuffer(const UniqueFd& fd) {
    int granted = 0;
    socklen_t len = sizeof granted;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &granted, &len) != 0) return 0;
    return granted / 2;
}

/// Binds `count` sockets to the same address with SO_REUSEPORT, so the
/// kernel spreads clients over the workers; port 0 is resolved by the first.
std::vector<UniqueFd> bindListeners(const SocketAddress& address, int port, int type, int count, const char* what) {
    std::vector<UniqueFd> fds;
    SocketAddress where = address;
    where.setPort(static_cast<std::uint16_t>(port));
    if (port != 0) {
        // SO_REUSEPORT would let a second consultd (or a coturn) share the
        // port and silently take half the clients: a plain bind first fails
        // if anyone else holds it.
        UniqueFd probe(::socket(where.family(), type | SOCK_CLOEXEC, 0));
        const int on = 1;
        if (type == SOCK_STREAM) ::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (where.family() == AF_INET6) ::setsockopt(probe.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        if (!probe || ::bind(probe.get(), where.sockaddrPtr(), where.length()) != 0)
            throw std::runtime_error("turn: cannot bind " + std::string(what) + " listener to " + where.toString() +
                                     ": " + std::strerror(errno));
    }
    for (int i = 0; i < count; ++i) {
        UniqueFd fd(::socket(where.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) throw std::runtime_error(std::string("turn: socket(): ") + std::strerror(errno));
        const int on = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
        if (type == SOCK_STREAM) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (where.family() == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        if (type == SOCK_DGRAM) {
            ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &kUdpListenerBufferBytes, sizeof kUdpListenerBufferBytes);
            ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &kUdpListenerBufferBytes, sizeof kUdpListenerBufferBytes);
        }
        if (::bind(fd.get(), where.sockaddrPtr(), where.length()) != 0)
            throw std::runtime_error("turn: cannot bind " + std::string(what) + " listener to " + where.toString() +
                                     ": " + std::strerror(errno));
        if (type == SOCK_STREAM && ::listen(fd.get(), 1024) != 0)
            throw std::runtime_error("turn: cannot listen on " + where.toString() + ": " + std::strerror(errno));
        if (i == 0) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
            where = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
        }
        fds.push_back(std::move(fd));
    }
    return fds;
}

std::uint16_t portOf(const UniqueFd& fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).port();
}

SslCtxPtr makeTlsContext(const RelayConfig& c) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw std::runtime_error("turn: SSL_CTX_new: " + opensslError());
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    // The relay retries SSL_write from a buffer that may move or shrink.
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.tlsCertFile.c_str()) != 1)
        throw std::runtime_error("turn: cannot load tls_cert_file '" + c.tlsCertFile + "': " + opensslError());
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), c.tlsKeyFile.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("turn: cannot load tls_key_file '" + c.tlsKeyFile + "': " + opensslError());
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
        throw std::runtime_error("turn: tls_key_file does not match tls_cert_file");
    return ctx;
}

}  // namespace

struct TurnRelay::Impl {
    RelayConfig config;
    mutable std::mutex control;  // guards everything below against start/stop
    std::unique_ptr<SharedState> shared;
    SslCtxPtr tlsContext;
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::thread> threads;
    BoundPorts ports;
    std::string ioEngine;
    RelayStats lastStats;  ///< final counters of the last run, for stats() after stop()
    bool running = false;
};

TurnRelay::TurnRelay(RelayConfig config) : impl_(std::make_unique<Impl>()) { impl_->config = std::move(config); }

TurnRelay::~TurnRelay() { stop(); }

void TurnRelay::start() {
    std::lock_guard lock(impl_->control);
    if (impl_->running) return;
    const RelayConfig& c = impl_->config;
    validate(c);
    const SocketAddress listen = parseAddress(c.listenAddress, "listen_address");
    const SocketAddress relayBind =
        parseAddress(c.relayAddress.empty() ? c.listenAddress : c.relayAddress, "relay_address");
    require(!isWildcard(relayBind) || !c.externalIp.empty(),
            "relay_address (or external_ip) must be a concrete address when listen_address is a wildcard");
    SocketAddress advertised = c.externalIp.empty() ? relayBind : parseAddress(c.externalIp, "external_ip");
    require(advertised.family() == relayBind.family(), "external_ip and relay_address must be the same IP family");

    auto shared = std::make_unique<SharedState>(
        c, PeerPolicy(ownAddresses(c, listen, relayBind), c.allowedPeerRanges, c.allowLoopbackPeers));
    shared->relayBindAddress = relayBind;
    shared->relayAdvertisedAddress = advertised;

    const int count = c.threads > 0 ? c.threads : defaultThreadCount();
    std::vector<UniqueFd> udp, tcp, tls;
    if (c.udpPort >= 0) udp = bindListeners(listen, c.udpPort, SOCK_DGRAM, count, "UDP");
    if (c.tcpPort >= 0) tcp = bindListeners(listen, c.tcpPort, SOCK_STREAM, count, "TCP");
    SslCtxPtr tlsContext;
    if (c.tlsPort >= 0) {
        tlsContext = makeTlsContext(c);
        tls = bindListeners(listen, c.tlsPort, SOCK_STREAM, count, "TLS");
    }
    const int udpReceiveBuffer = udp.empty() ? 0 : grantedReceiveBuffer(udp[0]);
    BoundPorts ports;
    if (!udp.empty()) ports.udp = portOf(udp[0]);
    if (!tcp.empty()) ports.tcp = portOf(tcp[0]);
    if (!tls.empty()) ports.tls = portOf(tls[0]);

    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < count; ++i) {
        auto idx = static_cast<std::size_t>(i);
        workers.push_back(std::make_unique<Worker>(*shared, i, udp.empty() ? UniqueFd() : std::move(udp[idx]),
                                                   tcp.empty() ? UniqueFd() : std::move(tcp[idx]),
                                                   tls.empty() ? UniqueFd() : std::move(tls[idx]), tlsContext.get()));
    }
    impl_->shared = std::move(shared);
    impl_->tlsContext = std::move(tlsContext);
    impl_->workers = std::move(workers);
    impl_->ports = ports;
    impl_->ioEngine = impl_->workers.empty() ? "" : impl_->workers.front()->ioEngineName();
    for (auto& w : impl_->workers) impl_->threads.emplace_back([worker = w.get()] { worker->run(); });
    impl_->running = true;
    impl_->shared->log(LogLevel::Information,
                       "TURN relay listening on " + listen.ipString() + " udp=" + std::to_string(ports.udp) +
                           " tcp=" + std::to_string(ports.tcp) + " tls=" + std::to_string(ports.tls) +
                           " workers=" + std::to_string(count) + " io=" + impl_->ioEngine + " relay=" + advertised.ipString());
    if (udpReceiveBuffer > 0 && udpReceiveBuffer < kUdpListenerBufferBytes)
        // The kernel drops what overflows the queue before the relay sees it
        // (RcvbufErrors in /proc/net/snmp), which no relay counter shows.
        impl_->shared->log(LogLevel::Warning,
                           "TURN UDP listener receive buffer is " + std::to_string(udpReceiveBuffer / 1024) +
                               " KiB, not the " + std::to_string(kUdpListenerBufferBytes / 1024) +
                               " KiB asked for (capped by net.core.rmem_max): a burst longer than that is dropped "
                               "by the kernel; raise net.core.rmem_max and net.core.wmem_max to " +
                               std::to_string(kUdpListenerBufferBytes) + " (docs/turn.md, Tuning)");
}

void TurnRelay::stop() {
    std::lock_guard lock(impl_->control);
    if (!impl_->running) return;
    for (auto& w : impl_->workers) w->requestStop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->running = false;
    // Keep the final counters so stats() after stop() still reports them.
    RelayStats last;
    for (auto& w : impl_->workers) w->addStats(last);
    impl_->lastStats = last;
    impl_->workers.clear();  // closes listeners; before `shared`, which they reference
    impl_->tlsContext.reset();
    impl_->shared.reset();
}

bool TurnRelay::running() const noexcept {
    std::lock_guard lock(impl_->control);
    return impl_->running;
}

int defaultThreadCount() noexcept {
    const unsigned cpus = std::thread::hardware_concurrency();
    return static_cast<int>(std::max(1u, cpus / 2));
}

RelayStats TurnRelay::stats() const {
    std::lock_guard lock(impl_->control);
    if (!impl_->running) return impl_->lastStats;
    RelayStats s;
    for (const auto& w : impl_->workers) w->addStats(s);
    return s;
}

std::vector<AllocationInfo> TurnRelay::allocations() const {
    std::lock_guard lock(impl_->control);
    std::vector<AllocationInfo> out;
    for (const auto& w : impl_->workers) w->addAllocations(out);
    return out;
}

std::string TurnRelay::ioEngine() const {
    std::lock_guard lock(impl_->control);
    return impl_->ioEngine;
}

BoundPorts TurnRelay::boundPorts() const {
    std::lock_guard lock(impl_->control);
    return impl_->ports;
}

void TurnRelay::setSharedSecret(std::string secret) {
    std::lock_guard lock(impl_->control);
    if (secret.empty()) throw std::invalid_argument("turn: shared secret is empty");
    impl_->config.sharedSecret = secret;
    if (impl_->shared) impl_->shared->setSecret(std::move(secret));
}

}  // namespace consultd::turn
