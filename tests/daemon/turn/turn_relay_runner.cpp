// Hosts the real consultd::turn::TurnRelay on loopback for the coturn-client
// tests and the benchmark, until the daemon itself can. Prints the bound
// ports and engine ("udp=N tcp=N tls=N io=E threads=N") on one stdout line once listening, runs until
// SIGTERM/SIGINT, then prints the final counters as "key=value" lines.
#include "consultd/turn/TurnRelay.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

using consultd::turn::LogLevel;
using consultd::turn::RelayConfig;
using consultd::turn::TurnRelay;

namespace {

[[noreturn]] void usage() {
    std::cerr << "usage: turn_relay_runner --secret S [--udp-port N] [--tcp-port N] [--tls-port N --cert F --key F]\n"
                 "  [--threads N] [--io-engine auto|io_uring|epoll] [--batch-wait-us N] [--realm R] [--max-per-user N] [--max-per-ip N] [--max-total N]\n"
                 "  [--bandwidth BYTES] [--no-loopback-peers] [--allow-range CIDR]... [--verbose]\n";
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    RelayConfig config;
    config.listenAddress = "127.0.0.1";
    config.udpPort = 0;
    config.tcpPort = 0;
    config.tlsPort = -1;
    config.relayPortMin = 0;  // kernel-chosen relay ports: hermetic
    config.allowLoopbackPeers = true;
    config.maxAllocationsPerUsername = 0;
    config.maxAllocationsPerIp = 0;
    config.maxAllocationsTotal = 0;
    bool verbose = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (arg == "--secret") config.sharedSecret = next();
        else if (arg == "--udp-port") config.udpPort = std::stoi(next());
        else if (arg == "--tcp-port") config.tcpPort = std::stoi(next());
        else if (arg == "--tls-port") config.tlsPort = std::stoi(next());
        else if (arg == "--cert") config.tlsCertFile = next();
        else if (arg == "--key") config.tlsKeyFile = next();
        else if (arg == "--threads") config.threads = std::stoi(next());
        else if (arg == "--io-engine") {
            const std::string e = next();
            if (e == "auto") config.ioEngine = consultd::turn::IoEngine::Auto;
            else if (e == "io_uring") config.ioEngine = consultd::turn::IoEngine::IoUring;
            else if (e == "epoll") config.ioEngine = consultd::turn::IoEngine::Epoll;
            else usage();
        } else if (arg == "--batch-wait-us") config.batchWaitMicros = std::stoi(next());
        else if (arg == "--realm") config.realm = next();
        else if (arg == "--max-per-user") config.maxAllocationsPerUsername = std::stoi(next());
        else if (arg == "--max-per-ip") config.maxAllocationsPerIp = std::stoi(next());
        else if (arg == "--max-total") config.maxAllocationsTotal = std::stoi(next());
        else if (arg == "--bandwidth") config.maxBandwidthBytesPerSec = std::stoll(next());
        else if (arg == "--no-loopback-peers") config.allowLoopbackPeers = false;
        else if (arg == "--allow-range") config.allowedPeerRanges.push_back(next());
        else if (arg == "--verbose") verbose = true;
        else usage();
    }
    if (verbose)
        config.logSink = [](LogLevel, const std::string& line) { std::cerr << line << '\n'; };

    // Block the stop signals before any worker thread exists, then wait for one.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    TurnRelay relay(config);
    try {
        relay.start();
    } catch (const std::exception& e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
    const auto ports = relay.boundPorts();
    std::cout << "udp=" << ports.udp << " tcp=" << ports.tcp << " tls=" << ports.tls << " io=" << relay.ioEngine()
              << " threads=" << (config.threads > 0 ? config.threads : consultd::turn::defaultThreadCount()) << std::endl;

    int signal = 0;
    sigwait(&stopSignals, &signal);
    relay.stop();
    const auto s = relay.stats();
    std::cout << "allocations_created=" << s.allocationsCreated << "\n"
              << "packets_from_clients=" << s.packetsFromClients << "\n"
              << "packets_to_clients=" << s.packetsToClients << "\n"
              << "bytes_from_clients=" << s.bytesFromClients << "\n"
              << "bytes_to_clients=" << s.bytesToClients << "\n"
              << "auth_failures=" << s.authFailures << "\n"
              << "drops_malformed=" << s.dropsMalformed << "\n"
              << "drops_no_permission=" << s.dropsNoPermission << "\n"
              << "drops_unknown_channel=" << s.dropsUnknownChannel << "\n"
              << "drops_backpressure=" << s.dropsBackpressure << "\n"
              << "quota_rejections=" << s.quotaRejections << "\n"
              << "peer_denied=" << s.peerDenied << std::endl;
    return 0;
}
