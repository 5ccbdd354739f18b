// turn_loadgen: a TURN load generator that can push a relay past what one
// turnutils_uclient process can (uclient saturates its own thread first).
//
// N client sessions (one UDP socket and one allocation each, use-auth-secret
// credentials, one channel to a loopback echo peer) send ChannelData at a
// fixed total rate, spread over client threads; echo threads bounce every
// packet back through the relay. Each packet carries its send time, so the
// client measures round-trip time; loss is sent minus echoed after a drain.
// The relay's CPU time comes from /proc/<pid>/stat before and after.
//
// Output: one line of key=value pairs (see printResult). Loopback only.
#include "StunMessage.h"
#include "TurnCrypto.h"
#include "consultd/turn/Credentials.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace consultd::turn;
namespace attr = consultd::turn::stun::attr;
using Clock = std::chrono::steady_clock;

namespace {

std::string gSecret;  // the run's shared secret, set once in main()

struct Options {
    std::string serverIp = "127.0.0.1";
    int serverPort = 3478;
    std::string secret;
    int sessions = 50;
    double rate = 10000;  // client -> peer packets per second, all sessions together
    double duration = 5;
    int size = 200;
    int clientThreads = 1;
    int peerThreads = 1;
    int serverPid = 0;
    int floorIterations = 0;  ///< > 0: only measure the kernel floor (runFloor)
};

std::int64_t nowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

/// The server's CPU (utime and stime, clock ticks) and context switches
/// (voluntary + involuntary, summed over its threads) from /proc.
struct ServerUsage {
    std::uint64_t utime = 0, stime = 0, contextSwitches = 0;
};

ServerUsage serverUsage(int pid) {
    ServerUsage u;
    if (pid <= 0) return u;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return u;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) u.utime = std::stoull(field);
        if (i == 15) u.stime = std::stoull(field);
    }
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
        std::ifstream status(entry.path() / "status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
                u.contextSwitches += std::stoull(line.substr(line.find(':') + 1));
    }
    return u;
}

/// The kernel's share of relaying one datagram, without any relay: one
/// sendto() of a `size`-byte datagram to a loopback socket (which on loopback
/// includes delivering it into the receiver's queue) plus one recv() of it, in
/// one thread, so no wakeup or context switch is involved. A user-space relay
/// using the socket API does at least this per relayed packet; it is the floor
/// the servers' CPU per packet is compared with.
void runFloor(int size, int iterations) {
    auto bound = [] {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        return fd;
    };
    const int rx = bound(), tx = bound();
    sockaddr_in to{};
    socklen_t len = sizeof to;
    ::getsockname(rx, reinterpret_cast<sockaddr*>(&to), &len);
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(size) + 64, 0x5A);
    auto measure = [&](bool connected) {
        if (connected) ::connect(tx, reinterpret_cast<sockaddr*>(&to), sizeof to);
        timespec c0{}, c1{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        for (int i = 0; i < iterations; ++i) {
            if (connected) ::send(tx, buf.data(), static_cast<std::size_t>(size), 0);
            else ::sendto(tx, buf.data(), static_cast<std::size_t>(size), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
            ::recv(rx, buf.data(), buf.size(), 0);
        }
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        const double ns = static_cast<double>(c1.tv_sec - c0.tv_sec) * 1e9 + static_cast<double>(c1.tv_nsec - c0.tv_nsec);
        return ns / 1000.0 / iterations;
    };
    const double unconnected = measure(false);
    const double connected = measure(true);
    std::printf("floor_us_per_pkt=%.3f floor_connected_us_per_pkt=%.3f size=%d iterations=%d\n", unconnected, connected,
                size, iterations);
    ::close(rx);
    ::close(tx);
}

int udpSocket(const SocketAddress& bindTo) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int size = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (::bind(fd, bindTo.sockaddrPtr(), bindTo.length()) != 0) {
        perror("bind");
        std::exit(1);
    }
    return fd;
}

struct Session {
    int fd = -1;
    SocketAddress relayed;
    std::uint16_t channel = 0x4000;
    std::array<std::uint8_t, 16> key{};
    std::string username, realm, nonce;
};

std::array<std::uint8_t, 12> transaction() {
    std::array<std::uint8_t, 12> t{};
    crypto::randomBytes(t);
    return t;
}

