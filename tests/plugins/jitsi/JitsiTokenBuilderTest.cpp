// Self-hosted Jitsi (HS256) tokens: claims per PROVIDERS.md section 1, for
// every role, checked on the decoded JSON with strict types, and the
// signature checked with Poco::JWT against the secret.
#include "ClaimAsserts.h"
#include "JitsiTokenBuilder.h"
#include "TestSupport.h"

#include <Poco/JWT/JWTException.h>
#include <Poco/JWT/Signer.h>
#include <cppunit/extensions/HelperMacros.h>

#include <functional>
#include <string>

using namespace consultd;
using namespace consultd::jitsi;
using namespace consultd::testing;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef-prosody";
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1795444792));
constexpr std::int64_t kNowSeconds = 1795444792;

JitsiConfig baseConfig() {
    JitsiConfig config;
    config.domain = "meet.example.org";
    config.appId = "consultd";
    config.appSecret = kSecret;
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

}  // namespace

class JitsiTokenBuilderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JitsiTokenBuilderTest);
    CPPUNIT_TEST(hostTokenHasEveryClaim);
    CPPUNIT_TEST(nonHostRolesAreNotModerators);
    CPPUNIT_TEST(signatureVerifiesOnlyWithTheSecret);
    CPPUNIT_TEST(issuerAndAudienceAreConfigurable);
    CPPUNIT_TEST(tenantBecomesSubjectAndPathSegment);
    CPPUNIT_TEST(domainIsLowerCasedAndPortStaysOutOfSub);
    CPPUNIT_TEST(ttlSetsExpiry);
    CPPUNIT_TEST(joinUrlAndClientSettings);
    CPPUNIT_TEST(unsafeRoomNamesAreRejected);
    CPPUNIT_TEST(recorderAndAnonymousParticipantsAreRejected);
    CPPUNIT_TEST(userClaimSurvivesAwkwardNamesAndHidesPatientEmail);
    CPPUNIT_TEST(invalidSettingsNameTheSetting);
    CPPUNIT_TEST_SUITE_END();

