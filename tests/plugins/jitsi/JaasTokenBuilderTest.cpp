// JaaS (RS256) tokens: claims per PROVIDERS.md section 2 for every role,
// checked on the decoded JSON with strict types, the signature checked with
// the public key, and every bad AppID / key id / key file reported against
// the right setting.
#include "ClaimAsserts.h"
#include "JaasTokenBuilder.h"
#include "TestSupport.h"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/JWT/JWTException.h>
#include <Poco/JWT/Signer.h>
#include <cppunit/extensions/HelperMacros.h>

#include <functional>
#include <sstream>
#include <string>

using namespace consultd;
using namespace consultd::jitsi;
using namespace consultd::testing;

namespace {

const std::string kAppId = "vpaas-magic-cookie-0123456789abcdef0123456789abcdef";
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1795444792));
constexpr std::int64_t kNowSeconds = 1795444792;

JaasConfig baseConfig() {
    JaasConfig config;
    config.appId = kAppId;
    config.apiKeyId = "4f4910";
    config.privateKeyPem = sharedRsaKey().pkcs8;
    return config;
}

SessionView session(const std::string& room = "c0ffee-room-1") {
    SessionView view;
    view.id = "ses_123";
    view.roomName = room;
    return view;
}

ParticipantView participant(Role role) {
    ParticipantView p;
    p.id = std::string("p-") + roleName(role);
    p.name = std::string("Name of ") + roleName(role);
    p.email = std::string(roleName(role)) + "@example.org";
    p.role = role;
    return p;
}

std::string settingOf(const std::function<void()>& action) {
    try {
        action();
    } catch (const SettingError& error) {
        return error.setting();
    }
    return "<no SettingError>";
}

/// Verifies `token` as RS256 with `publicPem`; throws on a bad signature.
Poco::JWT::Token verifyWith(const std::string& publicPem, const std::string& token) {
    std::istringstream in(publicPem);
    auto key = Poco::makeShared<Poco::Crypto::RSAKey>(&in);
    Poco::JWT::Signer signer(key);
    signer.setAlgorithms({Poco::JWT::Signer::ALGO_RS256});
    return signer.verify(token);
}

const char* const kFeatures[] = {"recording", "livestreaming", "transcription", "outbound-call",
                                 "screen-sharing"};

}  // namespace

class JaasTokenBuilderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JaasTokenBuilderTest);
    CPPUNIT_TEST(hostTokenHasEveryClaim);
    CPPUNIT_TEST(nonHostRolesAreNotModerators);
    CPPUNIT_TEST(signatureVerifiesOnlyWithThePublicKey);
    CPPUNIT_TEST(traditionalPemWorksToo);
    CPPUNIT_TEST(ttlSetsExpiry);
    CPPUNIT_TEST(joinUrlAndClientSettings);
    CPPUNIT_TEST(unsafeRoomNamesAreRejected);
    CPPUNIT_TEST(recorderIsRejected);
    CPPUNIT_TEST(appIdFormatIsEnforced);
    CPPUNIT_TEST(apiKeyIdIsValidated);
    CPPUNIT_TEST(badKeyFilesNameThePrivateKeySetting);
    CPPUNIT_TEST_SUITE_END();

