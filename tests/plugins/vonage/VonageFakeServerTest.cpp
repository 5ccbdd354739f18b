// The vonage provider against fake_vonage.py over real HTTP(S) on 127.0.0.1:
// session creation, archive start/stop, JWT checks done by the server with
// the public key, outage -> ProviderUnavailable and recovery, timeouts,
// refusals, malformed answers, strict TLS verification, and concurrency.
#include "FakeVonageServer.h"
#include "KeyValueSettings.h"
#include "TestProviderContext.h"
#include "TestSupport.h"

#include "VonageJwt.h"
#include "VonageProvider.h"

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using namespace consultd;
using namespace consultd::vonage;
using consultd::testing::FakeVonageServer;
using consultd::testing::KeyValueSettings;
using consultd::testing::TempDir;
using consultd::testing::TestProviderContext;

namespace {

using Overrides = std::map<std::string, std::string>;
constexpr const char* kAppId = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

/// One fake server plus a provider configured for it.
struct Harness {
    TempDir dir;
    std::string publicKeyFile = dir.write("public.pem", consultd::testing::sharedRsaKey().publicKey);
    std::unique_ptr<FakeVonageServer> server;
    std::unique_ptr<TestProviderContext> context;
    std::unique_ptr<Provider> provider;

    explicit Harness(Overrides overrides = {}, bool tls = false) {
        server = std::make_unique<FakeVonageServer>(kAppId, publicKeyFile, tls ? dir.path().string() : "");
        Overrides values{
            {"api_base_url", server->baseUrl()},
            {"application_id", kAppId},
            {"private_key_file", dir.write("private.key", consultd::testing::sharedRsaKey().pkcs8)},
            {"request_timeout_ms", "3000"},
        };
        for (auto& [key, value] : overrides) values[key] = value;
        VonageProviderFactory factory;
        context = std::make_unique<TestProviderContext>(std::make_unique<KeyValueSettings>(factory.settings(), values));
        provider = factory.create(*context);
    }
    ~Harness() {
        provider.reset();  // before its context
    }

    VonageProvider& vonage() { return dynamic_cast<VonageProvider&>(*provider); }

    SessionView newSession(const std::string& id, Mode mode = Mode::Video) {
        SessionView session;
        session.id = id;
        session.mode = mode;
        session.roomName = id;
        session.providerRoomId = provider->createRoom(session).providerRoomId;
        return session;
    }

    /// The requests the server saw, oldest first.
    Poco::JSON::Array::Ptr requests() const { return server->stats()->getArray("requests"); }
};

Health::State state(const Provider& provider) { return provider.health().state; }

}  // namespace

class VonageFakeServerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VonageFakeServerTest);
    CPPUNIT_TEST(createSessionSendsFormAndVerifiedJwt);
    CPPUNIT_TEST(relayedAndAlwaysArchivedSessions);
    CPPUNIT_TEST(archiveStartAndStop);
    CPPUNIT_TEST(voiceArchiveHasNoVideo);
    CPPUNIT_TEST(secondStartIsRejected);
    CPPUNIT_TEST(outageThenRecovery);
    CPPUNIT_TEST(stopDuringOutageKeepsArchiveForRetry);
    CPPUNIT_TEST(closeRoomStopsArchive);
    CPPUNIT_TEST(timeoutIsHonoured);
    CPPUNIT_TEST(clientErrorIsRejected);
    CPPUNIT_TEST(malformedAnswerIsUnavailable);
    CPPUNIT_TEST(wrongKeyIsRefusedByServer);
    CPPUNIT_TEST(serverRefusesReplayedAndForeignTokens);
    CPPUNIT_TEST(tlsVerifiedWithCaFileOnly);
    CPPUNIT_TEST(concurrentCallsAreSafe);
    CPPUNIT_TEST_SUITE_END();

