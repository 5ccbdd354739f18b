#include "util/Crypto.h"
#include "util/Time.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace consultd::util;

class TimeTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TimeTest);
    CPPUNIT_TEST(formatsUtc);
    CPPUNIT_TEST(parsesOffsetsAndFractions);
    CPPUNIT_TEST(rejectsInvalid);
    CPPUNIT_TEST(base32AndHex);
    CPPUNIT_TEST(constantTimeEquality);
    CPPUNIT_TEST_SUITE_END();

public:
    void formatsUtc() {
        CPPUNIT_ASSERT_EQUAL(std::string("1970-01-01T00:00:00Z"), formatRfc3339(0));
        CPPUNIT_ASSERT_EQUAL(std::string("2026-11-23T14:05:09.123Z"), formatRfc3339(1795442709123));
    }
    void parsesOffsetsAndFractions() {
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1795442709123}, *parseRfc3339("2026-11-23T14:05:09.123Z"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1795442709000}, *parseRfc3339("2026-11-23T15:05:09+01:00"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1795442709500}, *parseRfc3339("2026-11-23t13:05:09.5-01:00"));
    }
    void rejectsInvalid() {
        CPPUNIT_ASSERT(!parseRfc3339("2026-11-23 14:05:09Z"));
        CPPUNIT_ASSERT(!parseRfc3339("2026-02-30T00:00:00Z"));
        CPPUNIT_ASSERT(!parseRfc3339("2026-13-01T00:00:00Z"));
        CPPUNIT_ASSERT(!parseRfc3339("2026-11-23T14:05:09"));
        CPPUNIT_ASSERT(!parseRfc3339(""));
    }
    void base32AndHex() {
        const auto id = randomBase32(15);
        CPPUNIT_ASSERT_EQUAL(std::size_t{24}, id.size());
        for (char c : id) CPPUNIT_ASSERT((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'));
        CPPUNIT_ASSERT(randomBase32(15) != id);
        CPPUNIT_ASSERT_EQUAL(std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), sha256Hex(""));
        CPPUNIT_ASSERT_EQUAL(std::string("aGk"), base64UrlEncode("hi"));
    }
    void constantTimeEquality() {
        CPPUNIT_ASSERT(constantTimeEquals("abc", "abc"));
        CPPUNIT_ASSERT(!constantTimeEquals("abc", "abd"));
        CPPUNIT_ASSERT(!constantTimeEquals("abc", "abcd"));
        CPPUNIT_ASSERT(constantTimeEquals("", ""));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TimeTest);
