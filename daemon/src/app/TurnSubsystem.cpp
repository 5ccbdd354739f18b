#include "app/TurnSubsystem.h"

#include "core/Metrics.h"

#include <Poco/Logger.h>
#include <Poco/URI.h>

#include <consultd/turn/TurnRelay.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

namespace consultd::app {

namespace {

/// The first address, in interface order, of an interface that is up and not
/// loopback, skipping link-local addresses: IPv6 when `ipv6`, else IPv4.
/// Empty when the host has none.
std::string firstHostAddress(bool ipv6) {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return {};
    std::string found;
    for (const ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
        if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
        char text[INET6_ADDRSTRLEN] = {};
        if (!ipv6 && i->ifa_addr->sa_family == AF_INET) {
            const auto* a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
            if ((ntohl(a->sin_addr.s_addr) >> 16) == 0xA9FEU) continue;  // 169.254.0.0/16
            ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
        } else if (ipv6 && i->ifa_addr->sa_family == AF_INET6) {
            const auto* a = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
            if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) continue;
            ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
        } else {
            continue;
        }
        found = text;
    }
    ::freeifaddrs(list);
    return found;
}

std::string clientHost(const config::Config& config) {
    if (const auto host = config.getString("turn.public_host"); !host.empty()) return host;
    if (const auto ip = config.getString("turn.external_ip"); !ip.empty()) return ip;
    if (const auto url = config.getString("server.public_url"); !url.empty()) {
        try {
            return Poco::URI(url).getHost();
        } catch (const Poco::Exception&) {
            // Validated at load; fall through to the listen address.
        }
    }
    const auto listen = config.getString("turn.listen_address");
    return listen == "0.0.0.0" || listen == "::" ? config.getString("server.listen_address") : listen;
}

turn::RelayConfig relayConfig(const config::Config& config) {
    turn::RelayConfig c;
    c.listenAddress = config.getString("turn.listen_address");
    c.udpPort = static_cast<int>(config.getInt("turn.udp_port"));
    c.tcpPort = static_cast<int>(config.getInt("turn.tcp_port"));
    c.tlsPort = static_cast<int>(config.getInt("turn.tls_port"));
    c.tlsCertFile = config.getPath("turn.tls_cert_file");
    c.tlsKeyFile = config.getPath("turn.tls_key_file");
    if (c.tlsCertFile.empty()) c.tlsCertFile = config.getPath("server.tls_cert_file");
    if (c.tlsKeyFile.empty()) c.tlsKeyFile = config.getPath("server.tls_key_file");
    c.realm = config.getString("turn.realm");
    c.sharedSecret = config.readSecret("turn.secret_file");
    c.externalIp = config.getString("turn.external_ip");
    c.relayPortMin = static_cast<int>(config.getInt("turn.relay_port_min"));
    c.relayPortMax = static_cast<int>(config.getInt("turn.relay_port_max"));
    c.relayAddress = config.getString("turn.relay_address");
    const bool wildcard = c.listenAddress == "0.0.0.0" || c.listenAddress == "::";
    if (wildcard && c.relayAddress.empty() && c.externalIp.empty()) {
        // Relay sockets need one concrete address that peers answer to; the
        // schema's default is the host's first non-loopback address. With
        // none, TurnRelay::start() refuses with the reason.
        c.relayAddress = firstHostAddress(c.listenAddress == "::");
        if (!c.relayAddress.empty())
            Poco::Logger::get("turn").information("turn.relay_address is not set: relaying from " + c.relayAddress +
                                                  ", the first non-loopback address (set turn.relay_address to choose)");
    }
    c.allowedPeerRanges = config.getStringList("turn.allowed_peer_ranges");
    c.allowLoopbackPeers = config.getBool("turn.allow_loopback_peers");
    c.defaultAllocationLifetime = static_cast<int>(config.getInt("turn.default_allocation_lifetime"));
    c.maxAllocationLifetime = static_cast<int>(config.getInt("turn.max_allocation_lifetime"));
    c.maxAllocationsPerUsername = static_cast<int>(config.getInt("turn.max_allocations_per_username"));
    c.maxAllocationsPerIp = static_cast<int>(config.getInt("turn.max_allocations_per_ip"));
    c.maxAllocationsTotal = static_cast<int>(config.getInt("turn.max_allocations_total"));
    c.maxBandwidthBytesPerSec = config.getInt("turn.max_bandwidth_bytes_per_second");
    c.threads = static_cast<int>(config.getInt("turn.threads"));
    const std::string engine = config.getString("turn.io_engine");
    c.ioEngine = engine == "io_uring" ? turn::IoEngine::IoUring
                 : engine == "epoll"  ? turn::IoEngine::Epoll
                                      : turn::IoEngine::Auto;
    c.batchWaitMicros = static_cast<int>(config.getInt("turn.batch_wait_us"));
    c.logSink = [](turn::LogLevel level, const std::string& message) {
        auto& log = Poco::Logger::get("turn");
        switch (level) {
            case turn::LogLevel::Debug: log.debug(message); break;
            case turn::LogLevel::Information: log.information(message); break;
            case turn::LogLevel::Warning: log.warning(message); break;
            case turn::LogLevel::Error: log.error(message); break;
        }
    };
    return c;
}

void renderStats(const turn::TurnRelay& relay, std::string& out) {
    const auto s = relay.stats();
    auto line = [&](const char* name, const char* type, const char* help, std::uint64_t value) {
        out += std::string("# HELP consultd_turn_") + name + " " + help + "\n# TYPE consultd_turn_" + name + " " + type +
               "\nconsultd_turn_" + name + " " + std::to_string(value) + "\n";
    };
    line("allocations", "gauge", "Active TURN allocations.", s.allocationsActive);
    line("allocations_created_total", "counter", "TURN allocations created.", s.allocationsCreated);
    line("allocations_expired_total", "counter", "TURN allocations that timed out.", s.allocationsExpired);
    line("tcp_connections", "gauge", "Open TURN TCP/TLS client connections.", s.tcpConnectionsActive);
    line("relayed_packets_from_clients_total", "counter", "Packets relayed client to peer.", s.packetsFromClients);
    line("relayed_bytes_from_clients_total", "counter", "Bytes relayed client to peer.", s.bytesFromClients);
    line("relayed_packets_to_clients_total", "counter", "Packets relayed peer to client.", s.packetsToClients);
    line("relayed_bytes_to_clients_total", "counter", "Bytes relayed peer to client.", s.bytesToClients);
    line("stun_requests_total", "counter", "STUN/TURN requests answered.", s.stunRequests);
    line("auth_failures_total", "counter", "TURN requests refused for credentials.", s.authFailures);
    line("stale_nonces_total", "counter", "438 Stale Nonce answers.", s.staleNonces);
    line("peer_denied_total", "counter", "403 answers from the peer address policy.", s.peerDenied);
    line("quota_rejections_total", "counter", "486 Allocation Quota Reached answers.", s.quotaRejections);
    line("capacity_rejections_total", "counter", "508 Insufficient Capacity answers.", s.capacityRejections);
    out += "# HELP consultd_turn_dropped_packets_total Packets dropped by the relay, by reason.\n"
           "# TYPE consultd_turn_dropped_packets_total counter\n";
    const std::pair<const char*, std::uint64_t> drops[] = {
        {"malformed", s.dropsMalformed},         {"oversized", s.dropsOversized},
        {"no_allocation", s.dropsNoAllocation},  {"unknown_channel", s.dropsUnknownChannel},
        {"no_permission", s.dropsNoPermission},  {"bandwidth", s.dropsBandwidth},
        {"backpressure", s.dropsBackpressure}};
    for (const auto& [reason, n] : drops) {
        out += std::string("consultd_turn_dropped_packets_total{reason=\"") + reason + "\"} " + std::to_string(n) + "\n";
    }
    // Per allocation: which relay carries how much (no credentials, no peer addresses).
    out += "# HELP consultd_turn_allocation_bytes Bytes relayed by one allocation.\n"
           "# TYPE consultd_turn_allocation_bytes gauge\n";
    for (const auto& a : relay.allocations()) {
        const std::string labels = "relay=\"" + core::Metrics::escapeLabel(a.relayAddress) + "\",transport=\"" +
                                   a.transport + "\"";
        out += "consultd_turn_allocation_bytes{" + labels + ",direction=\"from_client\"} " + std::to_string(a.bytesFromClient) + "\n";
        out += "consultd_turn_allocation_bytes{" + labels + ",direction=\"to_client\"} " + std::to_string(a.bytesToClient) + "\n";
    }
}

}  // namespace