public:
    void createSessionSendsFormAndVerifiedJwt() {
        Harness h;
        const SessionView session = h.newSession("ses-a");
        CPPUNIT_ASSERT(session.providerRoomId.rfind("2_MX4", 0) == 0);
        CPPUNIT_ASSERT(state(*h.provider) == Health::State::Healthy);
        const auto stats = h.server->stats();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, stats->getArray("sessions")->size());
        CPPUNIT_ASSERT_EQUAL(session.providerRoomId, stats->getArray("sessions")->getElement<std::string>(0));
        const auto request = h.requests()->getObject(0);
        CPPUNIT_ASSERT_EQUAL(std::string("/session/create"), request->getValue<std::string>("path"));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), request->getValue<std::string>("auth"));
        CPPUNIT_ASSERT_EQUAL(200, request->getValue<int>("status"));
        CPPUNIT_ASSERT_EQUAL(std::string("manual"), request->getObject("form")->getValue<std::string>("archiveMode"));
        CPPUNIT_ASSERT_EQUAL(std::string("disabled"),
                             request->getObject("form")->getValue<std::string>("p2p.preference"));
        // The grant uses the session id the server made.
        ParticipantView host{"doc-1", "Dr. A", "", Role::Host};
        const JoinGrant grant = h.provider->issueGrant(session, host);
        CPPUNIT_ASSERT_EQUAL(session.providerRoomId, grant.client.at("session_id"));
        CPPUNIT_ASSERT_EQUAL(h.server->baseUrl(), grant.client.at("api_base_url"));
    }

    void relayedAndAlwaysArchivedSessions() {
        {
            Harness h(Overrides{{"media_mode", "relayed"}});
            h.newSession("ses-relayed");
            const auto form = h.requests()->getObject(0)->getObject("form");
            CPPUNIT_ASSERT_EQUAL(std::string("enabled"), form->getValue<std::string>("p2p.preference"));
            CPPUNIT_ASSERT_EQUAL(std::string("manual"), form->getValue<std::string>("archiveMode"));
        }
        Harness h(Overrides{{"archive_mode", "always"}});
        h.newSession("ses-always");
        const auto form = h.requests()->getObject(0)->getObject("form");
        CPPUNIT_ASSERT_EQUAL(std::string("disabled"), form->getValue<std::string>("p2p.preference"));
        CPPUNIT_ASSERT_EQUAL(std::string("always"), form->getValue<std::string>("archiveMode"));
    }

    void archiveStartAndStop() {
        Harness h;
        const SessionView session = h.newSession("ses-b");
        h.provider->startRecording(session);
        const std::string archiveId = h.vonage().archiveIdFor("ses-b");
        CPPUNIT_ASSERT(!archiveId.empty());
        auto archive = h.server->stats()->getObject("archives")->getObject(archiveId);
        CPPUNIT_ASSERT(archive);
        CPPUNIT_ASSERT_EQUAL(std::string("started"), archive->getValue<std::string>("status"));
        CPPUNIT_ASSERT_EQUAL(session.providerRoomId, archive->getValue<std::string>("sessionId"));

        const auto start = h.requests()->getObject(1);
        CPPUNIT_ASSERT_EQUAL("/v2/project/" + std::string(kAppId) + "/archive", start->getValue<std::string>("path"));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), start->getValue<std::string>("auth"));
        const auto json = start->getObject("json");
        CPPUNIT_ASSERT_EQUAL(session.providerRoomId, json->getValue<std::string>("sessionId"));
        CPPUNIT_ASSERT(json->get("hasAudio").isBoolean() && json->getValue<bool>("hasAudio"));
        CPPUNIT_ASSERT(json->get("hasVideo").isBoolean() && json->getValue<bool>("hasVideo"));
        CPPUNIT_ASSERT_EQUAL(std::string("composed"), json->getValue<std::string>("outputMode"));
        CPPUNIT_ASSERT_EQUAL(std::string("auto"), json->getValue<std::string>("streamMode"));

        h.provider->stopRecording(session);
        CPPUNIT_ASSERT(h.vonage().archiveIdFor("ses-b").empty());
        archive = h.server->stats()->getObject("archives")->getObject(archiveId);
        CPPUNIT_ASSERT_EQUAL(std::string("stopped"), archive->getValue<std::string>("status"));
        CPPUNIT_ASSERT_EQUAL("/v2/project/" + std::string(kAppId) + "/archive/" + archiveId + "/stop",
                             h.requests()->getObject(2)->getValue<std::string>("path"));
        // A second stop has nothing to stop.
        CPPUNIT_ASSERT_THROW(h.provider->stopRecording(session), ProviderRejected);

        // After an import the provider's copy is deleted (authenticated DELETE).
        h.provider->deleteRecording(session, archiveId);
        archive = h.server->stats()->getObject("archives")->getObject(archiveId);
        CPPUNIT_ASSERT_EQUAL(std::string("deleted"), archive->getValue<std::string>("status"));
        const auto del = h.requests()->getObject(3);
        CPPUNIT_ASSERT_EQUAL(std::string("DELETE"), del->getValue<std::string>("method"));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), del->getValue<std::string>("auth"));
        CPPUNIT_ASSERT_EQUAL("/v2/project/" + std::string(kAppId) + "/archive/" + archiveId,
                             del->getValue<std::string>("path"));
        CPPUNIT_ASSERT_THROW(h.provider->deleteRecording(session, "../etc"), ProviderRejected);
    }

    void voiceArchiveHasNoVideo() {
        Harness h;
        const SessionView session = h.newSession("ses-voice", Mode::Voice);
        h.provider->startRecording(session);
        const auto json = h.requests()->getObject(1)->getObject("json");
        CPPUNIT_ASSERT(json->get("hasVideo").isBoolean());
        CPPUNIT_ASSERT(!json->getValue<bool>("hasVideo"));
        CPPUNIT_ASSERT(json->getValue<bool>("hasAudio"));
    }

    void secondStartIsRejected() {
        Harness h;
        const SessionView session = h.newSession("ses-c");
        h.provider->startRecording(session);
        CPPUNIT_ASSERT_THROW(h.provider->startRecording(session), ProviderRejected);
        // A relayed session: the server refuses to archive it (409 -> ProviderRejected).
        Harness relayed(Overrides{{"media_mode", "relayed"}});
        const SessionView p2p = relayed.newSession("ses-p2p");
        CPPUNIT_ASSERT_THROW(relayed.provider->startRecording(p2p), ProviderRejected);
        CPPUNIT_ASSERT(relayed.vonage().archiveIdFor("ses-p2p").empty());
        CPPUNIT_ASSERT(state(*relayed.provider) == Health::State::Healthy);
    }

    void outageThenRecovery() {
        Harness h;
        h.newSession("ses-before");
        h.server->setMode("fail", 503);
        SessionView session;
        session.id = "ses-d";
        CPPUNIT_ASSERT_THROW(h.provider->createRoom(session), ProviderUnavailable);
        CPPUNIT_ASSERT(state(*h.provider) == Health::State::Degraded);
        h.server->setMode("fail", 500);
        CPPUNIT_ASSERT_THROW(h.provider->createRoom(session), ProviderUnavailable);
        h.server->setMode("fail", 502);
        CPPUNIT_ASSERT_THROW(h.provider->createRoom(session), ProviderUnavailable);
        CPPUNIT_ASSERT(state(*h.provider) == Health::State::Unavailable);
        CPPUNIT_ASSERT(h.provider->health().detail.find("502") != std::string::npos);
        // Throttling is transient too.
        h.server->setMode("reject", 429);
        CPPUNIT_ASSERT_THROW(h.provider->createRoom(session), ProviderUnavailable);
        // No grant without a provider session: the daemon answers 503 then.
        ParticipantView patient{"pat-1", "P", "", Role::Patient};
        CPPUNIT_ASSERT_THROW(h.provider->issueGrant(session, patient), ProviderUnavailable);

        h.server->setMode("ok");
        session.providerRoomId = h.provider->createRoom(session).providerRoomId;
        CPPUNIT_ASSERT(!session.providerRoomId.empty());
        CPPUNIT_ASSERT(state(*h.provider) == Health::State::Healthy);
        CPPUNIT_ASSERT(!h.provider->issueGrant(session, patient).token.empty());

        // The server itself going away entirely (connection refused) is an outage too.
        const std::string base = h.server->baseUrl();
        h.server.reset();
        CPPUNIT_ASSERT_THROW(h.provider->createRoom(session), ProviderUnavailable);
        CPPUNIT_ASSERT(state(*h.provider) == Health::State::Degraded);
    }

    void stopDuringOutageKeepsArchiveForRetry() {
        Harness h;
        const SessionView session = h.newSession("ses-e");
        h.provider->startRecording(session);
        const std::string archiveId = h.vonage().archiveIdFor("ses-e");
        h.server->setMode("fail", 503);
        CPPUNIT_ASSERT_THROW(h.provider->stopRecording(session), ProviderUnavailable);
        CPPUNIT_ASSERT_EQUAL(archiveId, h.vonage().archiveIdFor("ses-e"));
        h.server->setMode("ok");
        h.provider->stopRecording(session);
        CPPUNIT_ASSERT(h.vonage().archiveIdFor("ses-e").empty());
        CPPUNIT_ASSERT_EQUAL(std::string("stopped"),
                             h.server->stats()->getObject("archives")->getObject(archiveId)->getValue<std::string>("status"));
    }

    void closeRoomStopsArchive() {
        Harness h;
        const SessionView session = h.newSession("ses-f");
        h.provider->startRecording(session);
        const std::string archiveId = h.vonage().archiveIdFor("ses-f");
        h.provider->closeRoom(session);
        CPPUNIT_ASSERT(h.vonage().archiveIdFor("ses-f").empty());
        CPPUNIT_ASSERT_EQUAL(std::string("stopped"),
                             h.server->stats()->getObject("archives")->getObject(archiveId)->getValue<std::string>("status"));
    }

    void timeoutIsHonoured() {
        Harness h(Overrides{{"request_timeout_ms", "500"}});
        h.server->setMode("hang", 0, 5);
        SessionView session;
        session.id = "ses-g";
        const auto start = std::chrono::steady_clock::now();
        CPPUNIT_ASSERT_THROW(h.provider->createRoom(session), ProviderUnavailable);
        const auto elapsed = std::chrono::steady_clock::now() - start;
        CPPUNIT_ASSERT(elapsed >= std::chrono::milliseconds(450));
        CPPUNIT_ASSERT(elapsed < std::chrono::milliseconds(2500));
        CPPUNIT_ASSERT(h.provider->health().detail.find("timed out") != std::string::npos);
        CPPUNIT_ASSERT(state(*h.provider) == Health::State::Degraded);
    }

    void clientErrorIsRejected() {
        Harness h;
        h.server->setMode("reject", 400);
        SessionView session;
        session.id = "ses-h";
        try {
            h.provider->createRoom(session);
            CPPUNIT_FAIL("a 400 must throw");
        } catch (const ProviderRejected& rejected) {
            CPPUNIT_ASSERT(std::string(rejected.what()).find("400") != std::string::npos);
        }
        // The API answered: reachable, so not an outage.
        CPPUNIT_ASSERT(state(*h.provider) == Health::State::Healthy);
    }

    void malformedAnswerIsUnavailable() {
        Harness h;
        h.server->setMode("garbage");
        SessionView session;
        session.id = "ses-i";
        CPPUNIT_ASSERT_THROW(h.provider->createRoom(session), ProviderUnavailable);
        h.server->setMode("ok");
        session.providerRoomId = h.provider->createRoom(session).providerRoomId;
        h.server->setMode("garbage");
        CPPUNIT_ASSERT_THROW(h.provider->startRecording(session), ProviderUnavailable);
        CPPUNIT_ASSERT(h.vonage().archiveIdFor("ses-i").empty());
    }

    void wrongKeyIsRefusedByServer() {
        Harness h;
        // A provider signing with another key against the same server.
        TempDir dir;
        VonageProviderFactory factory;
        TestProviderContext context(std::make_unique<KeyValueSettings>(
            factory.settings(),
            Overrides{{"api_base_url", h.server->baseUrl()},
                      {"application_id", kAppId},
                      {"private_key_file", dir.write("other.key", consultd::testing::otherRsaKey().pkcs8)}}));
        const auto provider = factory.create(context);
        SessionView session;
        session.id = "ses-j";
        CPPUNIT_ASSERT_THROW(provider->createRoom(session), ProviderRejected);
        CPPUNIT_ASSERT(provider->health().state == Health::State::Degraded);
        CPPUNIT_ASSERT(provider->health().detail.find("401") != std::string::npos);
        const auto failures = h.server->stats()->getArray("auth_failures");
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, failures->size());
        CPPUNIT_ASSERT(failures->getElement<std::string>(0).find("InvalidSignature") != std::string::npos);
    }

    /// The fake server's own checks must be able to fail, or the tests above prove nothing.
    void serverRefusesReplayedAndForeignTokens() {
        Harness h;
        const VonageSigner signer(kAppId, consultd::testing::sharedRsaKey().pkcs8);
        const VonageSigner foreign("another-app", consultd::testing::sharedRsaKey().pkcs8);
        const std::int64_t now = unixSeconds(std::chrono::system_clock::now());
        const std::string token = signer.appToken(now);
        auto post = [&](const std::string& bearer) {
            Poco::Net::HTTPClientSession session("127.0.0.1", h.server->port());
            session.setTimeout(Poco::Timespan(5, 0));
            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/session/create",
                                           Poco::Net::HTTPMessage::HTTP_1_1);
            const std::string form = "archiveMode=manual&p2p.preference=disabled";
            request.setContentType("application/x-www-form-urlencoded");
            request.setContentLength(static_cast<std::streamsize>(form.size()));
            if (!bearer.empty()) request.set("Authorization", "Bearer " + bearer);
            session.sendRequest(request) << form;
            Poco::Net::HTTPResponse response;
            std::string body;
            Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
            return static_cast<int>(response.getStatus());
        };
        CPPUNIT_ASSERT_EQUAL(200, post(token));
        CPPUNIT_ASSERT_EQUAL(401, post(token));  // replayed jti
        CPPUNIT_ASSERT_EQUAL(401, post(""));
        CPPUNIT_ASSERT_EQUAL(401, post(foreign.appToken(now)));
        CPPUNIT_ASSERT_EQUAL(401, post(signer.appToken(now - 3600)));  // expired
        CPPUNIT_ASSERT_EQUAL(401, post(signer.appToken(now + 3600)));  // issued in the future
        const auto failures = h.server->stats()->getArray("auth_failures");
        CPPUNIT_ASSERT_EQUAL(std::size_t{5}, failures->size());
        CPPUNIT_ASSERT_EQUAL(std::string("jti replayed"), failures->getElement<std::string>(0));
        CPPUNIT_ASSERT_EQUAL(std::string("wrong application_id"), failures->getElement<std::string>(2));
    }

    void tlsVerifiedWithCaFileOnly() {
        Harness trusted(Overrides{}, /*tls=*/true);
        // ca_file must be set after the server wrote its certificate: build a
        // second provider against the same server with and without it.
        const std::string caFile = (trusted.dir.path() / "ca.pem").string();
        VonageProviderFactory factory;
        const std::string key = trusted.dir.write("tls.key", consultd::testing::sharedRsaKey().pkcs8);
        SessionView session;
        session.id = "ses-tls";
        {
            TestProviderContext context(std::make_unique<KeyValueSettings>(
                factory.settings(), Overrides{{"api_base_url", trusted.server->baseUrl()},
                                              {"application_id", kAppId},
                                              {"private_key_file", key},
                                              {"ca_file", caFile}}));
            const auto provider = factory.create(context);
            CPPUNIT_ASSERT(provider->createRoom(session).providerRoomId.rfind("2_MX4", 0) == 0);
        }
        {
            // The system store does not know the self-signed certificate.
            TestProviderContext context(std::make_unique<KeyValueSettings>(
                factory.settings(), Overrides{{"api_base_url", trusted.server->baseUrl()},
                                              {"application_id", kAppId},
                                              {"private_key_file", key}}));
            const auto provider = factory.create(context);
            try {
                provider->createRoom(session);
                CPPUNIT_FAIL("an untrusted certificate must be refused");
            } catch (const ProviderUnavailable& error) {
                CPPUNIT_ASSERT(std::string(error.what()).find("certificate verify failed") != std::string::npos);
            }
        }
        {
            // A trusted certificate that names another host: refused (VERIFY_STRICT
            // checks the name even for a loopback address).
            TempDir otherDir;
            FakeVonageServer misnamed(kAppId, trusted.publicKeyFile, otherDir.path().string(), "vonage.invalid");
            TestProviderContext context(std::make_unique<KeyValueSettings>(
                factory.settings(), Overrides{{"api_base_url", misnamed.baseUrl()},
                                              {"application_id", kAppId},
                                              {"private_key_file", key},
                                              {"ca_file", (otherDir.path() / "ca.pem").string()}}));
            const auto provider = factory.create(context);
            try {
                provider->createRoom(session);
                CPPUNIT_FAIL("a certificate for another name must be refused");
            } catch (const ProviderUnavailable& error) {
                CPPUNIT_ASSERT(std::string(error.what()).find("Unacceptable certificate") != std::string::npos);
            }
        }
    }

    void concurrentCallsAreSafe() {
        Harness h;
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        std::mutex idsMutex;
        std::set<std::string> ids;
        for (int t = 0; t < 6; ++t) {
            threads.emplace_back([&, t] {
                try {
                    for (int i = 0; i < 3; ++i) {
                        const SessionView session = h.newSession("ses-t" + std::to_string(t) + "-" + std::to_string(i));
                        ParticipantView guest{"g-" + std::to_string(t), "G", "", Role::Guest};
                        for (int g = 0; g < 5; ++g) h.provider->issueGrant(session, guest);
                        h.provider->startRecording(session);
                        h.provider->stopRecording(session);
                        std::lock_guard lock(idsMutex);
                        ids.insert(session.providerRoomId);
                    }
                } catch (const std::exception&) {
                    ++failures;
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CPPUNIT_ASSERT_EQUAL(0, failures.load());
        CPPUNIT_ASSERT_EQUAL(std::size_t{18}, ids.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, h.server->stats()->getArray("auth_failures")->size());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(VonageFakeServerTest);
