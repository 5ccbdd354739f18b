// Vonage signed callbacks: tokens made with POCO's own JWT signer (not the
// plugin's code) are verified by the plugin: valid, tampered body, wrong
// secret, stale / future iat, expired exp, wrong alg/iss/application,
// missing jti, replay through the provider's context; and the translation of
// session monitoring and archive callbacks.
#include "KeyValueSettings.h"
#include "TestProviderContext.h"
#include "TestSupport.h"

#include "VonageProvider.h"
#include "VonageWebhook.h"

#include <Poco/DigestEngine.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/SHA2Engine.h>

#include <cppunit/extensions/HelperMacros.h>

using namespace consultd;
using namespace consultd::vonage;
using consultd::testing::KeyValueSettings;
using consultd::testing::TempDir;
using consultd::testing::TestProviderContext;

namespace {

constexpr const char* kAppId = "4c5e6a7b-1d2e-4f30-8a9b-0c1d2e3f4a5b";
const std::string kSecret = "vonage-signature-secret-0123456789";
constexpr std::int64_t kNow = 1795000000;

std::string sha256Hex(const std::string& body) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    engine.update(body);
    return Poco::DigestEngine::digestToHex(engine.digest());
}

struct Claims {
    std::string alg = "HS256";
    std::string secret = kSecret;
    std::string iss = "Vonage";
    std::string applicationId = kAppId;
    std::int64_t iat = kNow;
    std::optional<std::int64_t> exp;
    std::string jti = "0b4f1a9e-2a34-4c8b-9d1e-7a6b5c4d3e2f";
    std::optional<std::string> payloadHash;
};

/// A callback token made by POCO's JWT signer, independent of the plugin.
std::string callbackToken(const std::string& body, const Claims& c = {}) {
    Poco::JWT::Token token;
    token.setType("JWT");
    token.setIssuedAt(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(c.iat)));
    token.setIssuer(c.iss);
    token.setId(c.jti);
    if (c.exp) token.setExpiration(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(*c.exp)));
    token.payload().set("payload_hash", c.payloadHash.value_or(sha256Hex(body)));
    token.payload().set("application_id", c.applicationId);
    token.payload().set("api_key", "46123456");
    Poco::JWT::Signer signer(c.secret);
    return "Bearer " + signer.sign(token, c.alg);
}

const std::string kConnectionCreated =
    R"({"sessionId":"2_MX4abc","projectId":"46123456","event":"connectionCreated","timestamp":1795000000123,)"
    R"("connection":{"id":"conn-1","createdAt":1795000000100,"data":"{\"participant_id\":\"pat-1\",\"name\":\"Pat\"}"}})";

Poco::JSON::Object::Ptr parse(const std::string& json) {
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

class VonageWebhookTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VonageWebhookTest);
    CPPUNIT_TEST(validCallbackIsAccepted);
    CPPUNIT_TEST(tamperedBodyIsRefused);
    CPPUNIT_TEST(wrongSecretIsRefused);
    CPPUNIT_TEST(staleFutureAndExpiredTokensAreRefused);
    CPPUNIT_TEST(wrongAlgIssuerApplicationOrJtiAreRefused);
    CPPUNIT_TEST(malformedAuthorizationIsRefused);
    CPPUNIT_TEST(providerRefusesReplaysAndUnsignedCallbacks);
    CPPUNIT_TEST(providerWithoutSecretTakesNoWebhooks);
    CPPUNIT_TEST(sessionMonitoringIsTranslated);
    CPPUNIT_TEST(archiveCallbacksAreTranslated);
    CPPUNIT_TEST(ownSignerMatchesPoco);
    CPPUNIT_TEST_SUITE_END();

    VonageWebhookVerifier verifier_{kSecret, kAppId, std::chrono::seconds(300)};

