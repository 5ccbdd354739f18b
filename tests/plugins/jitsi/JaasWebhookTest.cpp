// JaaS webhooks: the X-Jaas-Signature check (PROVIDERS.md test vector, valid,
// tampered body, wrong secret, stale and future timestamps, several v1
// values, malformed headers), replay refusal through the provider and the
// context's replay store, and the translation into session events.
#include "JaasProvider.h"
#include "JaasWebhook.h"
#include "KeyValueSettings.h"
#include "TestProviderContext.h"
#include "TestSupport.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <cppunit/extensions/HelperMacros.h>

using namespace consultd;
using namespace consultd::jitsi;
using namespace consultd::testing;

namespace {

const std::string kAppId = "vpaas-magic-cookie-fedcba9876543210fedcba9876543210";
const std::string kSecret = "whsec-0123456789abcdef";
constexpr std::int64_t kNowSeconds = 1800000000;
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(kNowSeconds));

std::string header(std::int64_t t, const std::string& signature) {
    return "t=" + std::to_string(t) + ",v1=" + signature;
}

std::string envelope(const std::string& eventType, const std::string& dataJson, const std::string& key = "idem-1") {
    return R"({"idempotencyKey":")" + key + R"(","customerId":"c1","appId":")" + kAppId + R"(","eventType":")" +
           eventType + R"(","sessionId":"jaas-session-9","timestamp":1800000000123,"fqn":")" + kAppId +
           R"(/consult-42","data":)" + dataJson + "}";
}

Poco::JSON::Object::Ptr parse(const std::string& json) {
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

class JaasWebhookTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JaasWebhookTest);
    CPPUNIT_TEST(signatureMatchesTheProvidersTestVector);
    CPPUNIT_TEST(validSignatureIsAccepted);
    CPPUNIT_TEST(anyOfSeveralV1ValuesMayMatch);
    CPPUNIT_TEST(tamperedBodyIsRefused);
    CPPUNIT_TEST(wrongSecretIsRefused);
    CPPUNIT_TEST(staleAndFutureTimestampsAreRefused);
    CPPUNIT_TEST(missingOrMalformedHeadersAreRefused);
    CPPUNIT_TEST(providerRefusesReplaysAndUnsignedRequests);
    CPPUNIT_TEST(providerWithoutSecretTakesNoWebhooks);
    CPPUNIT_TEST(eventsAreTranslated);
    CPPUNIT_TEST(foreignAppIdAndGarbageAreRejected);
    CPPUNIT_TEST_SUITE_END();