/// Request/response on a connected socket, retransmitting a few times.
bool exchange(int fd, std::span<const std::uint8_t> request, std::vector<std::uint8_t>& reply) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        ::send(fd, request.data(), request.size(), 0);
        const auto deadline = Clock::now() + std::chrono::milliseconds(500);
        while (Clock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            reply.resize(65536);
            const ssize_t n = ::recv(fd, reply.data(), reply.size(), 0);
            if (n <= 20) continue;
            reply.resize(static_cast<std::size_t>(n));
            if (std::equal(request.begin() + 8, request.begin() + 20, reply.begin() + 8)) return true;
        }
    }
    return false;
}

int errorCode(const stun::StunMessageView& m) {
    const stun::Attribute* e = m.find(attr::ErrorCode);
    return e && e->value.size() >= 4 ? e->value[2] * 100 + e->value[3] : 0;
}

bool authedRequest(Session& s, stun::Method method, const std::function<void(stun::StunMessageBuilder&)>& add,
                   std::vector<std::uint8_t>& reply, stun::StunMessageView& view) {
    for (int round = 0; round < 3; ++round) {
        std::array<std::uint8_t, 512> buf{};
        stun::StunMessageBuilder b(buf, method, stun::MessageClass::Request, transaction());
        add(b);
        if (!s.nonce.empty()) {
            b.addString(attr::Username, s.username);
            b.addString(attr::Realm, s.realm);
            b.addString(attr::Nonce, s.nonce);
            b.addMessageIntegrity(s.key);
        }
        b.addFingerprint();
        if (!exchange(s.fd, b.bytes(), reply) || view.parse(reply) != stun::ParseResult::Ok) return false;
        if (view.messageClass() == stun::MessageClass::Success) return true;
        const int code = errorCode(view);
        if (code != 401 && code != 438) {
            std::cerr << "request failed with " << code << "\n";
            return false;
        }
        s.realm = std::string(*view.findString(attr::Realm));
        s.nonce = std::string(*view.findString(attr::Nonce));
        s.key = crypto::md5(s.username + ":" + s.realm + ":" + passwordFor(gSecret, s.username));
    }
    return false;
}

struct ThreadResult {
    std::uint64_t sent = 0, received = 0, sendErrors = 0;
    std::vector<std::uint32_t> rttHistogram;  // 10 us buckets
};

constexpr std::size_t kBuckets = 100000;  // up to 1 s

void clientThread(const Options& o, std::vector<Session*> mine, double rate, std::int64_t startNs, std::int64_t endNs,
                  std::int64_t drainNs, ThreadResult& result) {
    result.rttHistogram.assign(kBuckets, 0);
    const int ep = ::epoll_create1(0);
    for (std::size_t i = 0; i < mine.size(); ++i) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, mine[i]->fd, &ev);
    }
    std::vector<std::uint8_t> packet(static_cast<std::size_t>(o.size) + 256, 0xA5);
    std::array<std::uint8_t, 65536> rx{};
    std::size_t next = 0;
    std::uint32_t seq = 0;
    epoll_event events[256];
    while (true) {
        const std::int64_t now = nowNs();
        if (now >= drainNs) break;
        if (now < endNs) {
            const auto due = static_cast<std::uint64_t>(static_cast<double>(now - startNs) * rate / 1e9);
            int burst = 0;
            while (result.sent < due && burst++ < 256) {
                Session& s = *mine[next];
                next = (next + 1) % mine.size();
                const std::int64_t t = nowNs();
                packet[0] = static_cast<std::uint8_t>(s.channel >> 8);
                packet[1] = static_cast<std::uint8_t>(s.channel);
                packet[2] = static_cast<std::uint8_t>(o.size >> 8);
                packet[3] = static_cast<std::uint8_t>(o.size);
                std::memcpy(packet.data() + 4, &t, 8);
                std::memcpy(packet.data() + 12, &seq, 4);
                const std::size_t length = 4 + static_cast<std::size_t>(o.size);
                ++seq;
                // A failed send still counts as offered load (and so as loss).
                ++result.sent;
                if (::send(s.fd, packet.data(), length, MSG_DONTWAIT) != static_cast<ssize_t>(length)) ++result.sendErrors;
            }
        }
        const bool behind = now < endNs && result.sent < static_cast<std::uint64_t>(static_cast<double>(now - startNs) * rate / 1e9);
        const int n = ::epoll_wait(ep, events, 256, behind ? 0 : 1);
        for (int i = 0; i < n; ++i) {
            Session& s = *mine[events[i].data.u64];
            while (true) {
                const ssize_t r = ::recv(s.fd, rx.data(), rx.size(), MSG_DONTWAIT);
                if (r <= 0) break;
                if (r < 16 || (rx[0] & 0xC0) != 0x40) continue;
                std::int64_t sentAt;
                std::memcpy(&sentAt, rx.data() + 4, 8);
                ++result.received;
                const auto us = static_cast<std::size_t>(std::max<std::int64_t>(0, nowNs() - sentAt) / 10000);
                ++result.rttHistogram[std::min(us, kBuckets - 1)];
            }
        }
    }
    ::close(ep);
}

