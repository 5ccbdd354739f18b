#include "signal/SignalingTokens.h"

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include <unistd.h>

using consultd::signal::SignalingTokens;
using consultd::signal::TokenProblem;

class SignalingTokensTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SignalingTokensTest);
    CPPUNIT_TEST(roundTrip);
    CPPUNIT_TEST(expiredIsRefused);
    CPPUNIT_TEST(otherKeyIsRefused);
    CPPUNIT_TEST(tamperedPayloadIsRefused);
    CPPUNIT_TEST(garbageIsMalformed);
    CPPUNIT_TEST(keyFileIsCreatedPrivate);
    CPPUNIT_TEST_SUITE_END();

    const std::string key = std::string(64, 'k');

public:
    void roundTrip() {
        SignalingTokens tokens(key);
        const auto token = tokens.mint("ses_a", "dr", "host", 2000, 1000);
        TokenProblem problem{};
        const auto claims = tokens.verify(token, 1500, problem);
        CPPUNIT_ASSERT(claims.has_value());
        CPPUNIT_ASSERT(problem == TokenProblem::None);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_a"), claims->sessionId);
        CPPUNIT_ASSERT_EQUAL(std::string("dr"), claims->participantId);
        CPPUNIT_ASSERT_EQUAL(std::string("host"), claims->role);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{2000}, claims->expiresAt);
        CPPUNIT_ASSERT(!claims->tokenId.empty());
        CPPUNIT_ASSERT(tokens.mint("ses_a", "dr", "host", 2000, 1000) != token);  // fresh jti
    }

    void expiredIsRefused() {
        SignalingTokens tokens(key);
        TokenProblem problem{};
        CPPUNIT_ASSERT(!tokens.verify(tokens.mint("s", "p", "guest", 2000, 1000), 2000, problem));
        CPPUNIT_ASSERT(problem == TokenProblem::Expired);
    }

    void otherKeyIsRefused() {
        SignalingTokens ours(key), theirs(std::string(64, 'x'));
        TokenProblem problem{};
        CPPUNIT_ASSERT(!ours.verify(theirs.mint("s", "p", "host", 2000, 1000), 1500, problem));
        CPPUNIT_ASSERT(problem == TokenProblem::BadSignature);
    }

    void tamperedPayloadIsRefused() {
        SignalingTokens tokens(key);
        const auto token = tokens.mint("s", "p", "guest", 2000, 1000);
        const auto a = token.find('.'), b = token.rfind('.');
        // Swap in the payload of a token for another role, keeping the signature.
        const auto other = tokens.mint("s", "p", "host", 2000, 1000);
        const std::string forged = token.substr(0, a) + other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                                   token.substr(b);
        TokenProblem problem{};
        CPPUNIT_ASSERT(!tokens.verify(forged, 1500, problem));
        CPPUNIT_ASSERT(problem == TokenProblem::BadSignature);
    }

    void garbageIsMalformed() {
        SignalingTokens tokens(key);
        TokenProblem problem{};
        for (const std::string& bad : std::vector<std::string>{"", "a.b", "a.b.c.d", "!!.??.**", std::string(5000, 'a')}) {
            CPPUNIT_ASSERT(!tokens.verify(bad, 1500, problem));
            CPPUNIT_ASSERT(problem == TokenProblem::Malformed || problem == TokenProblem::BadSignature);
        }
    }

    void keyFileIsCreatedPrivate() {
        const auto dir = std::filesystem::temp_directory_path() / ("sigkey-" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir);
        const auto path = (dir / "signaling.key").string();
        const auto first = SignalingTokens::fromKeyFile(path);
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::stat(path.c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(st.st_mode & 0777));
        // The same file gives the same key: tokens survive a restart.
        const auto second = SignalingTokens::fromKeyFile(path);
        TokenProblem problem{};
        CPPUNIT_ASSERT(second.verify(first.mint("s", "p", "host", 2000, 1000), 1500, problem).has_value());
        std::ofstream(path, std::ios::trunc) << "short\n";
        CPPUNIT_ASSERT_THROW(SignalingTokens::fromKeyFile(path), std::runtime_error);
        std::filesystem::remove_all(dir);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SignalingTokensTest);