public:
    void validCallbackIsAccepted() {
        const auto claims = verifier_.verify(callbackToken(kConnectionCreated), kConnectionCreated, kNow);
        CPPUNIT_ASSERT_EQUAL(std::string("0b4f1a9e-2a34-4c8b-9d1e-7a6b5c4d3e2f"), claims.jti);
        CPPUNIT_ASSERT_EQUAL(kNow, claims.iat);
        Claims withExp;
        withExp.exp = kNow + 60;
        CPPUNIT_ASSERT_NO_THROW(verifier_.verify(callbackToken(kConnectionCreated, withExp), kConnectionCreated, kNow));
    }

    void tamperedBodyIsRefused() {
        std::string tampered = kConnectionCreated;
        tampered.replace(tampered.find("pat-1"), 5, "pat-2");
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated), tampered, kNow), WebhookRejected);
        // A body truncated in transit as well.
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated), kConnectionCreated.substr(0, 40), kNow),
                             WebhookRejected);
    }

    void wrongSecretIsRefused() {
        Claims c;
        c.secret = "some-other-secret-0123456789abcdef";
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, c), kConnectionCreated, kNow),
                             WebhookRejected);
    }

    void staleFutureAndExpiredTokensAreRefused() {
        Claims edge;
        edge.iat = kNow - 300;
        CPPUNIT_ASSERT_NO_THROW(verifier_.verify(callbackToken(kConnectionCreated, edge), kConnectionCreated, kNow));
        Claims stale;
        stale.iat = kNow - 301;
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, stale), kConnectionCreated, kNow),
                             WebhookRejected);
        Claims future;
        future.iat = kNow + 301;
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, future), kConnectionCreated, kNow),
                             WebhookRejected);
        Claims expired;
        expired.exp = kNow - 1;
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, expired), kConnectionCreated, kNow),
                             WebhookRejected);
    }

    void wrongAlgIssuerApplicationOrJtiAreRefused() {
        Claims alg;
        alg.alg = "HS512";
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, alg), kConnectionCreated, kNow),
                             WebhookRejected);
        Claims iss;
        iss.iss = "Mallory";
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, iss), kConnectionCreated, kNow),
                             WebhookRejected);
        Claims app;
        app.applicationId = "another-application";
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, app), kConnectionCreated, kNow),
                             WebhookRejected);
        Claims jti;
        jti.jti = "";
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, jti), kConnectionCreated, kNow),
                             WebhookRejected);
        Claims hash;
        hash.payloadHash = sha256Hex("something else");
        CPPUNIT_ASSERT_THROW(verifier_.verify(callbackToken(kConnectionCreated, hash), kConnectionCreated, kNow),
                             WebhookRejected);
    }

    void malformedAuthorizationIsRefused() {
        const std::string good = callbackToken(kConnectionCreated);
        // "alg": "none" with the signature dropped.
        const std::string none = "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + good.substr(good.find('.') + 1,
                                     good.rfind('.') - good.find('.')) ;
        for (const std::string& bad : {std::string(), std::string("Basic abc"), std::string("Bearer "),
                                       std::string("Bearer a.b"), std::string("Bearer a.b.c.d"),
                                       good.substr(7), none, good + "x"}) {
            CPPUNIT_ASSERT_THROW_MESSAGE(bad, verifier_.verify(bad, kConnectionCreated, kNow), WebhookRejected);
        }
    }

    void providerRefusesReplaysAndUnsignedCallbacks() {
        TempDir dir;
        VonageProviderFactory factory;
        TestProviderContext context(
            std::make_unique<KeyValueSettings>(
                factory.settings(),
                std::map<std::string, std::string>{
                    {"application_id", kAppId},
                    {"private_key_file", dir.write("private.key", consultd::testing::sharedRsaKey().pkcs8)},
                    {"webhook_secret_file", dir.write("webhook.secret", kSecret + "\n")}}),
            [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); });
        const auto provider = factory.create(context);
        CPPUNIT_ASSERT(provider->capabilities().webhooks);
        WebhookRequest request;
        request.body = kConnectionCreated;
        request.headers["authorization"] = callbackToken(kConnectionCreated);
        const auto events = provider->handleWebhook(request);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_THROW(provider->handleWebhook(request), WebhookRejected);  // same jti: replay
        Claims fresh;
        fresh.jti = "another-jti";
        request.headers["authorization"] = callbackToken(kConnectionCreated, fresh);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), provider->handleWebhook(request).size());
        request.headers.clear();
        CPPUNIT_ASSERT_THROW(provider->handleWebhook(request), WebhookRejected);
        for (const auto& line : context.logLines()) CPPUNIT_ASSERT(line.find(kSecret) == std::string::npos);
    }

    void providerWithoutSecretTakesNoWebhooks() {
        TempDir dir;
        VonageProviderFactory factory;
        TestProviderContext context(
            std::make_unique<KeyValueSettings>(
                factory.settings(),
                std::map<std::string, std::string>{
                    {"application_id", kAppId},
                    {"private_key_file", dir.write("private.key", consultd::testing::sharedRsaKey().pkcs8)}}),
            [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); });
        const auto provider = factory.create(context);
        CPPUNIT_ASSERT(!provider->capabilities().webhooks);
        WebhookRequest request;
        request.body = kConnectionCreated;
        request.headers["authorization"] = callbackToken(kConnectionCreated);
        CPPUNIT_ASSERT_THROW(provider->handleWebhook(request), WebhookRejected);
    }

    void sessionMonitoringIsTranslated() {
        const auto joined = verifier_.translate(kConnectionCreated);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), joined.size());
        CPPUNIT_ASSERT_EQUAL(std::string("participant_joined"), joined[0].type);
        CPPUNIT_ASSERT_EQUAL(std::string("2_MX4abc"), joined[0].providerRoomId);
        CPPUNIT_ASSERT_EQUAL(std::string("pat-1"), joined[0].participantId);
        CPPUNIT_ASSERT_EQUAL(std::string("connectionCreated:conn-1"), joined[0].idempotencyKey);

        std::string destroyed = kConnectionCreated;
        destroyed.replace(destroyed.find("connectionCreated"), 17, "connectionDestroyed");
        destroyed.insert(destroyed.size() - 1, R"(,"reason":"clientDisconnected")");
        const auto left = verifier_.translate(destroyed);
        CPPUNIT_ASSERT_EQUAL(std::string("participant_left"), left.at(0).type);
        CPPUNIT_ASSERT_EQUAL(std::string("clientDisconnected"), parse(left.at(0).dataJson)->getValue<std::string>("reason"));

        const auto ended = verifier_.translate(
            R"({"sessionId":"2_MX4abc","projectId":"46123456","event":"sessionDestroyed","timestamp":1795000009999})");
        CPPUNIT_ASSERT_EQUAL(std::string("room_ended"), ended.at(0).type);
        const auto stream = verifier_.translate(
            R"({"sessionId":"2_MX4abc","event":"streamCreated","timestamp":1,"stream":{"id":"s-1","videoType":"screen",)"
            R"("connection":{"id":"conn-1","data":"{\"participant_id\":\"dr-1\"}"}}})");
        CPPUNIT_ASSERT_EQUAL(std::string("stream_started"), stream.at(0).type);
        CPPUNIT_ASSERT_EQUAL(std::string("dr-1"), stream.at(0).participantId);

        CPPUNIT_ASSERT(verifier_.translate(R"({"sessionId":"2_MX4abc","event":"somethingNew"})").empty());
        CPPUNIT_ASSERT_THROW(verifier_.translate("<xml/>"), ProviderRejected);
    }

    void archiveCallbacksAreTranslated() {
        const auto started = verifier_.translate(
            R"({"id":"arch-1","event":"archive","status":"started","sessionId":"2_MX4abc","createdAt":1,"size":0,"url":null})");
        CPPUNIT_ASSERT_EQUAL(std::string("recording_started"), started.at(0).type);
        CPPUNIT_ASSERT_EQUAL(std::string("archive:arch-1:started"), started.at(0).idempotencyKey);
        const auto available = verifier_.translate(
            R"({"id":"arch-1","event":"archive","status":"available","sessionId":"2_MX4abc","duration":61,)"
            R"("size":123456,"url":"https://vonage-archives.example.org/arch-1.mp4?sig=x"})");
        CPPUNIT_ASSERT_EQUAL(std::string("recording_available"), available.at(0).type);
        const auto data = parse(available.at(0).dataJson);
        CPPUNIT_ASSERT_EQUAL(std::string("https://vonage-archives.example.org/arch-1.mp4?sig=x"),
                             data->getValue<std::string>("download_url"));
        CPPUNIT_ASSERT_EQUAL(std::string("arch-1"), data->getValue<std::string>("provider_recording_id"));
        CPPUNIT_ASSERT_EQUAL(123456, data->getValue<int>("size_bytes"));
        const auto failed = verifier_.translate(
            R"({"id":"arch-1","status":"failed","sessionId":"2_MX4abc","reason":"disk"})");
        CPPUNIT_ASSERT_EQUAL(std::string("recording_failed"), failed.at(0).type);
        CPPUNIT_ASSERT_EQUAL(std::string("error"), failed.at(0).severity);
    }

    void ownSignerMatchesPoco() {
        // The helper the integration tests use signs what the verifier accepts.
        const std::string token = signVonageCallback(kSecret, kAppId, kConnectionCreated, kNow, "jti-x");
        CPPUNIT_ASSERT_EQUAL(std::string("jti-x"), verifier_.verify("Bearer " + token, kConnectionCreated, kNow).jti);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(VonageWebhookTest);