std::vector<std::string> TurnSubsystem::clientUrls(const config::Config& config, int udpPort, int tcpPort, int tlsPort) {
    std::string host = clientHost(config);
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    std::vector<std::string> urls;
    if (udpPort > 0) {
        urls.push_back("stun:" + host + ":" + std::to_string(udpPort));
        urls.push_back("turn:" + host + ":" + std::to_string(udpPort) + "?transport=udp");
    }
    if (tcpPort > 0) urls.push_back("turn:" + host + ":" + std::to_string(tcpPort) + "?transport=tcp");
    if (tlsPort > 0) urls.push_back("turns:" + host + ":" + std::to_string(tlsPort) + "?transport=tcp");
    return urls;
}

void TurnSubsystem::initialize(Poco::Util::Application&) {
    const auto config = runtime_.currentConfig();
    if (config->getString("turn.mode") != "embedded") return;
    auto relay = std::make_unique<turn::TurnRelay>(relayConfig(*config));
    try {
        relay->start();
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("turn: cannot start the embedded relay: ") + e.what());
    }
    const auto ports = relay->boundPorts();
    const int udp = config->getInt("turn.udp_port") >= 0 ? ports.udp : -1;
    const int tcp = config->getInt("turn.tcp_port") >= 0 ? ports.tcp : -1;
    const int tls = config->getInt("turn.tls_port") >= 0 ? ports.tls : -1;
    runtime_.embeddedTurnUrls = clientUrls(*config, udp, tcp, tls);
    std::string list;
    for (const auto& u : runtime_.embeddedTurnUrls) list += (list.empty() ? "" : " ") + u;
    Poco::Logger::get("turn").notice("embedded relay on " + config->getString("turn.listen_address") + " (udp " +
                                     std::to_string(udp) + ", tcp " + std::to_string(tcp) + ", tls " +
                                     std::to_string(tls) + "); clients get " + list);
    turn::TurnRelay* raw = relay.get();
    runtime_.metrics.addCollector([raw](std::string& out) { renderStats(*raw, out); });
    runtime_.turnRelay = std::move(relay);
}

void TurnSubsystem::uninitialize() {
    if (runtime_.turnRelay) runtime_.turnRelay->stop();
    // The relay object stays until the Runtime goes: the metrics collector holds a pointer.
}

}  // namespace consultd::app
