// STUN codec against the RFC 5769 test vectors, plus framing refusals.
#include "StunMessage.h"
#include "TurnCrypto.h"

#include <cppunit/extensions/HelperMacros.h>

#include <arpa/inet.h>

#include <string>
#include <vector>

using namespace consultd::turn;
namespace attr = consultd::turn::stun::attr;

namespace {

std::vector<std::uint8_t> hex(const std::string& text) {
    std::vector<std::uint8_t> out;
    std::string digits;
    for (char c : text)
        if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
    for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    return out;
}

// RFC 5769 2.1
const std::string kRequest =
    "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
    "00 24 00 04 6e 00 01 ff"
    "80 29 00 08 93 2f f9 b1 51 26 3b 36"
    "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
    "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
    "80 28 00 04 e5 7a 3b cf";
// RFC 5769 2.2
const std::string kResponseV4 =
    "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 08 00 01 a1 47 e1 12 a6 43"
    "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
    "80 28 00 04 c0 7d 4c 96";
// RFC 5769 2.3
const std::string kResponseV6 =
    "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
    "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
    "80 28 00 04 c8 fb 0b 4c";
// RFC 5769 2.4 (long-term credentials)
const std::string kLongTermRequest =
    "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";

const std::string kShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt";

}  // namespace

class StunMessageTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StunMessageTest);
    CPPUNIT_TEST(testRfc5769Request);
    CPPUNIT_TEST(testRfc5769ResponseIpv4);
    CPPUNIT_TEST(testRfc5769ResponseIpv6);
    CPPUNIT_TEST(testRfc5769LongTermCredentials);
    CPPUNIT_TEST(testBuilderReproducesVectorAddressAndIntegrity);
    CPPUNIT_TEST(testTamperedMessageFailsIntegrity);
    CPPUNIT_TEST(testBadFingerprintDetected);
    CPPUNIT_TEST(testWrongMagicCookieIsNotStun);
    CPPUNIT_TEST(testTruncatedMessagesRejected);
    CPPUNIT_TEST(testAttributeOverrunRejected);
    CPPUNIT_TEST(testAttributesAfterIntegrityIgnored);
    CPPUNIT_TEST(testSha256IntegrityRoundTrip);
    CPPUNIT_TEST(testMessageTypeEncoding);
    CPPUNIT_TEST(testBuilderOverflowReported);
    CPPUNIT_TEST_SUITE_END();