public:
    void signatureMatchesTheProvidersTestVector() {
        // PROVIDERS.md section 2 (self-computed, not from 8x8).
        CPPUNIT_ASSERT_EQUAL(std::string("vEpSfym5qoEEsThCO3SgzFpfiaUl/t7rppVnqi+YoGI="),
                             jaasSignature("test-secret", 1632490060, R"({"eventType":"ROOM_CREATED"})"));
        const JaasWebhookVerifier verifier("test-secret", kAppId, std::chrono::seconds(300));
        CPPUNIT_ASSERT_EQUAL(std::string("vEpSfym5qoEEsThCO3SgzFpfiaUl/t7rppVnqi+YoGI="),
                             verifier.verify("t=1632490060,v1=vEpSfym5qoEEsThCO3SgzFpfiaUl/t7rppVnqi+YoGI=",
                                             R"({"eventType":"ROOM_CREATED"})", 1632490060 + 299));
    }

    void validSignatureIsAccepted() {
        const JaasWebhookVerifier verifier(kSecret, kAppId, std::chrono::seconds(300));
        const std::string body = envelope("ROOM_CREATED", "{}");
        const std::string sig = jaasSignature(kSecret, kNowSeconds, body);
        CPPUNIT_ASSERT_EQUAL(sig, verifier.verify(header(kNowSeconds, sig), body, kNowSeconds));
        // Spaces after the commas are tolerated.
        CPPUNIT_ASSERT_EQUAL(sig, verifier.verify("t=" + std::to_string(kNowSeconds) + ", v1=" + sig, body, kNowSeconds));
    }

    void anyOfSeveralV1ValuesMayMatch() {
        // During a secret rotation JaaS sends one v1 per secret.
        const JaasWebhookVerifier verifier(kSecret, kAppId, std::chrono::seconds(300));
        const std::string body = envelope("ROOM_CREATED", "{}");
        const std::string good = jaasSignature(kSecret, kNowSeconds, body);
        const std::string other = jaasSignature("old-secret", kNowSeconds, body);
        const std::string value = "t=" + std::to_string(kNowSeconds) + ",v1=" + other + ",v1=" + good + ",v0=ignored";
        CPPUNIT_ASSERT_EQUAL(good, verifier.verify(value, body, kNowSeconds));
    }

    void tamperedBodyIsRefused() {
        const JaasWebhookVerifier verifier(kSecret, kAppId, std::chrono::seconds(300));
        const std::string body = envelope("PARTICIPANT_JOINED", R"({"id":"pat-1"})");
        const std::string sig = jaasSignature(kSecret, kNowSeconds, body);
        std::string tampered = body;
        tampered.replace(tampered.find("pat-1"), 5, "pat-2");
        CPPUNIT_ASSERT_THROW(verifier.verify(header(kNowSeconds, sig), tampered, kNowSeconds), WebhookRejected);
        // The timestamp is signed too.
        CPPUNIT_ASSERT_THROW(verifier.verify(header(kNowSeconds + 1, sig), body, kNowSeconds), WebhookRejected);
    }

    void wrongSecretIsRefused() {
        const JaasWebhookVerifier verifier(kSecret, kAppId, std::chrono::seconds(300));
        const std::string body = envelope("ROOM_CREATED", "{}");
        CPPUNIT_ASSERT_THROW(verifier.verify(header(kNowSeconds, jaasSignature("not-the-secret", kNowSeconds, body)),
                                             body, kNowSeconds),
                             WebhookRejected);
    }

    void staleAndFutureTimestampsAreRefused() {
        const JaasWebhookVerifier verifier(kSecret, kAppId, std::chrono::seconds(300));
        const std::string body = envelope("ROOM_CREATED", "{}");
        const auto at = [&](std::int64_t t) { return header(t, jaasSignature(kSecret, t, body)); };
        CPPUNIT_ASSERT_NO_THROW(verifier.verify(at(kNowSeconds - 300), body, kNowSeconds));
        CPPUNIT_ASSERT_THROW(verifier.verify(at(kNowSeconds - 301), body, kNowSeconds), WebhookRejected);
        CPPUNIT_ASSERT_THROW(verifier.verify(at(kNowSeconds + 301), body, kNowSeconds), WebhookRejected);
    }

    void missingOrMalformedHeadersAreRefused() {
        const JaasWebhookVerifier verifier(kSecret, kAppId, std::chrono::seconds(300));
        const std::string body = envelope("ROOM_CREATED", "{}");
        const std::string sig = jaasSignature(kSecret, kNowSeconds, body);
        for (const std::string& bad : {std::string(), std::string("v1=") + sig, "t=" + std::to_string(kNowSeconds),
                                       "t=abc,v1=" + sig, "t=-5,v1=" + sig, std::string("garbage"),
                                       "t=" + std::to_string(kNowSeconds) + ",v1="}) {
            CPPUNIT_ASSERT_THROW_MESSAGE(bad, verifier.verify(bad, body, kNowSeconds), WebhookRejected);
        }
    }

    void providerRefusesReplaysAndUnsignedRequests() {
        TempDir dir;
        const JaasProviderFactory factory;
        TestProviderContext context(
            std::make_unique<KeyValueSettings>(factory.settings(),
                                               std::map<std::string, std::string>{
                                                   {"app_id", kAppId},
                                                   {"api_key_id", "key-1"},
                                                   {"private_key_file", dir.write("k.pem", sharedRsaKey().pkcs8)},
                                                   {"webhook_secret_file", dir.write("w", kSecret + "\n")}}),
            [] { return kNow; });
        const auto provider = factory.create(context);
        CPPUNIT_ASSERT(provider->capabilities().webhooks);
        WebhookRequest request;
        request.body = envelope("PARTICIPANT_JOINED", R"({"id":"pat-1","name":"Pat","moderator":"false"})");
        request.headers["x-jaas-signature"] = header(kNowSeconds, jaasSignature(kSecret, kNowSeconds, request.body));
        const auto events = provider->handleWebhook(request);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_THROW(provider->handleWebhook(request), WebhookRejected);  // replay
        WebhookRequest unsigned_;
        unsigned_.body = request.body;
        CPPUNIT_ASSERT_THROW(provider->handleWebhook(unsigned_), WebhookRejected);
        // The secret never reaches the log.
        for (const auto& line : context.logLines()) CPPUNIT_ASSERT(line.find(kSecret) == std::string::npos);
    }

    void providerWithoutSecretTakesNoWebhooks() {
        TempDir dir;
        const JaasProviderFactory factory;
        TestProviderContext context(
            std::make_unique<KeyValueSettings>(factory.settings(),
                                               std::map<std::string, std::string>{
                                                   {"app_id", kAppId},
                                                   {"api_key_id", "key-1"},
                                                   {"private_key_file", dir.write("k.pem", sharedRsaKey().pkcs8)}}),
            [] { return kNow; });
        const auto provider = factory.create(context);
        CPPUNIT_ASSERT(!provider->capabilities().webhooks);
        WebhookRequest request;
        request.body = envelope("ROOM_CREATED", "{}");
        request.headers["x-jaas-signature"] = header(kNowSeconds, jaasSignature(kSecret, kNowSeconds, request.body));
        CPPUNIT_ASSERT_THROW(provider->handleWebhook(request), WebhookRejected);
    }

    void eventsAreTranslated() {
        const JaasWebhookVerifier verifier(kSecret, kAppId, std::chrono::seconds(300));
        auto joined = verifier.translate(envelope("PARTICIPANT_JOINED", R"({"id":"pat-1","name":"Pat","moderator":"false"})", "k-1"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), joined.size());
        CPPUNIT_ASSERT_EQUAL(std::string("participant_joined"), joined[0].type);
        CPPUNIT_ASSERT_EQUAL(std::string("consult-42"), joined[0].providerRoomId);
        CPPUNIT_ASSERT_EQUAL(std::string("pat-1"), joined[0].participantId);
        CPPUNIT_ASSERT_EQUAL(std::string("k-1"), joined[0].idempotencyKey);

        const auto ended = verifier.translate(envelope("ROOM_DESTROYED", "{}"));
        CPPUNIT_ASSERT_EQUAL(std::string("room_ended"), ended.at(0).type);
        const auto left = verifier.translate(envelope("PARTICIPANT_LEFT", R"({"id":"pat-1"})"));
        CPPUNIT_ASSERT_EQUAL(std::string("participant_left"), left.at(0).type);

        const auto uploaded = verifier.translate(
            envelope("RECORDING_UPLOADED", R"({"preAuthenticatedLink":"https://download.8x8.vc/rec/abc.mp4?sig=1"})"));
        CPPUNIT_ASSERT_EQUAL(std::string("recording_available"), uploaded.at(0).type);
        const auto data = parse(uploaded.at(0).dataJson);
        CPPUNIT_ASSERT_EQUAL(std::string("https://download.8x8.vc/rec/abc.mp4?sig=1"), data->getValue<std::string>("download_url"));
        CPPUNIT_ASSERT_EQUAL(std::string("jaas-session-9"), data->getValue<std::string>("provider_recording_id"));

        CPPUNIT_ASSERT(verifier.translate(envelope("FEEDBACK", "{}")).empty());
        CPPUNIT_ASSERT(verifier.translate(envelope("USAGE", "{}")).empty());
    }

    void foreignAppIdAndGarbageAreRejected() {
        const JaasWebhookVerifier verifier(kSecret, kAppId, std::chrono::seconds(300));
        std::string other = envelope("ROOM_CREATED", "{}");
        other.replace(other.find(R"("appId":")") + 9, kAppId.size(), "vpaas-magic-cookie-00000000000000000000000000000000");
        CPPUNIT_ASSERT_THROW(verifier.translate(other), ProviderRejected);
        CPPUNIT_ASSERT_THROW(verifier.translate("not json"), ProviderRejected);
        CPPUNIT_ASSERT_THROW(verifier.translate("[1,2]"), ProviderRejected);
        std::string wrongRoom = envelope("ROOM_CREATED", "{}");
        wrongRoom.replace(wrongRoom.find(R"("fqn":")") + 7, kAppId.size(), "someone-else");
        CPPUNIT_ASSERT_THROW(verifier.translate(wrongRoom), ProviderRejected);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JaasWebhookTest);
