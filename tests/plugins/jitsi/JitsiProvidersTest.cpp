// The two providers and their factories as the daemon sees them: declared
// settings, creation from a validated settings view, grants with ICE servers
// and the context's clock, rooms, capabilities, health, concurrency, and
// that nothing secret reaches the log.
#include "ClaimAsserts.h"
#include "JaasProvider.h"
#include "JitsiProvider.h"
#include "KeyValueSettings.h"
#include "TestProviderContext.h"
#include "TestSupport.h"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/JWT/Signer.h>
#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <set>
#include <sstream>
#include <thread>

using namespace consultd;
using namespace consultd::jitsi;
using namespace consultd::testing;

namespace {

const std::string kSecret = "f00dfeed" "f00dfeed" "f00dfeed" "f00dfeed" "-secret";
const std::string kAppId = "vpaas-magic-cookie-fedcba9876543210fedcba9876543210";
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1800000000));

std::unique_ptr<TestProviderContext> contextFor(const ProviderFactory& factory,
                                                std::map<std::string, std::string> values) {
    return std::make_unique<TestProviderContext>(
        std::make_unique<KeyValueSettings>(factory.settings(), std::move(values)), [] { return kNow; });
}

SessionView session() {
    SessionView view;
    view.id = "ses_42";
    view.roomName = "consult-42";
    return view;
}

ParticipantView participant(Role role) {
    ParticipantView p;
    p.id = std::string("id-") + roleName(role);
    p.name = "Dr. Who";
    p.role = role;
    return p;
}

const SettingSpec& findSpec(const std::vector<SettingSpec>& specs, const std::string& name) {
    for (const SettingSpec& spec : specs) {
        if (spec.name == name) return spec;
    }
    CPPUNIT_FAIL("setting not declared: " + name);
    throw std::logic_error("unreachable");
}

}  // namespace

class JitsiProvidersTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JitsiProvidersTest);
    CPPUNIT_TEST(settingsAreDeclaredAndDescribed);
    CPPUNIT_TEST(jitsiProviderIssuesGrantsWithIceServersAndContextTime);
    CPPUNIT_TEST(jaasProviderIssuesGrantsWithIceServersAndContextTime);
    CPPUNIT_TEST(defaultsApplyWhenOptionalSettingsAreUnset);
    CPPUNIT_TEST(rejectedGrantMintsNoTurnCredentials);
    CPPUNIT_TEST(roomsAreTheRoomName);
    CPPUNIT_TEST(capabilitiesAndHealth);
    CPPUNIT_TEST(createReportsBadSettingsBySettingName);
    CPPUNIT_TEST(logNeverContainsSecretsOrTokens);
    CPPUNIT_TEST(concurrentGrantsAreAllValid);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override {
        dir_ = std::make_unique<TempDir>();
        secretFile_ = dir_->write("jitsi.secret", kSecret + "\n");
        keyFile_ = dir_->write("jaas.pem", sharedRsaKey().pkcs8);
    }
    void tearDown() override { dir_.reset(); }

    void settingsAreDeclaredAndDescribed() {
        const JitsiProviderFactory jitsiFactory;
        const JaasProviderFactory jaasFactory;
        CPPUNIT_ASSERT_EQUAL(std::string("jitsi"), jitsiFactory.name());
        CPPUNIT_ASSERT_EQUAL(std::string("jaas"), jaasFactory.name());
        for (const ProviderFactory* factory : {static_cast<const ProviderFactory*>(&jitsiFactory),
                                               static_cast<const ProviderFactory*>(&jaasFactory)}) {
            std::set<std::string> names;
            for (const SettingSpec& spec : factory->settings()) {
                CPPUNIT_ASSERT_MESSAGE(spec.name, !spec.description.empty());
                CPPUNIT_ASSERT_MESSAGE(spec.name + " declared twice", names.insert(spec.name).second);
                CPPUNIT_ASSERT_MESSAGE(spec.name + " is the daemon's", spec.name != "enabled");
                CPPUNIT_ASSERT_MESSAGE(spec.name + " is required and has a default",
                                       !(spec.required && !spec.defaultValue.empty()));
            }
        }
        const auto jitsi = jitsiFactory.settings();
        CPPUNIT_ASSERT_EQUAL(std::size_t(7), jitsi.size());
        CPPUNIT_ASSERT(findSpec(jitsi, "domain").required);
        CPPUNIT_ASSERT(findSpec(jitsi, "app_id").required);
        CPPUNIT_ASSERT(findSpec(jitsi, "app_secret_file").required);
        CPPUNIT_ASSERT(findSpec(jitsi, "app_secret_file").type == SettingType::SecretFile);
        CPPUNIT_ASSERT_EQUAL(std::string(""), findSpec(jitsi, "issuer").defaultValue);
        CPPUNIT_ASSERT_EQUAL(std::string("jitsi"), findSpec(jitsi, "audience").defaultValue);
        CPPUNIT_ASSERT_EQUAL(std::string(""), findSpec(jitsi, "tenant").defaultValue);
        const auto jaas = jaasFactory.settings();
        CPPUNIT_ASSERT_EQUAL(std::size_t(6), jaas.size());
        CPPUNIT_ASSERT(findSpec(jaas, "app_id").required);
        CPPUNIT_ASSERT(findSpec(jaas, "api_key_id").required);
        CPPUNIT_ASSERT(findSpec(jaas, "private_key_file").type == SettingType::SecretFile);
        // Webhooks are optional: no secret, no webhooks.
        CPPUNIT_ASSERT(findSpec(jaas, "webhook_secret_file").type == SettingType::SecretFile);
        CPPUNIT_ASSERT(!findSpec(jaas, "webhook_secret_file").required);
        CPPUNIT_ASSERT_EQUAL(std::string("300"), findSpec(jaas, "webhook_tolerance_seconds").defaultValue);
        for (const auto* specs : {&jitsi, &jaas}) {
            const SettingSpec& ttl = findSpec(*specs, "token_ttl_seconds");
            CPPUNIT_ASSERT(ttl.type == SettingType::Int);
            CPPUNIT_ASSERT_EQUAL(std::string("5400"), ttl.defaultValue);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(60), ttl.min);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(86400), ttl.max);
        }
    }

    void jitsiProviderIssuesGrantsWithIceServersAndContextTime() {
        const JitsiProviderFactory factory;
        const auto context = contextFor(factory, {{"domain", "meet.example.org"},
                                                  {"app_id", "consultd"},
                                                  {"app_secret_file", secretFile_},
                                                  {"token_ttl_seconds", "120"}});
        const auto provider = factory.create(*context);
        CPPUNIT_ASSERT_EQUAL(std::string("jitsi"), provider->name());
        const JoinGrant grant = provider->issueGrant(session(), participant(Role::Host));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1800000120), grant.expiresAt);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), grant.iceServers.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ses_42:id-host"), grant.iceServers[1].username);
        // The trailing newline of the secret file is not part of the key.
        Poco::JWT::Signer signer(kSecret);
        const Poco::JWT::Token token = signer.verify(grant.token);
        CPPUNIT_ASSERT_EQUAL(std::string("consult-42"), token.payload().getValue<std::string>("room"));
        const DecodedJwt jwt = decodeJwt(grant.token);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1800000000), integerClaim(jwt.payload, "iat"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1800000120), integerClaim(jwt.payload, "exp"));
    }

    void jaasProviderIssuesGrantsWithIceServersAndContextTime() {
        const JaasProviderFactory factory;
        const auto context = contextFor(factory, {{"app_id", kAppId},
                                                  {"api_key_id", "key-1"},
                                                  {"private_key_file", keyFile_}});
        const auto provider = factory.create(*context);
        CPPUNIT_ASSERT_EQUAL(std::string("jaas"), provider->name());
        const JoinGrant grant = provider->issueGrant(session(), participant(Role::Patient));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1800000000 + 5400), grant.expiresAt);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), grant.iceServers.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ses_42:id-patient"), grant.iceServers[1].username);
        const DecodedJwt jwt = decodeJwt(grant.token);
        CPPUNIT_ASSERT_EQUAL(kAppId + "/key-1", stringClaim(jwt.header, "kid"));
        CPPUNIT_ASSERT_EQUAL(std::string("consult-42"), stringClaim(jwt.payload, "room"));
        CPPUNIT_ASSERT_EQUAL("https://8x8.vc/" + kAppId + "/consult-42?jwt=" + grant.token, grant.joinUrl);
    }

    void defaultsApplyWhenOptionalSettingsAreUnset() {
        const JitsiProviderFactory factory;
        const auto context = contextFor(factory, {{"domain", "meet.example.org"},
                                                  {"app_id", "my-app"},
                                                  {"app_secret_file", secretFile_}});
        const auto provider = factory.create(*context);
        const DecodedJwt jwt = decodeJwt(provider->issueGrant(session(), participant(Role::Guest)).token);
        CPPUNIT_ASSERT_EQUAL(std::string("my-app"), stringClaim(jwt.payload, "iss"));
        CPPUNIT_ASSERT_EQUAL(std::string("jitsi"), stringClaim(jwt.payload, "aud"));
        CPPUNIT_ASSERT_EQUAL(std::string("meet.example.org"), stringClaim(jwt.payload, "sub"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1800000000 + 5400), integerClaim(jwt.payload, "exp"));
    }

    void rejectedGrantMintsNoTurnCredentials() {
        const JitsiProviderFactory factory;
        const auto context = contextFor(factory, {{"domain", "meet.example.org"},
                                                  {"app_id", "consultd"},
                                                  {"app_secret_file", secretFile_}});
        const auto provider = factory.create(*context);
        SessionView bad = session();
        bad.roomName = "Room With Spaces";
        CPPUNIT_ASSERT_THROW(provider->issueGrant(bad, participant(Role::Host)), ProviderRejected);
        CPPUNIT_ASSERT_THROW(provider->issueGrant(session(), participant(Role::Recorder)), ProviderRejected);
        CPPUNIT_ASSERT_EQUAL(0, context->iceServerRequests());
    }

    void roomsAreTheRoomName() {
        const JitsiProviderFactory jitsiFactory;
        const auto jitsiContext = contextFor(jitsiFactory, {{"domain", "meet.example.org"},
                                                            {"app_id", "consultd"},
                                                            {"app_secret_file", secretFile_}});
        const JaasProviderFactory jaasFactory;
        const auto jaasContext = contextFor(jaasFactory, {{"app_id", kAppId},
                                                          {"api_key_id", "key-1"},
                                                          {"private_key_file", keyFile_}});
        for (const auto& provider : {jitsiFactory.create(*jitsiContext), jaasFactory.create(*jaasContext)}) {
            CPPUNIT_ASSERT_EQUAL(std::string("consult-42"), provider->createRoom(session()).providerRoomId);
            SessionView bad = session();
            bad.roomName = "consult/../42";
            CPPUNIT_ASSERT_THROW(provider->createRoom(bad), ProviderRejected);
            provider->closeRoom(session());  // nothing to close; must not throw
        }
    }

    void capabilitiesAndHealth() {
        const JitsiProviderFactory jitsiFactory;
        const auto jitsiContext = contextFor(jitsiFactory, {{"domain", "meet.example.org"},
                                                            {"app_id", "consultd"},
                                                            {"app_secret_file", secretFile_}});
        const auto jitsi = jitsiFactory.create(*jitsiContext);
        const Capabilities jc = jitsi->capabilities();
        CPPUNIT_ASSERT(jc.video && jc.voiceOnly && jc.chat && jc.screenShare);
        CPPUNIT_ASSERT(!jc.recording && !jc.webhooks);
        CPPUNIT_ASSERT(jitsi->health().state == Health::State::Healthy);
        CPPUNIT_ASSERT_THROW(jitsi->startRecording(session()), ProviderRejected);

        const JaasProviderFactory jaasFactory;
        const auto jaasContext = contextFor(jaasFactory, {{"app_id", kAppId},
                                                          {"api_key_id", "key-1"},
                                                          {"private_key_file", keyFile_}});
        const auto jaas = jaasFactory.create(*jaasContext);
        const Capabilities ac = jaas->capabilities();
        CPPUNIT_ASSERT(ac.video && ac.voiceOnly && ac.chat && ac.screenShare && ac.recording);
        CPPUNIT_ASSERT(!ac.webhooks);
        CPPUNIT_ASSERT(jaas->health().state == Health::State::Healthy);
        CPPUNIT_ASSERT_THROW(jaas->startRecording(session()), ProviderRejected);
        CPPUNIT_ASSERT_THROW(jaas->stopRecording(session()), ProviderRejected);
        CPPUNIT_ASSERT_THROW(jaas->handleWebhook(WebhookRequest{}), WebhookRejected);
    }

    void createReportsBadSettingsBySettingName() {
        auto failing = [](const ProviderFactory& factory, std::map<std::string, std::string> values) {
            try {
                const auto context = contextFor(factory, std::move(values));
                factory.create(*context);
            } catch (const SettingError& error) {
                return error.setting();
            }
            return std::string("<created>");
        };
        const JaasProviderFactory jaas;
        CPPUNIT_ASSERT_EQUAL(std::string("app_id"),
                             failing(jaas, {{"app_id", "vpaas-magic-cookie-123"},
                                            {"api_key_id", "key-1"},
                                            {"private_key_file", keyFile_}}));
        const std::string garbage = dir_->write("garbage.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
        CPPUNIT_ASSERT_EQUAL(std::string("private_key_file"),
                             failing(jaas, {{"app_id", kAppId}, {"api_key_id", "k"}, {"private_key_file", garbage}}));
        CPPUNIT_ASSERT_EQUAL(std::string("private_key_file"),
                             failing(jaas, {{"app_id", kAppId},
                                            {"api_key_id", "k"},
                                            {"private_key_file", (dir_->path() / "missing.pem").string()}}));
        const JitsiProviderFactory jitsi;
        const std::string shortSecret = dir_->write("short.secret", "too-short\n");
        CPPUNIT_ASSERT_EQUAL(std::string("app_secret_file"),
                             failing(jitsi, {{"domain", "meet.example.org"},
                                             {"app_id", "consultd"},
                                             {"app_secret_file", shortSecret}}));
        CPPUNIT_ASSERT_EQUAL(std::string("domain"),
                             failing(jitsi, {{"domain", "https://meet.example.org/"},
                                             {"app_id", "consultd"},
                                             {"app_secret_file", secretFile_}}));
        CPPUNIT_ASSERT_EQUAL(std::string("<created>"),
                             failing(jitsi, {{"domain", "meet.example.org"},
                                             {"app_id", "consultd"},
                                             {"app_secret_file", secretFile_}}));
    }

    void logNeverContainsSecretsOrTokens() {
        const JitsiProviderFactory jitsiFactory;
        const auto jitsiContext = contextFor(jitsiFactory, {{"domain", "meet.example.org"},
                                                            {"app_id", "consultd"},
                                                            {"app_secret_file", secretFile_}});
        const JaasProviderFactory jaasFactory;
        const auto jaasContext = contextFor(jaasFactory, {{"app_id", kAppId},
                                                          {"api_key_id", "key-1"},
                                                          {"private_key_file", keyFile_}});
        std::vector<std::string> secrets{kSecret, "MII"};  // "MII": any base64 DER key material
        for (auto* context : {jitsiContext.get(), jaasContext.get()}) {
            const ProviderFactory& factory = context == jitsiContext.get()
                                                 ? static_cast<const ProviderFactory&>(jitsiFactory)
                                                 : static_cast<const ProviderFactory&>(jaasFactory);
            const auto provider = factory.create(*context);
            for (Role role : {Role::Host, Role::Patient}) {
                const JoinGrant grant = provider->issueGrant(session(), participant(role));
                secrets.push_back(grant.token.substr(grant.token.rfind('.') + 1));
            }
            CPPUNIT_ASSERT_MESSAGE("provider logs its configuration", !context->logLines().empty());
            for (const std::string& line : context->logLines()) {
                for (const std::string& secret : secrets) {
                    CPPUNIT_ASSERT_MESSAGE("secret in log: " + line, line.find(secret) == std::string::npos);
                }
            }
        }
    }

    void concurrentGrantsAreAllValid() {
        const JaasProviderFactory jaasFactory;
        const auto jaasContext = contextFor(jaasFactory, {{"app_id", kAppId},
                                                          {"api_key_id", "key-1"},
                                                          {"private_key_file", keyFile_}});
        const JitsiProviderFactory jitsiFactory;
        const auto jitsiContext = contextFor(jitsiFactory, {{"domain", "meet.example.org"},
                                                            {"app_id", "consultd"},
                                                            {"app_secret_file", secretFile_}});
        const auto jaas = jaasFactory.create(*jaasContext);
        const auto jitsi = jitsiFactory.create(*jitsiContext);
        std::atomic<int> failures{0};
        std::vector<std::vector<std::string>> jaasTokens(4);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 25; ++i) {
                    ParticipantView p = participant(i % 2 ? Role::Host : Role::Guest);
                    p.id = "t" + std::to_string(t) + "-" + std::to_string(i);
                    try {
                        jaasTokens[static_cast<std::size_t>(t)].push_back(jaas->issueGrant(session(), p).token);
                        const JoinGrant b = jitsi->issueGrant(session(), p);
                        Poco::JWT::Signer hs(kSecret);
                        const auto user = hs.verify(b.token).payload().getObject("context")->getObject("user");
                        if (user->getValue<std::string>("id") != p.id) ++failures;
                    } catch (const std::exception&) {
                        ++failures;
                    }
                }
            });
        }
        for (auto& thread : threads) thread.join();
        // RS256 signatures made concurrently must all verify.
        std::istringstream publicPem(sharedRsaKey().publicKey);
        Poco::JWT::Signer rs(Poco::makeShared<Poco::Crypto::RSAKey>(&publicPem));
        rs.setAlgorithms({Poco::JWT::Signer::ALGO_RS256});
        std::size_t verified = 0;
        for (const auto& tokens : jaasTokens) {
            for (const std::string& token : tokens) {
                Poco::JWT::Token parsed;
                if (rs.tryVerify(token, parsed)) ++verified;
            }
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(100), verified);
        CPPUNIT_ASSERT_EQUAL(0, failures.load());
    }

private:
    std::unique_ptr<TempDir> dir_;
    std::string secretFile_;
    std::string keyFile_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(JitsiProvidersTest);