void peerThread(int fd, std::atomic<bool>& stop, std::atomic<std::uint64_t>& received) {
    constexpr int kBatch = 64;
    std::vector<std::uint8_t> buffers(kBatch * 2048);
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    sockaddr_storage addrs[kBatch];
    std::uint64_t count = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        for (int i = 0; i < kBatch; ++i) {
            iov[i] = {buffers.data() + i * 2048, 2048};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_name = &addrs[i];
            msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int n = ::recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) continue;
        count += static_cast<std::uint64_t>(n);
        for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;  // echo exactly what came in
        int sent = 0;
        while (sent < n) {
            const int m = ::sendmmsg(fd, msgs + sent, static_cast<unsigned>(n - sent), 0);
            if (m <= 0) break;
            sent += m;
        }
        received.store(count, std::memory_order_relaxed);
    }
    received.store(count, std::memory_order_relaxed);
}

std::uint64_t percentile(const std::vector<std::uint32_t>& h, std::uint64_t total, double p) {
    if (total == 0) return 0;
    const auto target = static_cast<std::uint64_t>(std::ceil(static_cast<double>(total) * p));
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
        acc += h[i];
        if (acc >= target) return i * 10;
    }
    return h.size() * 10;
}

[[noreturn]] void usage() {
    std::cerr << "usage: turn_loadgen --port N --secret S [--server IP] [--sessions N] [--rate PPS] [--duration S]\n"
                 "  [--size BYTES] [--client-threads N] [--peer-threads N] [--server-pid PID]\n"
                 "       turn_loadgen --floor ITERATIONS [--size BYTES]\n";
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--server") o.serverIp = next();
        else if (a == "--port") o.serverPort = std::stoi(next());
        else if (a == "--secret") o.secret = next();
        else if (a == "--sessions") o.sessions = std::stoi(next());
        else if (a == "--rate") o.rate = std::stod(next());
        else if (a == "--duration") o.duration = std::stod(next());
        else if (a == "--size") o.size = std::stoi(next());
        else if (a == "--client-threads") o.clientThreads = std::stoi(next());
        else if (a == "--peer-threads") o.peerThreads = std::stoi(next());
        else if (a == "--server-pid") o.serverPid = std::stoi(next());
        else if (a == "--floor") o.floorIterations = std::stoi(next());
        else usage();
    }
    if (o.floorIterations > 0) {
        runFloor(o.size + 4, o.floorIterations);  // the ChannelData frame the relay receives
        return 0;
    }
    if (o.secret.empty() || o.size < 16 || o.size > 1400) usage();
    gSecret = o.secret;
    const auto server = *SocketAddress::parse(o.serverIp, static_cast<std::uint16_t>(o.serverPort));
    const auto loopback = *SocketAddress::parse("127.0.0.1", 0);

    std::vector<int> peers;
    std::vector<SocketAddress> peerAddrs;
    for (int i = 0; i < o.peerThreads; ++i) {
        const int fd = udpSocket(loopback);
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
        peers.push_back(fd);
        peerAddrs.push_back(SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len));
    }

    std::vector<Session> sessions(static_cast<std::size_t>(o.sessions));
    const auto expiry = static_cast<std::int64_t>(std::time(nullptr)) + 3600;
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        Session& s = sessions[i];
        s.fd = udpSocket(loopback);
        ::connect(s.fd, server.sockaddrPtr(), server.length());
        s.username = mintUsername(expiry, "bench" + std::to_string(i));
        std::vector<std::uint8_t> reply;
        stun::StunMessageView view;
        if (!authedRequest(s, stun::Method::Allocate,
                           [](auto& b) { b.addU32(attr::RequestedTransport, 17u << 24); }, reply, view)) {
            std::cerr << "allocate failed for session " << i << "\n";
            return 1;
        }
        s.relayed = *view.findXorAddress(attr::XorRelayedAddress);
        const SocketAddress peer = peerAddrs[i % peerAddrs.size()];
        if (!authedRequest(s, stun::Method::ChannelBind,
                           [&](auto& b) {
                               b.addU32(attr::ChannelNumber, std::uint32_t{s.channel} << 16);
                               b.addXorAddress(attr::XorPeerAddress, peer);
                           },
                           reply, view)) {
            std::cerr << "channel bind failed for session " << i << "\n";
            return 1;
        }
    }

    std::atomic<bool> stopPeers{false};
    std::vector<std::atomic<std::uint64_t>> peerCounts(peers.size());
    std::vector<std::thread> peerThreads;
    for (std::size_t i = 0; i < peers.size(); ++i)
        peerThreads.emplace_back(peerThread, peers[i], std::ref(stopPeers), std::ref(peerCounts[i]));

    const ServerUsage before = serverUsage(o.serverPid);
    const std::int64_t start = nowNs() + 50'000'000;
    const std::int64_t end = start + static_cast<std::int64_t>(o.duration * 1e9);
    const std::int64_t drain = end + 1'000'000'000;
    std::vector<ThreadResult> results(static_cast<std::size_t>(o.clientThreads));
    std::vector<std::thread> clients;
    for (int t = 0; t < o.clientThreads; ++t) {
        std::vector<Session*> mine;
        for (std::size_t i = static_cast<std::size_t>(t); i < sessions.size(); i += static_cast<std::size_t>(o.clientThreads))
            mine.push_back(&sessions[i]);
        clients.emplace_back(clientThread, std::cref(o), mine, o.rate / o.clientThreads, start, end, drain,
                             std::ref(results[static_cast<std::size_t>(t)]));
    }
    for (auto& t : clients) t.join();
    const ServerUsage after = serverUsage(o.serverPid);
    stopPeers = true;
    for (auto& t : peerThreads) t.join();

    ThreadResult total;
    total.rttHistogram.assign(kBuckets, 0);
    for (const auto& r : results) {
        total.sent += r.sent;
        total.received += r.received;
        total.sendErrors += r.sendErrors;
        for (std::size_t i = 0; i < kBuckets; ++i) total.rttHistogram[i] += r.rttHistogram[i];
    }
    std::uint64_t peerReceived = 0;
    for (auto& c : peerCounts) peerReceived += c.load();
    const std::uint64_t relayed = peerReceived + total.received;
    const double seconds = o.duration;
    const double tick = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
    const double cpuUs = static_cast<double>(after.utime + after.stime - before.utime - before.stime) * tick;
    const auto switches = static_cast<double>(after.contextSwitches - before.contextSwitches);
    const std::uint64_t lost = total.sent > total.received ? total.sent - total.received : 0;
    std::printf("offered_pps=%.0f sent=%llu echoed=%llu lost=%llu loss_pct=%.4f send_errors=%llu relayed_pps=%.0f "
                "relayed_mbps=%.1f rtt_p50_us=%llu rtt_p90_us=%llu rtt_p99_us=%llu rtt_max_us=%llu server_cpu_s=%.2f "
                "server_cpu_us_per_pkt=%.2f server_ctx_switches_per_pkt=%.3f\n",
                o.rate, static_cast<unsigned long long>(total.sent), static_cast<unsigned long long>(total.received),
                static_cast<unsigned long long>(lost), total.sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(total.sent) : 0.0,
                static_cast<unsigned long long>(total.sendErrors), static_cast<double>(relayed) / seconds,
                static_cast<double>(relayed) * (o.size + 4) * 8 / seconds / 1e6,
                static_cast<unsigned long long>(percentile(total.rttHistogram, total.received, 0.50)),
                static_cast<unsigned long long>(percentile(total.rttHistogram, total.received, 0.90)),
                static_cast<unsigned long long>(percentile(total.rttHistogram, total.received, 0.99)),
                static_cast<unsigned long long>(percentile(total.rttHistogram, total.received, 1.0)), cpuUs / 1e6,
                relayed ? cpuUs / static_cast<double>(relayed) : 0.0,
                relayed ? switches / static_cast<double>(relayed) : 0.0);
    for (auto& s : sessions) ::close(s.fd);
    for (int fd : peers) ::close(fd);
    return 0;
}
