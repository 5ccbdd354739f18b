// The real TurnRelay on 127.0.0.1 (port 0, kernel-chosen relay ports),
// driven by a small hand-written client over UDP and TCP: every refusal the
// issue lists, plus the relay path in both directions. Only loopback traffic;
// every wait is bounded.
#include "StunMessage.h"
#include "TurnCrypto.h"
#include "UniqueFd.h"
#include "consultd/turn/Credentials.h"
#include "consultd/turn/TurnRelay.h"

#include <cppunit/extensions/HelperMacros.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace consultd::turn;
namespace attr = consultd::turn::stun::attr;
using stun::MessageClass;
using stun::Method;
using Bytes = std::vector<std::uint8_t>;

namespace {

const std::string kSecret = "unit-test-secret";
const std::string kRealm = "consultd-test";

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

/// A UDP or TCP client socket towards the relay, or a plain UDP peer.
class TestSocket {
public:
    TestSocket(bool tcp, std::uint16_t serverPort, const char* localIp = "127.0.0.1") : tcp_(tcp) {
        fd_.reset(::socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0));
        server_ = *SocketAddress::parse("127.0.0.1", serverPort);
        auto local = *SocketAddress::parse(localIp, 0);
        if (::bind(fd_.get(), local.sockaddrPtr(), local.length()) != 0) throw std::runtime_error("bind");
        if (tcp && ::connect(fd_.get(), server_.sockaddrPtr(), server_.length()) != 0)
            throw std::runtime_error("connect");
    }
    static TestSocket peer(const char* ip = "127.0.0.1") { return TestSocket(false, 9, ip); }

    SocketAddress local() const {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
        return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    }
    void send(const Bytes& b) { sendTo(b, server_); }
    void sendTo(const Bytes& b, const SocketAddress& to) {
        if (tcp_) ::send(fd_.get(), b.data(), b.size(), MSG_NOSIGNAL);
        else ::sendto(fd_.get(), b.data(), b.size(), 0, to.sockaddrPtr(), to.length());
    }
    /// One datagram (UDP) or one framed message (TCP), or nullopt after `ms`.
    std::optional<Bytes> receive(int ms = 1000, SocketAddress* from = nullptr) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (true) {
            if (tcp_) {
                if (auto frame = takeFrame()) return frame;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
            if (left <= 0) return std::nullopt;
            pollfd p{fd_.get(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
            std::uint8_t buf[70000];
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            const ssize_t n = ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&ss), &len);
            if (n <= 0) return std::nullopt;
            if (!tcp_) {
                if (from) *from = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
                return Bytes(buf, buf + n);
            }
            stream_.insert(stream_.end(), buf, buf + n);
        }
    }

private:
    std::optional<Bytes> takeFrame() {
        if (stream_.size() < 4) return std::nullopt;
        std::size_t size;
        if (stun::isChannelData(stream_[0])) size = 4 + ((static_cast<std::size_t>(stream_[2] << 8 | stream_[3]) + 3) & ~3u);
        else size = 20 + static_cast<std::size_t>(stream_[2] << 8 | stream_[3]);
        if (stream_.size() < size) return std::nullopt;
        Bytes frame(stream_.begin(), stream_.begin() + static_cast<long>(size));
        stream_.erase(stream_.begin(), stream_.begin() + static_cast<long>(size));
        return frame;
    }

    bool tcp_;
    UniqueFd fd_;
    SocketAddress server_;
    Bytes stream_;
};

std::array<std::uint8_t, 12> newTransaction() {
    std::array<std::uint8_t, 12> t{};
    crypto::randomBytes(t);
    return t;
}

struct Credentials {
    std::string username;
    std::array<std::uint8_t, 16> key{};
    std::string nonce;
    static Credentials forUser(const std::string& username, const std::string& secret = kSecret) {
        Credentials c;
        c.username = username;
        c.key = crypto::md5(username + ":" + kRealm + ":" + passwordFor(secret, username));
        return c;
    }
};

using AddAttributes = std::function<void(stun::StunMessageBuilder&)>;

Bytes makeRequest(Method method, const std::array<std::uint8_t, 12>& tid, const AddAttributes& add,
                  const Credentials* auth, bool sha256 = false, MessageClass cls = MessageClass::Request) {
    std::array<std::uint8_t, 1024> buffer{};
    stun::StunMessageBuilder b(buffer, method, cls, tid);
    if (add) add(b);
    if (auth) {
        b.addString(attr::Username, auth->username);
        b.addString(attr::Realm, kRealm);
        b.addString(attr::Nonce, auth->nonce);
        if (sha256) b.addMessageIntegritySha256(auth->key);
        else b.addMessageIntegrity(auth->key);
    }
    b.addFingerprint();
    if (!b.ok()) throw std::runtime_error("request too large");
    return Bytes(b.bytes().begin(), b.bytes().end());
}

int errorCode(const stun::StunMessageView& m) {
    const stun::Attribute* e = m.find(attr::ErrorCode);
    if (!e || e->value.size() < 4) return 0;
    return e->value[2] * 100 + e->value[3];
}

void addTransportUdp(stun::StunMessageBuilder& b) { b.addU32(attr::RequestedTransport, 17u << 24); }

}  // namespace

