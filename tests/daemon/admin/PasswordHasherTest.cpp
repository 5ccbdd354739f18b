// Admin password hashing: scrypt against the RFC 7914 test vector, salting,
// refusal of malformed or out-of-bounds stored strings, rehash detection.
#include "admin/PasswordHasher.h"

#include <cppunit/extensions/HelperMacros.h>

namespace consultd::admin::test {

class PasswordHasherTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PasswordHasherTest);
    CPPUNIT_TEST(rfc7914Vector);
    CPPUNIT_TEST(roundTripAndSalt);
    CPPUNIT_TEST(malformedNeverMatches);
    CPPUNIT_TEST(rehashWhenWeaker);
    CPPUNIT_TEST(passwordRules);
    CPPUNIT_TEST_SUITE_END();

public:
    void rfc7914Vector() {
        // RFC 7914 section 12, vector 3: P = "pleaseletmein", S = "SodiumChloride",
        // N = 16384, r = 8, p = 1; the first 32 bytes of the 64-byte output
        // (PBKDF2 blocks are independent, so a 32-byte output is that prefix).
        const std::string stored =
            "scrypt$ln=14,r=8,p=1$536f6469756d43686c6f72696465$"
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2";
        CPPUNIT_ASSERT(verifyPassword("pleaseletmein", stored));
        CPPUNIT_ASSERT(!verifyPassword("pleaseletmeim", stored));
    }

    void roundTripAndSalt() {
        const std::string a = hashPassword("correct horse battery staple");
        const std::string b = hashPassword("correct horse battery staple");
        CPPUNIT_ASSERT(a != b);  // random salt
        CPPUNIT_ASSERT_EQUAL(std::string("scrypt$ln=15,r=8,p=3$"), a.substr(0, 21));
        CPPUNIT_ASSERT(verifyPassword("correct horse battery staple", a));
        CPPUNIT_ASSERT(verifyPassword("correct horse battery staple", b));
        CPPUNIT_ASSERT(!verifyPassword("correct horse battery stapl", a));
        CPPUNIT_ASSERT(!verifyPassword("", a));
        CPPUNIT_ASSERT(a.find("correct") == std::string::npos);
    }

    void malformedNeverMatches() {
        const std::string good = hashPassword("some long password");
        CPPUNIT_ASSERT(!verifyPassword("some long password", ""));
        CPPUNIT_ASSERT(!verifyPassword("some long password", "some long password"));
        CPPUNIT_ASSERT(!verifyPassword("some long password", "pbkdf2$" + good.substr(7)));
        std::string tooCostly = good;
        tooCostly.replace(tooCostly.find("ln=15"), 5, "ln=30");
        CPPUNIT_ASSERT(!verifyPassword("some long password", tooCostly));
        std::string badHex = good;
        badHex.back() = 'z';
        CPPUNIT_ASSERT(!verifyPassword("some long password", badHex));
    }

    void rehashWhenWeaker() {
        CPPUNIT_ASSERT(!needsRehash(hashPassword("some long password")));
        CPPUNIT_ASSERT(needsRehash(hashPassword("some long password", ScryptParams{14, 8, 1})));
        CPPUNIT_ASSERT(needsRehash("garbage"));
    }

    void passwordRules() {
        CPPUNIT_ASSERT(!passwordProblem("short").empty());
        CPPUNIT_ASSERT(passwordProblem("twelve chars").empty());
        CPPUNIT_ASSERT(!passwordProblem(std::string("twelve chars\nmore")).empty());
        CPPUNIT_ASSERT(!passwordProblem(std::string(1025, 'x')).empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PasswordHasherTest);

}  // namespace consultd::admin::test
