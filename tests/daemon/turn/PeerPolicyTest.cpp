// The peer address policy: what a client may make the relay send to.
#include "PeerPolicy.h"

#include <cppunit/extensions/HelperMacros.h>

#include <stdexcept>

using namespace consultd::turn;

namespace {
SocketAddress ip(const char* text) { return *SocketAddress::parse(text, 1234); }
}  // namespace

class PeerPolicyTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PeerPolicyTest);
    CPPUNIT_TEST(testDefaultsDenySpecialAndPrivate);
    CPPUNIT_TEST(testAllowedRangesOpenOnlyPrivate);
    CPPUNIT_TEST(testOwnAddressesDenied);
    CPPUNIT_TEST(testLoopbackAllowanceIsTestOnly);
    CPPUNIT_TEST(testMappedIpv6JudgedAsIpv4);
    CPPUNIT_TEST(testBadRangeRejected);
    CPPUNIT_TEST_SUITE_END();

public:
    void testDefaultsDenySpecialAndPrivate() {
        const PeerPolicy policy({}, {}, false);
        for (const char* denied : {"127.0.0.1", "127.8.9.1", "::1", "169.254.1.1", "fe80::1", "224.0.0.1",
                                   "239.255.255.250", "ff02::1", "0.0.0.0", "::", "255.255.255.255", "10.1.2.3",
                                   "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "fd00::1"})
            CPPUNIT_ASSERT_MESSAGE(denied, !policy.allowed(ip(denied)));
        for (const char* allowed : {"8.8.8.8", "172.32.0.1", "192.169.0.1", "2001:4860::8888", "93.184.216.34"})
            CPPUNIT_ASSERT_MESSAGE(allowed, policy.allowed(ip(allowed)));
        CPPUNIT_ASSERT(policy.check(ip("10.0.0.1")) == PeerVerdict::DeniedPrivate);
        CPPUNIT_ASSERT(policy.check(ip("169.254.0.1")) == PeerVerdict::DeniedSpecial);
    }

    void testAllowedRangesOpenOnlyPrivate() {
        const PeerPolicy policy({}, {"10.20.0.0/16", "169.254.0.0/16", "fd00::/8"}, false);
        CPPUNIT_ASSERT(policy.allowed(ip("10.20.3.4")));
        CPPUNIT_ASSERT(!policy.allowed(ip("10.21.3.4")));
        CPPUNIT_ASSERT(policy.allowed(ip("fd12::1")));
        // Link-local stays refused even when listed.
        CPPUNIT_ASSERT(!policy.allowed(ip("169.254.1.1")));
    }

    void testOwnAddressesDenied() {
        const PeerPolicy policy({ip("203.0.113.5"), ip("10.20.0.9")}, {"10.20.0.0/16"}, false);
        CPPUNIT_ASSERT(policy.check(ip("203.0.113.5")) == PeerVerdict::DeniedOwn);
        CPPUNIT_ASSERT(policy.check(ip("10.20.0.9")) == PeerVerdict::DeniedOwn);
        CPPUNIT_ASSERT(policy.allowed(ip("10.20.0.10")));
        CPPUNIT_ASSERT(policy.allowed(ip("203.0.113.6")));
    }

    void testLoopbackAllowanceIsTestOnly() {
        const PeerPolicy strict({ip("127.0.0.1")}, {}, false);
        CPPUNIT_ASSERT(!strict.allowed(ip("127.0.0.1")));
        const PeerPolicy test({ip("127.0.0.1")}, {}, true);
        CPPUNIT_ASSERT(test.allowed(ip("127.0.0.1")));
        CPPUNIT_ASSERT(!test.allowed(ip("169.254.1.1")));
        CPPUNIT_ASSERT(!test.allowed(ip("10.0.0.1")));
    }

    void testMappedIpv6JudgedAsIpv4() {
        const PeerPolicy policy({}, {}, false);
        CPPUNIT_ASSERT(!policy.allowed(ip("::ffff:127.0.0.1")));
        CPPUNIT_ASSERT(!policy.allowed(ip("::ffff:10.0.0.1")));
        CPPUNIT_ASSERT(policy.allowed(ip("::ffff:8.8.8.8")));
    }

    void testBadRangeRejected() {
        CPPUNIT_ASSERT_THROW(PeerPolicy({}, {"10.0.0.0/33"}, false), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(PeerPolicy({}, {"hospital-lan"}, false), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(PeerPolicy({}, {"10.0.0.0/"}, false), std::invalid_argument);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PeerPolicyTest);
