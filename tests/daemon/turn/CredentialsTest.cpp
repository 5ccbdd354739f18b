// use-auth-secret credentials; expected passwords computed independently
// with Python's hmac/base64 (the same scheme coturn implements).
#include "consultd/turn/Credentials.h"
#include "NonceService.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace consultd::turn;

class CredentialsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CredentialsTest);
    CPPUNIT_TEST(testMintUsername);
    CPPUNIT_TEST(testPasswordMatchesReference);
    CPPUNIT_TEST(testUsernameParsing);
    CPPUNIT_TEST(testNonceLifecycle);
    CPPUNIT_TEST_SUITE_END();

public:
    void testMintUsername() {
        CPPUNIT_ASSERT_EQUAL(std::string("1700000000:session-42"), mintUsername(1700000000, "session-42"));
        CPPUNIT_ASSERT_EQUAL(std::string("1700000000"), mintUsername(1700000000, ""));
        // A ':' inside the id would make the expiry ambiguous for other parsers.
        CPPUNIT_ASSERT_EQUAL(std::string("5:a_b"), mintUsername(5, "a:b"));
    }

    void testPasswordMatchesReference() {
        CPPUNIT_ASSERT_EQUAL(std::string("jg3D0TP9ii6wjvk3/rr44Vo8aU8="),
                             passwordFor("north-wind-secret", "1700000000:session-42"));
        CPPUNIT_ASSERT_EQUAL(std::string("nq0XwTu1W/PiJ/j+Yl83j0JCEDg="), passwordFor("", "1"));
        CPPUNIT_ASSERT(passwordFor("a", "1:x") != passwordFor("b", "1:x"));
    }

    void testUsernameParsing() {
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1700000000}, *usernameExpiry("1700000000:bob"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{42}, *usernameExpiry("42"));
        CPPUNIT_ASSERT(!usernameExpiry("bob").has_value());
        CPPUNIT_ASSERT(!usernameExpiry(":bob").has_value());
        CPPUNIT_ASSERT(!usernameExpiry("12a:bob").has_value());
        CPPUNIT_ASSERT(!usernameExpiry("-5:bob").has_value());
        CPPUNIT_ASSERT(!usernameExpiry("99999999999999999999999:x").has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("bob"), std::string(usernameId("1:bob")));
        CPPUNIT_ASSERT_EQUAL(std::string("bob"), std::string(usernameId("bob")));
    }

    void testNonceLifecycle() {
        std::array<std::uint8_t, 32> key{};
        key[0] = 7;
        const NonceService nonces(key, 600);
        const auto client = *SocketAddress::parse("192.0.2.10", 5000);
        const auto other = *SocketAddress::parse("192.0.2.11", 5000);
        const std::string nonce = nonces.issue(client, 1000);
        CPPUNIT_ASSERT(nonces.check(nonce, client, 1000) == NonceService::Check::Valid);
        CPPUNIT_ASSERT(nonces.check(nonce, client, 1600) == NonceService::Check::Valid);
        CPPUNIT_ASSERT(nonces.check(nonce, client, 1601) == NonceService::Check::Stale);
        // Bound to the client IP, and forged or mangled nonces are not accepted.
        CPPUNIT_ASSERT(nonces.check(nonce, other, 1000) == NonceService::Check::Invalid);
        std::string forged = nonce;
        forged[15] = forged[15] == 'f' ? 'e' : 'f';  // push the expiry
        CPPUNIT_ASSERT(nonces.check(forged, client, 1000) == NonceService::Check::Invalid);
        CPPUNIT_ASSERT(nonces.check("short", client, 1000) == NonceService::Check::Invalid);
        const NonceService otherKey(std::array<std::uint8_t, 32>{}, 600);
        CPPUNIT_ASSERT(otherKey.check(nonce, client, 1000) == NonceService::Check::Invalid);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CredentialsTest);