/// Every protocol test runs on the io_uring engine (here) and again on epoll
/// (RelayProtocolEpollTest below): the engines share the request and relay
/// code but receive, send and retire allocations differently. io_uring is
/// asked for explicitly, so a kernel without it fails here instead of
/// quietly testing epoll twice.
class RelayProtocolTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RelayProtocolTest);
    CPPUNIT_TEST(testBindingOverUdpAndTcp);
    CPPUNIT_TEST(testAllocateNeedsCredentials);
    CPPUNIT_TEST(testWrongPasswordRefused);
    CPPUNIT_TEST(testExpiredUsernameRefused);
    CPPUNIT_TEST(testStaleNonceAnswered438);
    CPPUNIT_TEST(testRelayBothWaysWithSendAndChannels);
    CPPUNIT_TEST(testTcpChannelDataIsPadded);
    CPPUNIT_TEST(testDeniedPeerGets403);
    CPPUNIT_TEST(testQuotaPerUserAnswered486);
    CPPUNIT_TEST(testUnknownChannelDropped);
    CPPUNIT_TEST(testTruncatedAndOversizedDropped);
    CPPUNIT_TEST(testWrongMagicCookieDropped);
    CPPUNIT_TEST(testDuplicateTransactionAnsweredFromCache);
    CPPUNIT_TEST(testSecondAllocateIs437AndOtherUser441);
    CPPUNIT_TEST(testRefreshZeroDeletesAllocation);
    CPPUNIT_TEST(testUnknownComprehensionRequiredAttribute420);
    CPPUNIT_TEST(testUnsupportedTransport442AndFamily440);
    CPPUNIT_TEST(testSha256IntegrityAnsweredInKind);
    CPPUNIT_TEST(testEvenPortReservation);
    CPPUNIT_TEST(testChannelRebindConflicts400);
    CPPUNIT_TEST(testChannelNumberRangeOfRfc5766);
    CPPUNIT_TEST(testBandwidthLimitDrops);
    CPPUNIT_TEST(testFailedSendCountedAsDrop);
    CPPUNIT_TEST(testAllocationExpiryEnforced);
    CPPUNIT_TEST(testRelayPortRangeAndCapacity508);
    CPPUNIT_TEST(testExternalIpAdvertised);
    CPPUNIT_TEST(testSecretRotation);
    CPPUNIT_TEST(testBindConflictAndBadConfigThrow);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override {
        start({});
        CPPUNIT_ASSERT_EQUAL(std::string(engine() == IoEngine::Epoll ? "epoll" : "io_uring"), relay_->ioEngine());
    }
    void tearDown() override { relay_.reset(); }

    // ------------------------------------------------------------- tests

    void testBindingOverUdpAndTcp() {
        for (bool tcp : {false, true}) {
            TestSocket client(tcp, tcp ? ports_.tcp : ports_.udp);
            const auto tid = newTransaction();
            client.send(makeRequest(Method::Binding, tid, {}, nullptr));
            const auto reply = client.receive();
            CPPUNIT_ASSERT(reply.has_value());
            stun::StunMessageView m;
            CPPUNIT_ASSERT(m.parse(*reply) == stun::ParseResult::Ok);
            CPPUNIT_ASSERT(m.messageClass() == MessageClass::Success);
            CPPUNIT_ASSERT(std::equal(tid.begin(), tid.end(), m.transactionId().begin()));
            CPPUNIT_ASSERT_EQUAL(client.local().toString(), m.findXorAddress(attr::XorMappedAddress)->toString());
            CPPUNIT_ASSERT(m.attributes().back().type == attr::Fingerprint);
        }
    }

    void testAllocateNeedsCredentials() {
        TestSocket client(false, ports_.udp);
        client.send(makeRequest(Method::Allocate, newTransaction(), addTransportUdp, nullptr));
        stun::StunMessageView m;
        const auto reply = client.receive();
        CPPUNIT_ASSERT(reply && m.parse(*reply) == stun::ParseResult::Ok);
        CPPUNIT_ASSERT_EQUAL(401, errorCode(m));
        CPPUNIT_ASSERT_EQUAL(kRealm, std::string(*m.findString(attr::Realm)));
        CPPUNIT_ASSERT(m.has(attr::Nonce));
        CPPUNIT_ASSERT(!m.hasMessageIntegrity());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, relay_->stats().allocationsActive);

        auto creds = validCredentials("alice");
        const auto relayed = allocate(client, creds);
        CPPUNIT_ASSERT(relayed.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), relayed->ipString());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, relay_->stats().allocationsActive);
        const auto list = relay_->allocations();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, list.size());
        CPPUNIT_ASSERT_EQUAL(std::string("udp"), list[0].transport);
        CPPUNIT_ASSERT(list[0].secondsLeft > 590 && list[0].secondsLeft <= 600);
    }

    void testWrongPasswordRefused() {
        TestSocket client(false, ports_.udp);
        auto creds = Credentials::forUser(mintUsername(now() + 600, "mallory"), "not-the-secret");
        creds.nonce = fetchNonce(client);
        const auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &creds));
        CPPUNIT_ASSERT_EQUAL(401, errorCode(*m));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, relay_->stats().authFailures);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, relay_->stats().allocationsActive);
    }

    void testExpiredUsernameRefused() {
        TestSocket client(false, ports_.udp);
        auto creds = Credentials::forUser(mintUsername(now() - 5, "late"));  // right secret, expired
        creds.nonce = fetchNonce(client);
        const auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &creds));
        CPPUNIT_ASSERT_EQUAL(401, errorCode(*m));
        // A username without an expiry is not a use-auth-secret credential at all.
        auto bare = Credentials::forUser("no-expiry");
        bare.nonce = creds.nonce;
        const auto m2 = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &bare));
        CPPUNIT_ASSERT_EQUAL(401, errorCode(*m2));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2}, relay_->stats().authFailures);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, relay_->stats().allocationsActive);
    }

    void testStaleNonceAnswered438() {
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("nora");
        creds.nonce = "0000000000000001deadbeefdeadbeef";  // long expired, not ours
        const auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &creds));
        CPPUNIT_ASSERT_EQUAL(438, errorCode(*m));
        const std::string fresh(*m->findString(attr::Nonce));
        CPPUNIT_ASSERT(fresh != creds.nonce);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, relay_->stats().staleNonces);
        creds.nonce = fresh;  // retrying with the new nonce works
        CPPUNIT_ASSERT(allocate(client, creds, false).has_value());
    }

    void testRelayBothWaysWithSendAndChannels() {
        TestSocket client(false, ports_.udp);
        TestSocket peer = TestSocket::peer();
        auto creds = validCredentials("carol");
        const auto relayed = *allocate(client, creds);
        expectSuccess(client, permissionRequest(peer.local(), creds));

        // Send indication -> peer, from the relayed address.
        client.send(sendIndication(peer.local(), {1, 2, 3, 4, 5}));
        SocketAddress from;
        auto got = peer.receive(1000, &from);
        CPPUNIT_ASSERT(got.has_value());
        CPPUNIT_ASSERT(*got == Bytes({1, 2, 3, 4, 5}));
        CPPUNIT_ASSERT_EQUAL(relayed.toString(), from.toString());

        // Peer -> client without a channel: a Data indication.
        peer.sendTo({9, 8, 7}, relayed);
        auto data = client.receive();
        stun::StunMessageView m;
        CPPUNIT_ASSERT(data && m.parse(*data) == stun::ParseResult::Ok);
        CPPUNIT_ASSERT(m.method() == Method::Data && m.messageClass() == MessageClass::Indication);
        CPPUNIT_ASSERT_EQUAL(peer.local().toString(), m.findXorAddress(attr::XorPeerAddress)->toString());
        const stun::Attribute* payload = m.find(attr::Data);
        CPPUNIT_ASSERT(payload && Bytes(payload->value.begin(), payload->value.end()) == Bytes({9, 8, 7}));

        // With a channel: ChannelData both ways.
        expectSuccess(client, channelBindRequest(0x4001, peer.local(), creds));
        client.send(channelData(0x4001, {42, 43}));
        got = peer.receive();
        CPPUNIT_ASSERT(got && *got == Bytes({42, 43}));
        const auto info = relay_->allocations();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, info.size());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, info[0].permissions);  // same IP: one permission
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, info[0].channels);
        CPPUNIT_ASSERT_EQUAL(relayed.toString(), info[0].relayAddress);
        peer.sendTo({5, 6, 7, 8, 9}, relayed);
        data = client.receive();
        CPPUNIT_ASSERT(data.has_value());
        CPPUNIT_ASSERT(*data == Bytes({0x40, 0x01, 0x00, 0x05, 5, 6, 7, 8, 9}));  // UDP: no padding needed

        // A peer without permission (permissions are per IP: use another
        // loopback address) is not relayed to the client.
        TestSocket stranger = TestSocket::peer("127.0.0.2");
        stranger.sendTo({1}, relayed);
        CPPUNIT_ASSERT(!client.receive(300).has_value());
        waitFor([&] { return relay_->stats().dropsNoPermission >= 1; });
        // Counters are bumped on the worker after the send: wait, do not race.
        waitFor([&] { return relay_->stats().packetsFromClients == 2 && relay_->stats().packetsToClients == 2; });
    }

    void testTcpChannelDataIsPadded() {
        TestSocket client(true, ports_.tcp);
        TestSocket peer = TestSocket::peer();
        auto creds = validCredentials("tcp-user");
        const auto relayed = *allocate(client, creds);
        expectSuccess(client, channelBindRequest(0x4abc, peer.local(), creds));
        peer.sendTo({1, 2, 3, 4, 5}, relayed);
        const auto data = client.receive();
        CPPUNIT_ASSERT(data.has_value());
        CPPUNIT_ASSERT(*data == Bytes({0x4a, 0xbc, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0}));
        // Client -> peer, padded frame followed by another one in the same write.
        Bytes two = channelData(0x4abc, {7, 7, 7});
        two.push_back(0);  // pad 3 -> 4
        Bytes second = channelData(0x4abc, {8});
        second.insert(second.end(), {0, 0, 0});
        two.insert(two.end(), second.begin(), second.end());
        client.send(two);
        auto got = peer.receive();
        CPPUNIT_ASSERT(got && *got == Bytes({7, 7, 7}));
        got = peer.receive();
        CPPUNIT_ASSERT(got && *got == Bytes({8}));
    }

    void testDeniedPeerGets403() {
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("dave");
        allocate(client, creds);
        for (const char* ip : {"10.1.2.3", "169.254.169.254", "224.0.0.251", "192.168.0.1"}) {
            const auto m = roundTrip(client, permissionRequest(*SocketAddress::parse(ip, 80), creds));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(ip, 403, errorCode(*m));
            CPPUNIT_ASSERT(m->verifyIntegrity(creds.key));  // authenticated errors are signed
        }
        const auto m = roundTrip(client, channelBindRequest(0x4002, *SocketAddress::parse("10.0.0.1", 5), creds));
        CPPUNIT_ASSERT_EQUAL(403, errorCode(*m));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{5}, relay_->stats().peerDenied);

        // And with loopback peers not allowed (the production default), 127.0.0.1 is refused too.
        Tweaks strict;
        strict.allowLoopbackPeers = false;
        start(strict);
        TestSocket client2(false, ports_.udp);
        auto creds2 = validCredentials("dave");
        allocate(client2, creds2);
        CPPUNIT_ASSERT_EQUAL(403, errorCode(*roundTrip(client2, permissionRequest(*SocketAddress::parse("127.0.0.1", 9), creds2))));
    }

    void testQuotaPerUserAnswered486() {
        Tweaks c;
        c.maxAllocationsPerUsername = 2;
        c.maxAllocationsPerIp = 3;
        start(c);
        std::vector<std::unique_ptr<TestSocket>> clients;
        for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<TestSocket>(false, ports_.udp));
        auto eve = validCredentials("eve");
        CPPUNIT_ASSERT(allocate(*clients[0], eve).has_value());
        auto eveAgain = Credentials::forUser(mintUsername(now() + 1200, "eve"));  // re-minted, same id: same quota
        CPPUNIT_ASSERT(allocate(*clients[1], eveAgain).has_value());
        auto third = validCredentials("eve");
        third.nonce = fetchNonce(*clients[2]);
        auto m = roundTrip(*clients[2], makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &third));
        CPPUNIT_ASSERT_EQUAL(486, errorCode(*m));
        // Per IP: a third user from the same address is fine, a fourth is not.
        auto frank = validCredentials("frank");
        CPPUNIT_ASSERT(allocate(*clients[2], frank).has_value());
        TestSocket fourth(false, ports_.udp);
        auto gina = validCredentials("gina");
        gina.nonce = fetchNonce(fourth);
        m = roundTrip(fourth, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &gina));
        CPPUNIT_ASSERT_EQUAL(486, errorCode(*m));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2}, relay_->stats().quotaRejections);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{3}, relay_->stats().allocationsActive);
        // Deleting one frees the slot.
        CPPUNIT_ASSERT(roundTrip(*clients[0], refreshRequest(0, eve))->messageClass() == MessageClass::Success);
        CPPUNIT_ASSERT(allocate(fourth, gina, false).has_value());
    }

    void testUnknownChannelDropped() {
        TestSocket client(false, ports_.udp);
        TestSocket peer = TestSocket::peer();
        auto creds = validCredentials("henry");
        allocate(client, creds);
        expectSuccess(client, permissionRequest(peer.local(), creds));
        client.send(channelData(0x4005, {1, 2, 3}));
        CPPUNIT_ASSERT(!peer.receive(300).has_value());
        waitFor([&] { return relay_->stats().dropsUnknownChannel == 1; });
        // ChannelData without any allocation is dropped as well.
        TestSocket nobody(false, ports_.udp);
        nobody.send(channelData(0x4005, {1}));
        waitFor([&] { return relay_->stats().dropsNoAllocation == 1; });
        // Bound, the same packet goes through: the drop above was about the channel.
        expectSuccess(client, channelBindRequest(0x4005, peer.local(), creds));
        client.send(channelData(0x4005, {1, 2, 3}));
        CPPUNIT_ASSERT(peer.receive().has_value());
    }

    void testTruncatedAndOversizedDropped() {
        TestSocket client(false, ports_.udp);
        Bytes full = makeRequest(Method::Binding, newTransaction(), {}, nullptr);
        client.send(Bytes(full.begin(), full.begin() + 10));   // shorter than a header
        client.send(Bytes(full.begin(), full.end() - 4));      // length field says more
        Bytes lying = full;
        lying[3] = static_cast<std::uint8_t>(lying[3] + 4);    // claims 4 more bytes
        client.send(lying);
        CPPUNIT_ASSERT(!client.receive(300).has_value());
        waitFor([&] { return relay_->stats().dropsMalformed == 3; });
        client.send(Bytes(6000, 0));  // larger than any media datagram the relay handles
        waitFor([&] { return relay_->stats().dropsOversized == 1; });
        // Truncated ChannelData (length beyond the datagram) from a real allocation.
        TestSocket peer = TestSocket::peer();
        auto creds = validCredentials("ivan");
        allocate(client, creds);
        expectSuccess(client, channelBindRequest(0x4010, peer.local(), creds));
        Bytes cd = channelData(0x4010, {1, 2, 3, 4});
        cd[3] = 40;
        client.send(cd);
        CPPUNIT_ASSERT(!peer.receive(300).has_value());
        waitFor([&] { return relay_->stats().dropsMalformed == 4; });
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, relay_->stats().packetsFromClients);
    }

    void testWrongMagicCookieDropped() {
        TestSocket client(false, ports_.udp);
        Bytes request = makeRequest(Method::Binding, newTransaction(), {}, nullptr);
        request[7] ^= 0x01;
        client.send(request);
        CPPUNIT_ASSERT(!client.receive(300).has_value());
        waitFor([&] { return relay_->stats().dropsMalformed == 1; });
        // A bad FINGERPRINT is dropped silently as well.
        request = makeRequest(Method::Binding, newTransaction(), {}, nullptr);
        request.back() ^= 0x01;
        client.send(request);
        CPPUNIT_ASSERT(!client.receive(300).has_value());
        waitFor([&] { return relay_->stats().dropsMalformed == 2; });
    }

    void testDuplicateTransactionAnsweredFromCache() {
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("judy");
        creds.nonce = fetchNonce(client);
        const auto tid = newTransaction();
        const Bytes request = makeRequest(Method::Allocate, tid, addTransportUdp, &creds);
        client.send(request);
        const auto first = client.receive();
        client.send(request);  // a retransmission (response lost, say)
        const auto second = client.receive();
        CPPUNIT_ASSERT(first && second);
        CPPUNIT_ASSERT(*first == *second);
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(*first) == stun::ParseResult::Ok && m.messageClass() == MessageClass::Success);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, relay_->stats().allocationsCreated);
    }

    void testSecondAllocateIs437AndOtherUser441() {
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("kim");
        allocate(client, creds);
        auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &creds));
        CPPUNIT_ASSERT_EQUAL(437, errorCode(*m));
        auto other = validCredentials("lee");
        other.nonce = creds.nonce;
        m = roundTrip(client, refreshRequest(600, other));
        CPPUNIT_ASSERT_EQUAL(441, errorCode(*m));
        // Refresh / CreatePermission with no allocation at all: 437.
        TestSocket fresh(false, ports_.udp);
        auto c2 = validCredentials("kim");
        c2.nonce = fetchNonce(fresh);
        CPPUNIT_ASSERT_EQUAL(437, errorCode(*roundTrip(fresh, refreshRequest(600, c2))));
        CPPUNIT_ASSERT_EQUAL(437, errorCode(*roundTrip(fresh, permissionRequest(*SocketAddress::parse("8.8.8.8", 1), c2))));
    }

    void testRefreshZeroDeletesAllocation() {
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("liz");
        allocate(client, creds);
        auto m = roundTrip(client, refreshRequest(1200, creds));
        CPPUNIT_ASSERT(m->messageClass() == MessageClass::Success);
        CPPUNIT_ASSERT_EQUAL(1200u, *m->findU32(attr::Lifetime));
        m = roundTrip(client, refreshRequest(100000, creds));
        CPPUNIT_ASSERT_EQUAL(3600u, *m->findU32(attr::Lifetime));  // capped by maxAllocationLifetime
        m = roundTrip(client, refreshRequest(0, creds));
        CPPUNIT_ASSERT(m->messageClass() == MessageClass::Success);
        CPPUNIT_ASSERT_EQUAL(0u, *m->findU32(attr::Lifetime));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, relay_->stats().allocationsActive);
        CPPUNIT_ASSERT_EQUAL(437, errorCode(*roundTrip(client, refreshRequest(600, creds))));
    }

    void testUnknownComprehensionRequiredAttribute420() {
        TestSocket client(false, ports_.udp);
        const auto m = roundTrip(client, makeRequest(Method::Binding, newTransaction(),
                                                     [](auto& b) { b.addU32(0x0031, 1); }, nullptr));
        CPPUNIT_ASSERT_EQUAL(420, errorCode(*m));
        const stun::Attribute* unknown = m->find(attr::UnknownAttributes);
        CPPUNIT_ASSERT(unknown && unknown->value.size() == 2 && unknown->value[0] == 0x00 && unknown->value[1] == 0x31);
        // An unknown comprehension-optional attribute is ignored.
        const auto ok = roundTrip(client, makeRequest(Method::Binding, newTransaction(),
                                                      [](auto& b) { b.addU32(0x80AA, 1); }, nullptr));
        CPPUNIT_ASSERT(ok->messageClass() == MessageClass::Success);
    }

    void testUnsupportedTransport442AndFamily440() {
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("mo");
        creds.nonce = fetchNonce(client);
        auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(),
                                               [](auto& b) { b.addU32(attr::RequestedTransport, 6u << 24); }, &creds));
        CPPUNIT_ASSERT_EQUAL(442, errorCode(*m));
        m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(),
                                          [](auto& b) {
                                              addTransportUdp(b);
                                              b.addU32(attr::RequestedAddressFamily, 0x02u << 24);
                                          },
                                          &creds));
        CPPUNIT_ASSERT_EQUAL(440, errorCode(*m));
        m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), {}, &creds));
        CPPUNIT_ASSERT_EQUAL(400, errorCode(*m));  // REQUESTED-TRANSPORT missing
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, relay_->stats().allocationsActive);
    }

    void testSha256IntegrityAnsweredInKind() {
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("nia");
        creds.nonce = fetchNonce(client);
        const auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &creds, true));
        CPPUNIT_ASSERT(m->messageClass() == MessageClass::Success);
        CPPUNIT_ASSERT(m->usesSha256Integrity());
        CPPUNIT_ASSERT(m->verifyIntegrity(creds.key));
    }

    void testEvenPortReservation() {
        TestSocket rtp(false, ports_.udp), rtcp(false, ports_.udp);
        auto creds = validCredentials("olga");
        creds.nonce = fetchNonce(rtp);
        auto m = roundTrip(rtp, makeRequest(Method::Allocate, newTransaction(),
                                            [](auto& b) {
                                                addTransportUdp(b);
                                                const std::uint8_t r = 0x80;
                                                b.add(attr::EvenPort, std::span(&r, 1));
                                            },
                                            &creds));
        CPPUNIT_ASSERT(m->messageClass() == MessageClass::Success);
        const auto even = *m->findXorAddress(attr::XorRelayedAddress);
        CPPUNIT_ASSERT_EQUAL(0, even.port() % 2);
        const stun::Attribute* token = m->find(attr::ReservationToken);
        CPPUNIT_ASSERT(token && token->value.size() == 8);
        const Bytes tokenBytes(token->value.begin(), token->value.end());

        auto c2 = validCredentials("olga");
        c2.nonce = fetchNonce(rtcp);
        m = roundTrip(rtcp, makeRequest(Method::Allocate, newTransaction(),
                                        [&](auto& b) {
                                            addTransportUdp(b);
                                            b.add(attr::ReservationToken, tokenBytes);
                                        },
                                        &c2));
        CPPUNIT_ASSERT(m->messageClass() == MessageClass::Success);
        CPPUNIT_ASSERT_EQUAL(even.port() + 1, static_cast<int>(m->findXorAddress(attr::XorRelayedAddress)->port()));
        // A token is good once.
        TestSocket third(false, ports_.udp);
        auto c3 = validCredentials("olga");
        c3.nonce = fetchNonce(third);
        m = roundTrip(third, makeRequest(Method::Allocate, newTransaction(),
                                         [&](auto& b) {
                                             addTransportUdp(b);
                                             b.add(attr::ReservationToken, tokenBytes);
                                         },
                                         &c3));
        CPPUNIT_ASSERT_EQUAL(508, errorCode(*m));
    }

    void testChannelRebindConflicts400() {
        TestSocket client(false, ports_.udp);
        TestSocket peerA = TestSocket::peer(), peerB = TestSocket::peer();
        auto creds = validCredentials("pia");
        allocate(client, creds);
        expectSuccess(client, channelBindRequest(0x4100, peerA.local(), creds));
        expectSuccess(client, channelBindRequest(0x4100, peerA.local(), creds));  // refresh is fine
        CPPUNIT_ASSERT_EQUAL(400, errorCode(*roundTrip(client, channelBindRequest(0x4100, peerB.local(), creds))));
        CPPUNIT_ASSERT_EQUAL(400, errorCode(*roundTrip(client, channelBindRequest(0x4101, peerA.local(), creds))));
        CPPUNIT_ASSERT_EQUAL(400, errorCode(*roundTrip(client, channelBindRequest(0x3FFF, peerB.local(), creds))));
    }

    void testChannelNumberRangeOfRfc5766() {
        // coturn's clients draw channel numbers from RFC 5766's 0x4000-0x7FFF;
        // refusing 0x7FFF made turnutils_uclient -m 200 fail now and then.
        TestSocket client(false, ports_.udp);
        TestSocket peerA = TestSocket::peer(), peerB = TestSocket::peer();
        auto creds = validCredentials("rene");
        allocate(client, creds);
        expectSuccess(client, channelBindRequest(0x7FFF, peerA.local(), creds));
        client.send(channelData(0x7FFF, Bytes(40, 7)));
        CPPUNIT_ASSERT(peerA.receive(2000).has_value());
        CPPUNIT_ASSERT_EQUAL(400, errorCode(*roundTrip(client, channelBindRequest(0x8000, peerB.local(), creds))));
    }

    void testBandwidthLimitDrops() {
        Tweaks c;
        c.maxBandwidthBytesPerSec = 1000;
        start(c);
        TestSocket client(false, ports_.udp);
        TestSocket peer = TestSocket::peer();
        auto creds = validCredentials("quinn");
        allocate(client, creds);
        expectSuccess(client, channelBindRequest(0x4200, peer.local(), creds));
        for (int i = 0; i < 20; ++i) client.send(channelData(0x4200, Bytes(200, 1)));
        int received = 0;
        while (peer.receive(300)) ++received;
        CPPUNIT_ASSERT(received >= 4 && received <= 7);  // one second of burst, ~5 packets
        CPPUNIT_ASSERT(relay_->stats().dropsBandwidth >= 13);
    }

    void testFailedSendCountedAsDrop() {
        // 127.255.255.255 is the loopback network's broadcast address: a
        // send there without SO_BROADCAST fails (EACCES) inside the kernel,
        // so nothing leaves the host. A failed send is a drop, not relayed.
        TestSocket client(false, ports_.udp);
        TestSocket peer = TestSocket::peer();
        auto creds = validCredentials("ursula");
        allocate(client, creds);
        const auto broadcast = *SocketAddress::parse("127.255.255.255", 9);
        expectSuccess(client, channelBindRequest(0x4300, broadcast, creds));
        client.send(channelData(0x4300, {1, 2, 3}));
        client.send(sendIndication(broadcast, {4, 5}));
        waitFor([&] { return relay_->stats().dropsBackpressure == 2; });
        expectSuccess(client, permissionRequest(peer.local(), creds));
        client.send(sendIndication(peer.local(), {6, 7, 8, 9}));
        CPPUNIT_ASSERT(peer.receive(1000).has_value());
        waitFor([&] { return relay_->stats().packetsFromClients == 1; });
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a late count would show now
        const auto stats = relay_->stats();
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, stats.packetsFromClients);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{4}, stats.bytesFromClients);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2}, stats.dropsBackpressure);
    }

    void testAllocationExpiryEnforced() {
        Tweaks c;
        c.lifetimeSeconds = 1;
        start(c);
        TestSocket client(false, ports_.udp);
        TestSocket peer = TestSocket::peer();
        auto creds = validCredentials("una");
        creds.nonce = fetchNonce(client);
        const auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &creds));
        CPPUNIT_ASSERT_EQUAL(1u, *m->findU32(attr::Lifetime));
        lastAllocated_ = creds;
        expectSuccess(client, channelBindRequest(0x4300, peer.local(), creds));
        client.send(channelData(0x4300, {1}));
        CPPUNIT_ASSERT(peer.receive().has_value());
        // The sweep runs every second: gone within ~2 s, and relaying stops with it.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
        while (relay_->stats().allocationsExpired == 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, relay_->stats().allocationsExpired);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, relay_->stats().allocationsActive);
        client.send(channelData(0x4300, {2}));
        CPPUNIT_ASSERT(!peer.receive(300).has_value());
        waitFor([&] { return relay_->stats().dropsNoAllocation == 1; });
        CPPUNIT_ASSERT_EQUAL(437, errorCode(*roundTrip(client, refreshRequest(600, creds))));
    }

    void testRelayPortRangeAndCapacity508() {
        // Four consecutive free UDP ports, found now (hermetic, no fixed numbers).
        int base = 0;
        for (int attempt = 0; attempt < 50 && base == 0; ++attempt) {
            TestSocket probe(false, 9);
            const int candidate = probe.local().port();
            if (candidate > 65000) continue;
            bool free = true;
            for (int p = candidate + 1; p < candidate + 4 && free; ++p) {
                UniqueFd s(::socket(AF_INET, SOCK_DGRAM, 0));
                auto a = *SocketAddress::parse("127.0.0.1", static_cast<std::uint16_t>(p));
                free = ::bind(s.get(), a.sockaddrPtr(), a.length()) == 0;
            }
            if (free) base = candidate + 1;  // the probe itself still holds `candidate`
        }
        CPPUNIT_ASSERT(base != 0);
        Tweaks c;
        c.relayPortMin = base;
        c.relayPortMax = base + 2;
        start(c);
        std::vector<std::unique_ptr<TestSocket>> clients;
        for (int i = 0; i < 3; ++i) {
            clients.push_back(std::make_unique<TestSocket>(false, ports_.udp));
            auto creds = validCredentials("range" + std::to_string(i));
            const auto relayed = allocate(*clients.back(), creds);
            CPPUNIT_ASSERT(relayed.has_value());
            CPPUNIT_ASSERT(relayed->port() >= base && relayed->port() <= base + 2);
        }
        TestSocket fourth(false, ports_.udp);
        auto creds = validCredentials("range-full");
        creds.nonce = fetchNonce(fourth);
        CPPUNIT_ASSERT_EQUAL(508, errorCode(*roundTrip(fourth, makeRequest(Method::Allocate, newTransaction(),
                                                                             addTransportUdp, &creds))));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, relay_->stats().capacityRejections);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{3}, relay_->stats().allocationsActive);  // the quota slot was given back
    }

    void testExternalIpAdvertised() {
        Tweaks c;
        c.externalIp = "203.0.113.7";
        start(c);
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("nat");
        const auto relayed = allocate(client, creds);
        CPPUNIT_ASSERT(relayed.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("203.0.113.7"), relayed->ipString());
        CPPUNIT_ASSERT(relayed->port() != 0);
        // The advertised address is one of the relay's own: never a peer.
        CPPUNIT_ASSERT_EQUAL(403, errorCode(*roundTrip(client, permissionRequest(*relayed, creds))));
    }

    void testSecretRotation() {
        TestSocket client(false, ports_.udp);
        auto creds = validCredentials("rita");
        allocate(client, creds);
        relay_->setSharedSecret("rotated-secret");
        CPPUNIT_ASSERT_EQUAL(401, errorCode(*roundTrip(client, refreshRequest(600, creds))));
        auto renewed = Credentials::forUser(creds.username, "rotated-secret");
        renewed.nonce = creds.nonce;
        CPPUNIT_ASSERT(roundTrip(client, refreshRequest(600, renewed))->messageClass() == MessageClass::Success);
    }

    void testBindConflictAndBadConfigThrow() {
        RelayConfig c = baseConfig();
        c.udpPort = ports_.udp;  // held by the running relay
        c.tcpPort = -1;
        TurnRelay second(c);
        try {
            second.start();
            CPPUNIT_FAIL("start() on a used port did not throw");
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            CPPUNIT_ASSERT_MESSAGE(what, what.find("cannot bind UDP listener to 127.0.0.1:" + std::to_string(ports_.udp)) !=
                                             std::string::npos);
        }
        CPPUNIT_ASSERT(!second.running());
        RelayConfig noSecret = baseConfig();
        noSecret.sharedSecret.clear();
        CPPUNIT_ASSERT_THROW(TurnRelay(noSecret).start(), std::invalid_argument);
        RelayConfig badRange = baseConfig();
        badRange.allowedPeerRanges = {"10.0.0.0/40"};
        CPPUNIT_ASSERT_THROW(TurnRelay(badRange).start(), std::invalid_argument);
        RelayConfig wildcard = baseConfig();
        wildcard.listenAddress = "0.0.0.0";
        CPPUNIT_ASSERT_THROW(TurnRelay(wildcard).start(), std::invalid_argument);
    }

