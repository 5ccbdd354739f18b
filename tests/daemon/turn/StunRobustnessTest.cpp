// Mutation tests for the parsers of untrusted input: the STUN codec in
// process, then the running relay over UDP and TCP. Deterministic (fixed
// seed) and bounded, so a failure reproduces; run it under ASan/UBSan
// (CONSULTD_SANITIZE) for memory errors. A longer libFuzzer campaign would
// use the same seeds.
#include "StunMessage.h"
#include "TurnCrypto.h"
#include "UniqueFd.h"
#include "consultd/turn/Credentials.h"
#include "consultd/turn/TurnRelay.h"

#include <cppunit/extensions/HelperMacros.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <random>
#include <thread>
#include <vector>

using namespace consultd::turn;
namespace attr = consultd::turn::stun::attr;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes build(stun::Method method, stun::MessageClass cls, const std::function<void(stun::StunMessageBuilder&)>& add) {
    std::array<std::uint8_t, 12> tid{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
    std::array<std::uint8_t, 1024> buf{};
    stun::StunMessageBuilder b(buf, method, cls, tid);
    add(b);
    return Bytes(b.bytes().begin(), b.bytes().end());
}

std::vector<Bytes> seeds() {
    const auto key = crypto::md5("1:u:consultd:pw");
    const auto peer = *SocketAddress::parse("127.0.0.1", 4000);
    const auto peer6 = *SocketAddress::parse("2001:db8::1", 4000);
    return {
        build(stun::Method::Binding, stun::MessageClass::Request, [](auto& b) { b.addFingerprint(); }),
        build(stun::Method::Allocate, stun::MessageClass::Request,
              [&](auto& b) {
                  b.addU32(attr::RequestedTransport, 17u << 24);
                  b.addU32(attr::Lifetime, 600);
                  const std::uint8_t r = 0x80;
                  b.add(attr::EvenPort, std::span(&r, 1));
                  b.addString(attr::Username, "1700000000:u");
                  b.addString(attr::Realm, "consultd");
                  b.addString(attr::Nonce, "00000000000000000000000000000000");
                  b.addMessageIntegrity(key);
                  b.addMessageIntegritySha256(key);
                  b.addFingerprint();
              }),
        build(stun::Method::CreatePermission, stun::MessageClass::Request,
              [&](auto& b) {
                  b.addXorAddress(attr::XorPeerAddress, peer);
                  b.addXorAddress(attr::XorPeerAddress, peer6);
                  b.addMessageIntegrity(key);
              }),
        build(stun::Method::ChannelBind, stun::MessageClass::Request,
              [&](auto& b) {
                  b.addU32(attr::ChannelNumber, 0x40010000u);
                  b.addXorAddress(attr::XorPeerAddress, peer);
              }),
        build(stun::Method::Send, stun::MessageClass::Indication,
              [&](auto& b) {
                  b.addXorAddress(attr::XorPeerAddress, peer);
                  b.addString(attr::Data, "hello peer");
                  b.addFingerprint();
              }),
        build(stun::Method::Allocate, stun::MessageClass::Error,
              [](auto& b) {
                  b.addError(401, "Unauthorized");
                  const std::uint16_t unknown[] = {0x0031, 0x0032};
                  b.addUnknownAttributes(unknown);
              }),
        Bytes{0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0},
    };
}

Bytes mutate(const Bytes& seed, std::mt19937& rng) {
    Bytes m = seed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
        switch (rng() % 7) {
        case 0:  // flip a bit
            if (!m.empty()) m[rng() % m.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
            break;
        case 1:  // random byte
            if (!m.empty()) m[rng() % m.size()] = static_cast<std::uint8_t>(rng());
            break;
        case 2:  // truncate
            if (!m.empty()) m.resize(rng() % m.size());
            break;
        case 3:  // append junk
            for (unsigned i = rng() % 16; i > 0; --i) m.push_back(static_cast<std::uint8_t>(rng()));
            break;
        case 4:  // rewrite the message length
            if (m.size() >= 4) {
                m[2] = static_cast<std::uint8_t>(rng() % 3);
                m[3] = static_cast<std::uint8_t>(rng());
            }
            break;
        case 5:  // rewrite an attribute length somewhere after the header
            if (m.size() > 24) {
                const std::size_t at = 20 + 4 * (rng() % ((m.size() - 20) / 4));
                if (at + 3 < m.size()) m[at + 3] = static_cast<std::uint8_t>(rng());
            }
            break;
        default:  // duplicate a chunk
            if (m.size() > 8) {
                const std::size_t from = rng() % (m.size() - 4);
                m.insert(m.end(), m.begin() + static_cast<long>(from), m.begin() + static_cast<long>(from + 4));
            }
        }
    }
    return m;
}

}  // namespace

class StunRobustnessTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StunRobustnessTest);
    CPPUNIT_TEST(testCodecSurvivesMutations);
    CPPUNIT_TEST(testRelaySurvivesMutatedTraffic);
    CPPUNIT_TEST_SUITE_END();

public:
    void testCodecSurvivesMutations() {
        std::mt19937 rng(20261123);
        const auto corpus = seeds();
        const auto key = crypto::md5("k");
        std::size_t parsed = 0;
        for (int i = 0; i < 200000; ++i) {
            const Bytes m = mutate(corpus[static_cast<std::size_t>(i) % corpus.size()], rng);
            stun::StunMessageView view;
            if (view.parse(m) != stun::ParseResult::Ok) continue;
            ++parsed;
            // Every attribute the parser reports lies inside the message.
            for (const auto& a : view.attributes()) {
                CPPUNIT_ASSERT(a.value.data() >= m.data() && a.value.data() + a.value.size() <= m.data() + m.size());
                CPPUNIT_ASSERT(a.offset >= 20 && a.offset + 4u + a.value.size() <= m.size());
                (void)view.xorAddress(a);
            }
            (void)view.findString(attr::Username);
            (void)view.findU32(attr::Lifetime);
            if (view.hasMessageIntegrity()) (void)view.verifyIntegrity(key);
        }
        // The mutations must leave enough messages well-formed to exercise the accessors.
        CPPUNIT_ASSERT(parsed > 5000);
    }

    void testRelaySurvivesMutatedTraffic() {
        RelayConfig c;
        c.listenAddress = "127.0.0.1";
        c.udpPort = 0;
        c.tcpPort = 0;
        c.relayPortMin = 0;
        c.sharedSecret = "robustness";
        c.allowLoopbackPeers = true;
        c.threads = 2;
        TurnRelay relay(c);
        relay.start();
        const auto ports = relay.boundPorts();
        const auto server = *SocketAddress::parse("127.0.0.1", ports.udp);
        const auto tcpServer = *SocketAddress::parse("127.0.0.1", ports.tcp);

        std::mt19937 rng(42);
        auto corpus = seeds();
        // A correctly signed Allocate too, so mutations reach the auth path.
        const std::string user = mintUsername(static_cast<std::int64_t>(std::time(nullptr)) + 600, "fuzz");
        const auto key = crypto::md5(user + ":consultd:" + passwordFor("robustness", user));
        corpus.push_back(build(stun::Method::Allocate, stun::MessageClass::Request, [&](auto& b) {
            b.addU32(attr::RequestedTransport, 17u << 24);
            b.addString(attr::Username, user);
            b.addString(attr::Realm, "consultd");
            b.addString(attr::Nonce, "0000000000000000aaaaaaaaaaaaaaaa");
            b.addMessageIntegrity(key);
        }));

        UniqueFd udp(::socket(AF_INET, SOCK_DGRAM, 0));
        for (int i = 0; i < 5000; ++i) {
            const Bytes m = mutate(corpus[static_cast<std::size_t>(i) % corpus.size()], rng);
            ::sendto(udp.get(), m.data(), m.size(), 0, server.sockaddrPtr(), server.length());
            if (i % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // do not just fill the socket buffer
        }
        for (int conn = 0; conn < 20; ++conn) {
            UniqueFd tcp(::socket(AF_INET, SOCK_STREAM, 0));
            CPPUNIT_ASSERT(::connect(tcp.get(), tcpServer.sockaddrPtr(), tcpServer.length()) == 0);
            Bytes stream;
            for (int i = 0; i < 50; ++i) {
                const Bytes m = mutate(corpus[rng() % corpus.size()], rng);
                stream.insert(stream.end(), m.begin(), m.end());
            }
            ::send(tcp.get(), stream.data(), stream.size(), MSG_NOSIGNAL);
        }

        // Still alive and answering on both transports.
        for (bool useTcp : {false, true}) {
            UniqueFd s(::socket(AF_INET, useTcp ? SOCK_STREAM : SOCK_DGRAM, 0));
            const auto& to = useTcp ? tcpServer : server;
            CPPUNIT_ASSERT(::connect(s.get(), to.sockaddrPtr(), to.length()) == 0);
            const Bytes binding = corpus[0];
            bool answered = false;
            for (int attempt = 0; attempt < 10 && !answered; ++attempt) {
                ::send(s.get(), binding.data(), binding.size(), MSG_NOSIGNAL);
                pollfd p{s.get(), POLLIN, 0};
                if (::poll(&p, 1, 300) > 0) {
                    std::uint8_t buf[2048];
                    answered = ::recv(s.get(), buf, sizeof buf, 0) >= 20 && buf[0] == 0x01 && buf[1] == 0x01;
                }
            }
            CPPUNIT_ASSERT_MESSAGE(useTcp ? "tcp" : "udp", answered);
        }
        const auto stats = relay.stats();
        CPPUNIT_ASSERT(stats.dropsMalformed > 100);
        relay.stop();
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StunRobustnessTest);