public:
    void hostTokenHasEveryClaim() {
        const JitsiTokenBuilder builder(baseConfig());
        const JoinGrant grant = builder.buildGrant(session(), participant(Role::Host), kNow);
        const DecodedJwt jwt = decodeJwt(grant.token);

        CPPUNIT_ASSERT_EQUAL(std::string("JWT"), stringClaim(jwt.header, "typ"));
        CPPUNIT_ASSERT_EQUAL(std::string("HS256"), stringClaim(jwt.header, "alg"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), jwt.header->size());

        CPPUNIT_ASSERT_EQUAL(std::string("consultd"), stringClaim(jwt.payload, "iss"));
        CPPUNIT_ASSERT_EQUAL(std::string("jitsi"), stringClaim(jwt.payload, "aud"));
        CPPUNIT_ASSERT_EQUAL(std::string("meet.example.org"), stringClaim(jwt.payload, "sub"));
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
        CPPUNIT_ASSERT_EQUAL(std::string("owner"), stringClaim(user, "affiliation"));

        const auto features = objectClaim(context, "features");
        for (const char* feature :
             {"recording", "livestreaming", "transcription", "outbound-call", "screen-sharing"}) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(feature, std::string("true"), stringClaim(features, feature));
        }
    }

    void nonHostRolesAreNotModerators() {
        const JitsiTokenBuilder builder(baseConfig());
        for (Role role : {Role::Patient, Role::Guest, Role::Device}) {
            const JoinGrant grant = builder.buildGrant(session(), participant(role), kNow);
            const DecodedJwt jwt = decodeJwt(grant.token);
            const auto context = objectClaim(jwt.payload, "context");
            const auto user = objectClaim(context, "user");
            const std::string who = roleName(role);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(who, std::string("p-") + who, stringClaim(user, "id"));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(who, std::string("false"), stringClaim(user, "moderator"));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(who, std::string("member"), stringClaim(user, "affiliation"));
            const auto features = objectClaim(context, "features");
            for (const char* feature :
                 {"recording", "livestreaming", "transcription", "outbound-call", "screen-sharing"}) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(who + " " + feature, std::string("false"),
                                             stringClaim(features, feature));
            }
            CPPUNIT_ASSERT_EQUAL_MESSAGE(who, std::string("c0ffee-room-1"), stringClaim(jwt.payload, "room"));
        }
    }

    void signatureVerifiesOnlyWithTheSecret() {
        const JitsiTokenBuilder builder(baseConfig());
        const std::string token = builder.buildGrant(session(), participant(Role::Patient), kNow).token;
        Poco::JWT::Signer good(kSecret);
        CPPUNIT_ASSERT_EQUAL(std::string("c0ffee-room-1"),
                             good.verify(token).payload().getValue<std::string>("room"));
        Poco::JWT::Signer wrong(kSecret + "x");
        CPPUNIT_ASSERT_THROW(wrong.verify(token), Poco::JWT::SignatureVerificationException);
    }

    void issuerAndAudienceAreConfigurable() {
        JitsiConfig config = baseConfig();
        config.issuer = "hospital-issuer";
        config.audience = "consultd";
        const JitsiTokenBuilder builder(config);
        const DecodedJwt jwt = decodeJwt(builder.buildGrant(session(), participant(Role::Host), kNow).token);
        CPPUNIT_ASSERT_EQUAL(std::string("hospital-issuer"), stringClaim(jwt.payload, "iss"));
        CPPUNIT_ASSERT_EQUAL(std::string("consultd"), stringClaim(jwt.payload, "aud"));
    }

    void tenantBecomesSubjectAndPathSegment() {
        JitsiConfig config = baseConfig();
        config.tenant = "Cardiology";
        const JitsiTokenBuilder builder(config);
        const JoinGrant grant = builder.buildGrant(session(), participant(Role::Guest), kNow);
        const DecodedJwt jwt = decodeJwt(grant.token);
        CPPUNIT_ASSERT_EQUAL(std::string("cardiology"), stringClaim(jwt.payload, "sub"));
        CPPUNIT_ASSERT_EQUAL(std::string("c0ffee-room-1"), stringClaim(jwt.payload, "room"));
        CPPUNIT_ASSERT_EQUAL(std::string("cardiology/c0ffee-room-1"), grant.room);
        CPPUNIT_ASSERT_EQUAL("https://meet.example.org/cardiology/c0ffee-room-1?jwt=" + grant.token,
                             grant.joinUrl);
        CPPUNIT_ASSERT_EQUAL(std::string("cardiology/c0ffee-room-1"), grant.client.at("roomName"));
    }

    void domainIsLowerCasedAndPortStaysOutOfSub() {
        JitsiConfig config = baseConfig();
        config.domain = "Meet.Example.ORG:8443";
        const JitsiTokenBuilder builder(config);
        const JoinGrant grant = builder.buildGrant(session(), participant(Role::Host), kNow);
        CPPUNIT_ASSERT_EQUAL(std::string("meet.example.org"), stringClaim(decodeJwt(grant.token).payload, "sub"));
        CPPUNIT_ASSERT_EQUAL("https://meet.example.org:8443/c0ffee-room-1?jwt=" + grant.token, grant.joinUrl);
        CPPUNIT_ASSERT_EQUAL(std::string("meet.example.org:8443"), grant.client.at("domain"));
    }

    void ttlSetsExpiry() {
        for (int ttl : {60, 3600, 86400}) {
            JitsiConfig config = baseConfig();
            config.ttl = std::chrono::seconds(ttl);
            const JitsiTokenBuilder builder(config);
            const JoinGrant grant = builder.buildGrant(session(), participant(Role::Patient), kNow);
            const DecodedJwt jwt = decodeJwt(grant.token);
            CPPUNIT_ASSERT_EQUAL(kNowSeconds + ttl, integerClaim(jwt.payload, "exp"));
            CPPUNIT_ASSERT_EQUAL(kNowSeconds + ttl, grant.expiresAt);
            CPPUNIT_ASSERT_EQUAL(kNowSeconds - 10, integerClaim(jwt.payload, "nbf"));
        }
    }

    void joinUrlAndClientSettings() {
        const JitsiTokenBuilder builder(baseConfig());
        SessionView voice = session();
        voice.mode = Mode::Voice;
        const JoinGrant grant = builder.buildGrant(voice, participant(Role::Patient), kNow);
        CPPUNIT_ASSERT_EQUAL(std::string("c0ffee-room-1"), grant.room);
        CPPUNIT_ASSERT_EQUAL("https://meet.example.org/c0ffee-room-1?jwt=" + grant.token, grant.joinUrl);
        CPPUNIT_ASSERT_EQUAL(std::string("meet.example.org"), grant.client.at("domain"));
        CPPUNIT_ASSERT_EQUAL(std::string("c0ffee-room-1"), grant.client.at("roomName"));
        CPPUNIT_ASSERT_EQUAL(std::string("https://meet.example.org/external_api.js"),
                             grant.client.at("scriptUrl"));
        CPPUNIT_ASSERT_EQUAL(std::string("voice"), grant.client.at("mode"));
        CPPUNIT_ASSERT(grant.iceServers.empty());  // the provider adds them, not the builder
    }

    void unsafeRoomNamesAreRejected() {
        const JitsiTokenBuilder builder(baseConfig());
        for (const std::string& room :
             {std::string(), std::string("Room"), std::string("a/b"), std::string("a b"),
              std::string("../etc"), std::string("room?jwt=x"), std::string("r\xc3\xa4um"),
              std::string("room\n"), std::string("a_b"), std::string("a.b"), std::string(65, 'a')}) {
            CPPUNIT_ASSERT_THROW_MESSAGE(room, builder.buildGrant(session(room), participant(Role::Host), kNow),
                                         ProviderRejected);
        }
        const std::string longest(64, 'z');
        CPPUNIT_ASSERT_EQUAL(longest, builder.buildGrant(session(longest), participant(Role::Host), kNow).room);
    }

    void recorderAndAnonymousParticipantsAreRejected() {
        const JitsiTokenBuilder builder(baseConfig());
        CPPUNIT_ASSERT_THROW(builder.buildGrant(session(), participant(Role::Recorder), kNow),
                             ProviderRejected);
        ParticipantView anonymous = participant(Role::Guest);
        anonymous.id.clear();
        CPPUNIT_ASSERT_THROW(builder.buildGrant(session(), anonymous, kNow), ProviderRejected);
    }

    void userClaimSurvivesAwkwardNamesAndHidesPatientEmail() {
        const JitsiTokenBuilder builder(baseConfig());
        ParticipantView patient = participant(Role::Patient);
        patient.name = "J\xc3\xb6rg \"Jo\" O'Brien </script>\\";
        const DecodedJwt jwt = decodeJwt(builder.buildGrant(session(), patient, kNow).token);
        const auto user = objectClaim(objectClaim(jwt.payload, "context"), "user");
        CPPUNIT_ASSERT_EQUAL(patient.name, stringClaim(user, "name"));
        // A patient's email is patient data: the claim is present but empty.
        CPPUNIT_ASSERT_EQUAL(std::string(""), stringClaim(user, "email"));
    }

    void invalidSettingsNameTheSetting() {
        auto with = [](auto change) {
            return settingOf([&] {
                JitsiConfig config = baseConfig();
                change(config);
                const JitsiTokenBuilder builder(config);
            });
        };
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = "https://meet.example.org"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = "meet.example.org/x"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = "meet_example.org"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = "-meet.example.org"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = "meet..org"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = "meet.example.org:0"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = "meet.example.org:70000"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = "meet.example.org:"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"), with([](JitsiConfig& c) { c.domain = ""; }));
        CPPUNIT_ASSERT_EQUAL(std::string("app_id"), with([](JitsiConfig& c) { c.appId = ""; }));
        CPPUNIT_ASSERT_EQUAL(std::string("app_id"), with([](JitsiConfig& c) { c.appId = "my app"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("app_secret_file"),
                             with([](JitsiConfig& c) { c.appSecret = std::string(31, 's'); }));
        CPPUNIT_ASSERT_EQUAL(std::string("issuer"), with([](JitsiConfig& c) { c.issuer = "a\"b"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("audience"), with([](JitsiConfig& c) { c.audience = ""; }));
        CPPUNIT_ASSERT_EQUAL(std::string("tenant"), with([](JitsiConfig& c) { c.tenant = "a/b"; }));
        CPPUNIT_ASSERT_EQUAL(std::string("token_ttl_seconds"),
                             with([](JitsiConfig& c) { c.ttl = std::chrono::seconds(59); }));
        CPPUNIT_ASSERT_EQUAL(std::string("token_ttl_seconds"),
                             with([](JitsiConfig& c) { c.ttl = std::chrono::seconds(86401); }));
        // And the valid edge values pass.
        CPPUNIT_ASSERT_EQUAL(std::string("<no SettingError>"), with([](JitsiConfig& c) {
                                 c.appSecret = std::string(32, 's');
                                 c.domain = "localhost:8443";
                             }));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JitsiTokenBuilderTest);
