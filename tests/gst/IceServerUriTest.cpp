// toWebrtcbinUri: the conversion whose silent failure (raw ':' or '=' in a
// TURN username/password) MEDIA-NOTES warns about.
#include "consultd/media/RecorderPeer.h"

#include <cppunit/extensions/HelperMacros.h>

using consultd::media::IceServer;
using consultd::media::toWebrtcbinUri;

class IceServerUriTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(IceServerUriTest);
    CPPUNIT_TEST(stunUrls);
    CPPUNIT_TEST(turnCredentialsArePercentEncoded);
    CPPUNIT_TEST(unsupportedSchemesAreRefused);
    CPPUNIT_TEST_SUITE_END();

public:
    void stunUrls() {
        CPPUNIT_ASSERT_EQUAL(std::string("stun://127.0.0.1:3478"), *toWebrtcbinUri({"stun:127.0.0.1:3478", "", ""}));
        CPPUNIT_ASSERT_EQUAL(std::string("stun://h:1"), *toWebrtcbinUri({"stun://h:1", "", ""}));
    }
    void turnCredentialsArePercentEncoded() {
        IceServer s{"turn:127.0.0.1:3478?transport=tcp", "1700000000:alice", "a+b/c=="};
        CPPUNIT_ASSERT_EQUAL(std::string("turn://1700000000%3Aalice:a%2Bb%2Fc%3D%3D@127.0.0.1:3478?transport=tcp"),
                             *toWebrtcbinUri(s));
        IceServer t{"turns:relay.example:5349", "u@x", "p ss"};
        CPPUNIT_ASSERT_EQUAL(std::string("turns://u%40x:p%20ss@relay.example:5349"), *toWebrtcbinUri(t));
    }
    void unsupportedSchemesAreRefused() {
        CPPUNIT_ASSERT(!toWebrtcbinUri({"http://x", "", ""}));
        CPPUNIT_ASSERT(!toWebrtcbinUri({"turn:", "u", "p"}));
        CPPUNIT_ASSERT(!toWebrtcbinUri({"", "", ""}));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(IceServerUriTest);