protected:
    virtual IoEngine engine() const { return IoEngine::IoUring; }

private:
    RelayConfig baseConfig() const {
        RelayConfig c;
        c.ioEngine = engine();
        c.listenAddress = "127.0.0.1";
        c.udpPort = 0;
        c.tcpPort = 0;
        c.relayPortMin = 0;
        c.realm = kRealm;
        c.sharedSecret = kSecret;
        c.allowLoopbackPeers = true;
        c.threads = 2;
        return c;
    }

    /// Settings a test changes from baseConfig().
    struct Tweaks {
        bool allowLoopbackPeers = true;
        int maxAllocationsPerUsername = 0;
        int maxAllocationsPerIp = 0;
        std::int64_t maxBandwidthBytesPerSec = 0;
        int lifetimeSeconds = 0;  ///< 0 = the defaults (600 / 3600)
        int relayPortMin = 0, relayPortMax = 0;
        std::string externalIp;
    };
    void start(const Tweaks& tweaks) {
        relay_.reset();
        RelayConfig c = baseConfig();
        c.allowLoopbackPeers = tweaks.allowLoopbackPeers;
        c.maxAllocationsPerUsername = tweaks.maxAllocationsPerUsername;
        c.maxAllocationsPerIp = tweaks.maxAllocationsPerIp;
        c.maxBandwidthBytesPerSec = tweaks.maxBandwidthBytesPerSec;
        if (tweaks.lifetimeSeconds > 0) c.defaultAllocationLifetime = c.maxAllocationLifetime = tweaks.lifetimeSeconds;
        if (tweaks.relayPortMin > 0) {
            c.relayPortMin = tweaks.relayPortMin;
            c.relayPortMax = tweaks.relayPortMax;
        }
        c.externalIp = tweaks.externalIp;
        relay_ = std::make_unique<TurnRelay>(c);
        relay_->start();
        ports_ = relay_->boundPorts();
    }

    Credentials validCredentials(const std::string& id) {
        auto c = Credentials::forUser(mintUsername(now() + 600, id));
        lastCreds_ = c;
        return c;
    }

    template <typename Predicate>
    static void waitFor(Predicate p) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!p()) {
            if (std::chrono::steady_clock::now() > deadline) CPPUNIT_FAIL("condition not reached within 2 s");
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    std::string fetchNonce(TestSocket& client) {
        const auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, nullptr));
        CPPUNIT_ASSERT_EQUAL(401, errorCode(*m));
        return std::string(*m->findString(attr::Nonce));
    }

    /// Sends and parses the answer into a view that owns its bytes.
    struct Reply {
        Bytes bytes;
        stun::StunMessageView view;
    };
    /// Owns the bytes a view points into; dereferences to the view.
    struct ReplyPtr {
        std::unique_ptr<Reply> reply;
        const stun::StunMessageView* operator->() const { return &reply->view; }
        const stun::StunMessageView& operator*() const { return reply->view; }
    };
    ReplyPtr roundTrip(TestSocket& client, const Bytes& request) {
        client.send(request);
        ReplyPtr reply{std::make_unique<Reply>()};
        auto bytes = client.receive();
        if (!bytes) CPPUNIT_FAIL("no answer from the relay");
        reply.reply->bytes = *bytes;
        if (reply.reply->view.parse(reply.reply->bytes) != stun::ParseResult::Ok) CPPUNIT_FAIL("answer does not parse");
        CPPUNIT_ASSERT(std::equal(request.begin() + 8, request.begin() + 20, reply.reply->bytes.begin() + 8));
        return reply;
    }

    void expectSuccess(TestSocket& client, const Bytes& request) {
        const auto m = roundTrip(client, request);
        CPPUNIT_ASSERT_EQUAL_MESSAGE("error " + std::to_string(errorCode(*m)), MessageClass::Success == m->messageClass(),
                                     true);
        CPPUNIT_ASSERT(m->verifyIntegrity(lastAllocated_.key) || m->verifyIntegrity(lastCreds_.key));
    }

    /// Full Allocate (fetching a nonce first unless `creds` has one).
    std::optional<SocketAddress> allocate(TestSocket& client, Credentials& creds, bool fetch = true) {
        if (fetch || creds.nonce.empty()) creds.nonce = fetchNonce(client);
        const auto m = roundTrip(client, makeRequest(Method::Allocate, newTransaction(), addTransportUdp, &creds));
        if (m->messageClass() != MessageClass::Success) return std::nullopt;
        CPPUNIT_ASSERT(m->verifyIntegrity(creds.key));
        CPPUNIT_ASSERT_EQUAL(600u, *m->findU32(attr::Lifetime));
        CPPUNIT_ASSERT_EQUAL(client.local().toString(), m->findXorAddress(attr::XorMappedAddress)->toString());
        lastAllocated_ = creds;
        return m->findXorAddress(attr::XorRelayedAddress);
    }

    static Bytes permissionRequest(const SocketAddress& peer, const Credentials& creds) {
        return makeRequest(Method::CreatePermission, newTransaction(),
                           [&](auto& b) { b.addXorAddress(attr::XorPeerAddress, peer); }, &creds);
    }
    static Bytes channelBindRequest(std::uint16_t channel, const SocketAddress& peer, const Credentials& creds) {
        return makeRequest(Method::ChannelBind, newTransaction(),
                           [&](auto& b) {
                               b.addU32(attr::ChannelNumber, std::uint32_t{channel} << 16);
                               b.addXorAddress(attr::XorPeerAddress, peer);
                           },
                           &creds);
    }
    static Bytes refreshRequest(std::uint32_t lifetime, const Credentials& creds) {
        return makeRequest(Method::Refresh, newTransaction(), [&](auto& b) { b.addU32(attr::Lifetime, lifetime); }, &creds);
    }
    static Bytes sendIndication(const SocketAddress& peer, const Bytes& data) {
        return makeRequest(Method::Send, newTransaction(),
                           [&](auto& b) {
                               b.addXorAddress(attr::XorPeerAddress, peer);
                               b.add(attr::Data, data);
                           },
                           nullptr, false, MessageClass::Indication);
    }
    static Bytes channelData(std::uint16_t channel, const Bytes& data) {
        Bytes out{static_cast<std::uint8_t>(channel >> 8), static_cast<std::uint8_t>(channel),
                  static_cast<std::uint8_t>(data.size() >> 8), static_cast<std::uint8_t>(data.size())};
        out.insert(out.end(), data.begin(), data.end());  // unpadded: callers over TCP pad explicitly
        return out;
    }

    std::unique_ptr<TurnRelay> relay_;
    BoundPorts ports_;
    Credentials lastCreds_, lastAllocated_;
};

class RelayProtocolEpollTest : public RelayProtocolTest {
    CPPUNIT_TEST_SUB_SUITE(RelayProtocolEpollTest, RelayProtocolTest);
    CPPUNIT_TEST_SUITE_END();

protected:
    IoEngine engine() const override { return IoEngine::Epoll; }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RelayProtocolTest);
CPPUNIT_TEST_SUITE_REGISTRATION(RelayProtocolEpollTest);