public:
    void testRfc5769Request() {
        const auto bytes = hex(kRequest);
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Ok);
        CPPUNIT_ASSERT(m.method() == stun::Method::Binding);
        CPPUNIT_ASSERT(m.messageClass() == stun::MessageClass::Request);
        CPPUNIT_ASSERT_EQUAL(std::string("evtj:h6vY"), std::string(*m.findString(attr::Username)));
        CPPUNIT_ASSERT_EQUAL(std::string("STUN test client"), std::string(*m.findString(attr::Software)));
        CPPUNIT_ASSERT_EQUAL(0x6e0001ffu, *m.findU32(attr::Priority));
        CPPUNIT_ASSERT(m.verifyIntegrity(crypto::bytesOf(kShortTermPassword)));
        CPPUNIT_ASSERT(!m.verifyIntegrity(crypto::bytesOf("VOkJxbRl1RmTxUk/WvJxBT")));
    }

    void testRfc5769ResponseIpv4() {
        const auto bytes = hex(kResponseV4);
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Ok);
        CPPUNIT_ASSERT(m.messageClass() == stun::MessageClass::Success);
        const auto mapped = m.findXorAddress(attr::XorMappedAddress);
        CPPUNIT_ASSERT(mapped.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1:32853"), mapped->toString());
        CPPUNIT_ASSERT(m.verifyIntegrity(crypto::bytesOf(kShortTermPassword)));
    }

    void testRfc5769ResponseIpv6() {
        const auto bytes = hex(kResponseV6);
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Ok);
        const auto mapped = m.findXorAddress(attr::XorMappedAddress);
        CPPUNIT_ASSERT(mapped.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("[2001:db8:1234:5678:11:2233:4455:6677]:32853"), mapped->toString());
        CPPUNIT_ASSERT(m.verifyIntegrity(crypto::bytesOf(kShortTermPassword)));
    }

    void testRfc5769LongTermCredentials() {
        const auto bytes = hex(kLongTermRequest);
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Ok);
        const std::string username(*m.findString(attr::Username));
        CPPUNIT_ASSERT_EQUAL(std::string("\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9"), username);
        CPPUNIT_ASSERT_EQUAL(std::string("example.org"), std::string(*m.findString(attr::Realm)));
        CPPUNIT_ASSERT_EQUAL(std::string("f//499k954d6OL34oL9FSTvy64sA"), std::string(*m.findString(attr::Nonce)));
        // Password "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep is "TheMatrIX".
        const auto key = crypto::md5(username + ":example.org:TheMatrIX");
        CPPUNIT_ASSERT(m.verifyIntegrity(key));
        const auto wrong = crypto::md5(username + ":example.org:TheMatrix");
        CPPUNIT_ASSERT(!m.verifyIntegrity(wrong));
    }

    void testBuilderReproducesVectorAddressAndIntegrity() {
        const auto vector = hex(kResponseV4);
        std::array<std::uint8_t, 12> tid{};
        std::copy(vector.begin() + 8, vector.begin() + 20, tid.begin());
        std::array<std::uint8_t, 256> buffer{};
        stun::StunMessageBuilder b(buffer, stun::Method::Binding, stun::MessageClass::Success, tid);
        // The vector pads SOFTWARE with a space; write the padded value so the bytes match exactly.
        b.addString(attr::Software, "test vector ");
        b.addXorAddress(attr::XorMappedAddress, *SocketAddress::parse("192.0.2.1", 32853));
        b.addMessageIntegrity(crypto::bytesOf(kShortTermPassword));
        b.addFingerprint();
        CPPUNIT_ASSERT(b.ok());
        // Only the SOFTWARE length differs (12 vs 11); compare everything after it.
        const auto out = b.bytes();
        CPPUNIT_ASSERT_EQUAL(vector.size(), out.size());
        CPPUNIT_ASSERT(std::equal(out.begin() + 36, out.begin() + 48, vector.begin() + 36));  // XOR-MAPPED-ADDRESS
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(out) == stun::ParseResult::Ok);
        CPPUNIT_ASSERT(m.verifyIntegrity(crypto::bytesOf(kShortTermPassword)));
    }

    void testTamperedMessageFailsIntegrity() {
        auto bytes = hex(kRequest);
        bytes[30] ^= 0x01;  // inside SOFTWARE; FINGERPRINT now wrong too
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::BadFingerprint);
        // Drop the FINGERPRINT so the integrity check is what catches it.
        bytes.resize(bytes.size() - 8);
        bytes[3] = static_cast<std::uint8_t>(bytes[3] - 8);
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Ok);
        CPPUNIT_ASSERT(!m.verifyIntegrity(crypto::bytesOf(kShortTermPassword)));
    }

    void testBadFingerprintDetected() {
        auto bytes = hex(kResponseV4);
        bytes.back() ^= 0xFF;
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::BadFingerprint);
    }

    void testWrongMagicCookieIsNotStun() {
        auto bytes = hex(kRequest);
        bytes[4] = 0x21, bytes[5] = 0x12, bytes[6] = 0xa4, bytes[7] = 0x43;
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::NotStun);
        bytes = hex(kRequest);
        bytes[0] = 0x80;  // top bits set
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::NotStun);
    }

    void testTruncatedMessagesRejected() {
        const auto full = hex(kRequest);
        stun::StunMessageView m;
        for (std::size_t cut : {0u, 1u, 19u}) {
            std::vector<std::uint8_t> part(full.begin(), full.begin() + static_cast<long>(cut));
            CPPUNIT_ASSERT(m.parse(part) == stun::ParseResult::NotStun);
        }
        for (std::size_t cut : {std::size_t{20}, std::size_t{24}, std::size_t{50}, full.size() - 1}) {
            std::vector<std::uint8_t> part(full.begin(), full.begin() + static_cast<long>(cut));
            CPPUNIT_ASSERT(m.parse(part) == stun::ParseResult::Malformed);
        }
        auto odd = full;
        odd[3] = 0x57;  // length not a multiple of 4
        CPPUNIT_ASSERT(m.parse(odd) == stun::ParseResult::Malformed);
    }

    void testAttributeOverrunRejected() {
        // One attribute claiming 0x40 bytes in a 8-byte body.
        auto bytes = hex("00 01 00 08 21 12 a4 42 00 00 00 00 00 00 00 00 00 00 00 01 00 06 00 40 61 62 63 64");
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Malformed);
        // FINGERPRINT that is not last.
        bytes = hex("00 01 00 10 21 12 a4 42 00 00 00 00 00 00 00 00 00 00 00 01 80 28 00 04 00 00 00 00 00 06 00 04 61 62 63 64");
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Malformed);
        // MESSAGE-INTEGRITY of the wrong size.
        bytes = hex("00 01 00 08 21 12 a4 42 00 00 00 00 00 00 00 00 00 00 00 01 00 08 00 04 00 00 00 00");
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Malformed);
    }

    void testAttributesAfterIntegrityIgnored() {
        auto bytes = hex(kRequest);
        bytes.resize(bytes.size() - 8);  // drop FINGERPRINT
        // Append a USERNAME after MESSAGE-INTEGRITY: it must not be visible.
        const auto extra = hex("00 15 00 04 61 62 63 64");
        bytes.insert(bytes.end(), extra.begin(), extra.end());
        bytes[3] = static_cast<std::uint8_t>(bytes[3] - 8 + 8);
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(bytes) == stun::ParseResult::Ok);
        CPPUNIT_ASSERT(!m.has(attr::Nonce));
        CPPUNIT_ASSERT(m.verifyIntegrity(crypto::bytesOf(kShortTermPassword)));
    }

    void testSha256IntegrityRoundTrip() {
        std::array<std::uint8_t, 12> tid{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        std::array<std::uint8_t, 256> buffer{};
        stun::StunMessageBuilder b(buffer, stun::Method::Refresh, stun::MessageClass::Request, tid);
        b.addU32(attr::Lifetime, 0);
        const auto key = crypto::md5("u:r:p");
        b.addMessageIntegrity(key);
        b.addMessageIntegritySha256(key);
        b.addFingerprint();
        stun::StunMessageView m;
        CPPUNIT_ASSERT(m.parse(b.bytes()) == stun::ParseResult::Ok);
        CPPUNIT_ASSERT(m.usesSha256Integrity());
        CPPUNIT_ASSERT(m.verifyIntegrity(key));
        CPPUNIT_ASSERT(!m.verifyIntegrity(crypto::md5("u:r:q")));
    }

    void testMessageTypeEncoding() {
        CPPUNIT_ASSERT_EQUAL(std::uint16_t{0x0001}, stun::messageType(stun::Method::Binding, stun::MessageClass::Request));
        CPPUNIT_ASSERT_EQUAL(std::uint16_t{0x0101}, stun::messageType(stun::Method::Binding, stun::MessageClass::Success));
        CPPUNIT_ASSERT_EQUAL(std::uint16_t{0x0113}, stun::messageType(stun::Method::Allocate, stun::MessageClass::Error));
        CPPUNIT_ASSERT_EQUAL(std::uint16_t{0x0016}, stun::messageType(stun::Method::Send, stun::MessageClass::Indication));
        CPPUNIT_ASSERT_EQUAL(std::uint16_t{0x0017}, stun::messageType(stun::Method::Data, stun::MessageClass::Indication));
        CPPUNIT_ASSERT_EQUAL(std::uint16_t{0x0109}, stun::messageType(stun::Method::ChannelBind, stun::MessageClass::Success));
    }

    void testBuilderOverflowReported() {
        std::array<std::uint8_t, 12> tid{};
        std::array<std::uint8_t, 32> small{};
        stun::StunMessageBuilder b(small, stun::Method::Binding, stun::MessageClass::Request, tid);
        b.addString(attr::Software, "this does not fit into twelve bytes");
        CPPUNIT_ASSERT(!b.ok());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StunMessageTest);