public:
    void hostTokenHasEveryClaim() {
        const JaasTokenBuilder builder(baseConfig());
        const JoinGrant grant = builder.buildGrant(session(), participant(Role::Host), kNow);
        const DecodedJwt jwt = decodeJwt(grant.token);

        CPPUNIT_ASSERT_EQUAL(std::string("JWT"), stringClaim(jwt.header, "typ"));
        CPPUNIT_ASSERT_EQUAL(std::string("RS256"), stringClaim(jwt.header, "alg"));
        CPPUNIT_ASSERT_EQUAL(kAppId + "/4f4910", stringClaim(jwt.header, "kid"));

        CPPUNIT_ASSERT_EQUAL(std::string("jitsi"), stringClaim(jwt.payload, "aud"));
        CPPUNIT_ASSERT_EQUAL(std::string("chat"), stringClaim(jwt.payload, "iss"));
        CPPUNIT_ASSERT_EQUAL(kAppId, stringClaim(jwt.payload, "sub"));
        CPPUNIT_ASSERT_EQUAL(std::string("c0ffee-room-1"), stringClaim(jwt.payload, "room"));
        CPPUNIT_ASSERT_EQUAL(kNowSeconds, integerClaim(jwt.payload, "iat"));
        CPPUNIT_ASSERT_EQUAL(kNowSeconds - 10, integerClaim(jwt.payload, "nbf"));
        CPPUNIT_ASSERT_EQUAL(kNowSeconds + 5400, integerClaim(jwt.payload, "exp"));
        CPPUNIT_ASSERT_EQUAL(kNowSeconds + 5400, grant.expiresAt);

        const auto context = objectClaim(jwt.payload, "context");
        const auto user = objectClaim(context, "user");
        CPPUNIT_ASSERT_EQUAL(std::string("p-host"), stringClaim(user, "id"));
        CPPUNIT_ASSERT_EQUAL(std::string("Name of host"), stringClaim(user, "name"));
        CPPUNIT_ASSERT_EQUAL(std::string("host@example.org"), stringClaim(user, "email"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), stringClaim(user, "avatar"));
        CPPUNIT_ASSERT_EQUAL(std::string("true"), stringClaim(user, "moderator"));
        const auto features = objectClaim(context, "features");
        for (const char* feature : kFeatures) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(feature, std::string("true"), stringClaim(features, feature));
        }
    }

    void nonHostRolesAreNotModerators() {
        const JaasTokenBuilder builder(baseConfig());
        for (Role role : {Role::Patient, Role::Guest, Role::Device}) {
            const std::string who = roleName(role);
            const DecodedJwt jwt = decodeJwt(builder.buildGrant(session(), participant(role), kNow).token);
            const auto context = objectClaim(jwt.payload, "context");
            const auto user = objectClaim(context, "user");
            CPPUNIT_ASSERT_EQUAL_MESSAGE(who, std::string("p-") + who, stringClaim(user, "id"));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(who, std::string("false"), stringClaim(user, "moderator"));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(who, std::string(""), stringClaim(user, "email"));
            const auto features = objectClaim(context, "features");
            for (const char* feature : kFeatures) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(who + " " + feature, std::string("false"),
                                             stringClaim(features, feature));
            }
        }
    }

    void signatureVerifiesOnlyWithThePublicKey() {
        const JaasTokenBuilder builder(baseConfig());
        const std::string token = builder.buildGrant(session(), participant(Role::Guest), kNow).token;
        CPPUNIT_ASSERT_EQUAL(kAppId, verifyWith(sharedRsaKey().publicKey, token).getSubject());
        CPPUNIT_ASSERT_THROW(verifyWith(otherRsaKey().publicKey, token),
                             Poco::JWT::SignatureVerificationException);
    }

    void traditionalPemWorksToo() {
        JaasConfig config = baseConfig();
        config.privateKeyPem = sharedRsaKey().traditional;
        const JaasTokenBuilder builder(config);
        const std::string token = builder.buildGrant(session(), participant(Role::Host), kNow).token;
        CPPUNIT_ASSERT_EQUAL(kAppId, verifyWith(sharedRsaKey().publicKey, token).getSubject());
    }

    void ttlSetsExpiry() {
        JaasConfig config = baseConfig();
        config.ttl = std::chrono::seconds(600);
        const JaasTokenBuilder builder(config);
        const JoinGrant grant = builder.buildGrant(session(), participant(Role::Patient), kNow);
        CPPUNIT_ASSERT_EQUAL(kNowSeconds + 600, integerClaim(decodeJwt(grant.token).payload, "exp"));
        CPPUNIT_ASSERT_EQUAL(kNowSeconds + 600, grant.expiresAt);
    }

    void joinUrlAndClientSettings() {
        const JaasTokenBuilder builder(baseConfig());
        const JoinGrant grant = builder.buildGrant(session(), participant(Role::Patient), kNow);
        CPPUNIT_ASSERT_EQUAL(kAppId + "/c0ffee-room-1", grant.room);
        CPPUNIT_ASSERT_EQUAL("https://8x8.vc/" + kAppId + "/c0ffee-room-1?jwt=" + grant.token,
                             grant.joinUrl);
        CPPUNIT_ASSERT_EQUAL(std::string("8x8.vc"), grant.client.at("domain"));
        CPPUNIT_ASSERT_EQUAL(kAppId + "/c0ffee-room-1", grant.client.at("roomName"));
        CPPUNIT_ASSERT_EQUAL("https://8x8.vc/" + kAppId + "/external_api.js", grant.client.at("scriptUrl"));
        CPPUNIT_ASSERT_EQUAL(kAppId, grant.client.at("appId"));
    }

    void unsafeRoomNamesAreRejected() {
        const JaasTokenBuilder builder(baseConfig());
        for (const std::string& room : {std::string(), std::string("UPPER"), std::string("x/y"),
                                       std::string("%2e%2e"), std::string(65, 'b')}) {
            CPPUNIT_ASSERT_THROW_MESSAGE(room, builder.buildGrant(session(room), participant(Role::Guest), kNow),
                                         ProviderRejected);
        }
    }

    void recorderIsRejected() {
        const JaasTokenBuilder builder(baseConfig());
        CPPUNIT_ASSERT_THROW(builder.buildGrant(session(), participant(Role::Recorder), kNow),
                             ProviderRejected);
    }

    void appIdFormatIsEnforced() {
        CPPUNIT_ASSERT(isJaasAppId(kAppId));
        for (const std::string& bad :
             {std::string(""), std::string("vpaas-magic-cookie-"),
              std::string("vpaas-magic-cookie-0123456789abcdef0123456789abcde"),      // 31 hex
              std::string("vpaas-magic-cookie-0123456789abcdef0123456789abcdef0"),    // 33 hex
              std::string("vpaas-magic-cookie-0123456789ABCDEF0123456789abcdef"),     // upper case
              std::string("vpaas-magic-cookie-0123456789abcdef0123456789abcdeg"),     // not hex
              std::string("vpaas-magic-cookie-0123456789abcdef0123456789abcdef/x"),
              std::string("VPAAS-MAGIC-COOKIE-0123456789abcdef0123456789abcdef"),
              std::string("magic-cookie-0123456789abcdef0123456789abcdef")}) {
            CPPUNIT_ASSERT_MESSAGE(bad, !isJaasAppId(bad));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(bad, std::string("app_id"), settingOf([&] {
                                             JaasConfig config = baseConfig();
                                             config.appId = bad;
                                             const JaasTokenBuilder builder(config);
                                         }));
        }
    }

    void apiKeyIdIsValidated() {
        for (const std::string& bad : {std::string(""), std::string("a/b"), kAppId + "/4f4910",
                                      std::string("key id"), std::string(129, 'k')}) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(bad, std::string("api_key_id"), settingOf([&] {
                                             JaasConfig config = baseConfig();
                                             config.apiKeyId = bad;
                                             const JaasTokenBuilder builder(config);
                                         }));
        }
        CPPUNIT_ASSERT_EQUAL(std::string("token_ttl_seconds"), settingOf([&] {
                                 JaasConfig config = baseConfig();
                                 config.ttl = std::chrono::seconds(0);
                                 const JaasTokenBuilder builder(config);
                             }));
    }

    void badKeyFilesNameThePrivateKeySetting() {
        const RsaKeyPem small = generateRsaKey(1024);
        const std::string truncated = sharedRsaKey().pkcs8.substr(0, sharedRsaKey().pkcs8.size() / 2) +
                                      "\n-----END PRIVATE KEY-----\n";
        for (const std::string& pem :
             {std::string(""), std::string("not a key\n"), sharedRsaKey().publicKey, ecPrivateKeyPem(),
              encryptedPkcs8Pem(sharedRsaKey()), encryptedTraditionalPem(sharedRsaKey()), small.pkcs8,
              truncated}) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(pem.substr(0, 40), std::string("private_key_file"), settingOf([&] {
                                             JaasConfig config = baseConfig();
                                             config.privateKeyPem = pem;
                                             const JaasTokenBuilder builder(config);
                                         }));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JaasTokenBuilderTest);
