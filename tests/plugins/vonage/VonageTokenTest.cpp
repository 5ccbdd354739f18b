// Unit tests of the vonage plugin's code without dlopen() and without a
// server: the JWT signer (claim set, types, signature), role mapping,
// connection data, settings validation, the provider's grants, and the
// REST client's URL policy and outage handling against a closed port.
#include "KeyValueSettings.h"
#include "TestProviderContext.h"
#include "TestSupport.h"

#include "VonageJwt.h"
#include "VonageProvider.h"
#include "VonageRestClient.h"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JWT/Signer.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/RegularExpression.h>

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>

using namespace consultd;
using namespace consultd::vonage;
using consultd::testing::decodeJwt;
using consultd::testing::KeyValueSettings;
using consultd::testing::TempDir;
using consultd::testing::TestProviderContext;

namespace {

using Overrides = std::map<std::string, std::string>;
constexpr const char* kAppId = "4c5e6a7b-1d2e-4f30-8a9b-0c1d2e3f4a5b";
constexpr std::int64_t kNow = 1795000000;

std::chrono::system_clock::time_point fixedNow() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
}

std::set<std::string> keysOf(const Poco::JSON::Object::Ptr& object) {
    std::set<std::string> keys;
    for (const auto& entry : *object) keys.insert(entry.first);
    return keys;
}

bool isInteger(const Poco::JSON::Object::Ptr& object, const std::string& key) {
    const Poco::Dynamic::Var value = object->get(key);
    return value.isInteger() && !value.isBoolean();
}

bool isString(const Poco::JSON::Object::Ptr& object, const std::string& key) {
    return object->get(key).isString();
}

bool isUuidV4(const std::string& text) {
    static const Poco::RegularExpression uuid(
        "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    return uuid.match(text);
}

/// Verifies an RS256 signature with `publicPem`; returns false on mismatch.
bool verifiesWith(const std::string& token, const std::string& publicPem) {
    std::istringstream publicStream(publicPem);
    Poco::JWT::Signer verifier(Poco::makeShared<Poco::Crypto::RSAKey>(&publicStream));
    verifier.setAlgorithms({Poco::JWT::Signer::ALGO_RS256});
    Poco::JWT::Token decoded;
    return verifier.tryVerify(token, decoded);
}

ParticipantView participant(Role role, std::string id = "p-1", std::string name = "Dr. Émile \"Q\" Smith") {
    ParticipantView p;
    p.id = std::move(id);
    p.name = std::move(name);
    p.email = "emile@example.org";
    p.role = role;
    return p;
}

/// A provider built the way the daemon does, from key=value settings.
struct ProviderFixture {
    TempDir dir;
    std::unique_ptr<TestProviderContext> context;
    std::unique_ptr<Provider> provider;

    explicit ProviderFixture(std::map<std::string, std::string> overrides = {}) {
        std::map<std::string, std::string> values{
            {"application_id", kAppId},
            {"private_key_file", dir.write("private.key", consultd::testing::sharedRsaKey().pkcs8)},
        };
        for (auto& [key, value] : overrides) values[key] = value;
        VonageProviderFactory factory;
        context = std::make_unique<TestProviderContext>(
            std::make_unique<KeyValueSettings>(factory.settings(), values), fixedNow);
        provider = factory.create(*context);
    }
};

/// The SettingError's setting when building with `overrides`, "" when none was thrown.
std::string settingErrorFor(std::map<std::string, std::string> overrides) {
    try {
        ProviderFixture fixture(std::move(overrides));
    } catch (const SettingError& error) {
        return error.setting();
    }
    return {};
}

/// A loopback port with nothing listening (bound then closed).
Poco::UInt16 closedLoopbackPort() {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    const Poco::UInt16 port = socket.address().port();
    socket.close();
    return port;
}

}  // namespace

class VonageTokenTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VonageTokenTest);
    CPPUNIT_TEST(roleMapping);
    CPPUNIT_TEST(connectionDataIsJsonWithIdAndName);
    CPPUNIT_TEST(connectionDataLongNameIsShortenedAtCharacterBoundary);
    CPPUNIT_TEST(connectionDataRefusesOversizedId);
    CPPUNIT_TEST(clientTokenHasExactClaimSet);
    CPPUNIT_TEST(clientTokenSignatureVerifiesOnlyWithOurKey);
    CPPUNIT_TEST(appTokenHasExactClaimSet);
    CPPUNIT_TEST(jtiIsFreshUuidV4);
    CPPUNIT_TEST(settingsErrorsNameTheSetting);
    CPPUNIT_TEST(baseUrlPolicy);
    CPPUNIT_TEST(grantPerModeAndRole);
    CPPUNIT_TEST(grantWithoutProviderSessionIsUnavailable);
    CPPUNIT_TEST(recorderIsRejected);
    CPPUNIT_TEST(stopWithoutArchiveIsRejected);
    CPPUNIT_TEST(unreachableApiIsUnavailableAndHealthDegrades);
    CPPUNIT_TEST(healthStates);
    CPPUNIT_TEST_SUITE_END();

public:
    void roleMapping() {
        CPPUNIT_ASSERT_EQUAL(std::string("moderator"), vonageRoleFor(Role::Host));
        CPPUNIT_ASSERT_EQUAL(std::string("publisher"), vonageRoleFor(Role::Patient));
        CPPUNIT_ASSERT_EQUAL(std::string("publisher"), vonageRoleFor(Role::Guest));
        CPPUNIT_ASSERT_EQUAL(std::string("publisher"), vonageRoleFor(Role::Device));
        CPPUNIT_ASSERT_THROW(vonageRoleFor(Role::Recorder), ProviderRejected);
    }

    void connectionDataIsJsonWithIdAndName() {
        const std::string data = connectionDataFor(participant(Role::Patient, "pat-7", "Ana \"B\" Ç"));
        Poco::JSON::Parser parser;
        const auto object = parser.parse(data).extract<Poco::JSON::Object::Ptr>();
        CPPUNIT_ASSERT((keysOf(object) == std::set<std::string>{"participant_id", "name"}));
        CPPUNIT_ASSERT_EQUAL(std::string("pat-7"), object->getValue<std::string>("participant_id"));
        CPPUNIT_ASSERT_EQUAL(std::string("Ana \"B\" Ç"), object->getValue<std::string>("name"));
        CPPUNIT_ASSERT_THROW(connectionDataFor(participant(Role::Patient, "")), ProviderRejected);
    }

    void connectionDataLongNameIsShortenedAtCharacterBoundary() {
        std::string name;
        for (int i = 0; i < 600; ++i) name += "é";  // 1200 bytes
        const std::string data = connectionDataFor(participant(Role::Guest, "g-1", name));
        CPPUNIT_ASSERT(data.size() <= kMaxConnectionDataChars);
        CPPUNIT_ASSERT(data.size() > kMaxConnectionDataChars - 10);
        Poco::JSON::Parser parser;
        const auto object = parser.parse(data).extract<Poco::JSON::Object::Ptr>();
        const std::string shortened = object->getValue<std::string>("name");
        CPPUNIT_ASSERT(!shortened.empty());
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, shortened.size() % 2);  // whole 2-byte characters only
        CPPUNIT_ASSERT_EQUAL(0, name.compare(0, shortened.size(), shortened));
        CPPUNIT_ASSERT_EQUAL(std::string("g-1"), object->getValue<std::string>("participant_id"));
    }

    void connectionDataRefusesOversizedId() {
        CPPUNIT_ASSERT_THROW(connectionDataFor(participant(Role::Guest, std::string(990, 'x'))), ProviderRejected);
    }

    void clientTokenHasExactClaimSet() {
        const VonageSigner signer(kAppId, consultd::testing::sharedRsaKey().pkcs8);
        ClientTokenClaims claims{"1_MX4xMjM0NX5-fakesession", "moderator",
                                 R"({"name":"N","participant_id":"p"})", ""};
        std::int64_t expiresAt = 0;
        const std::string token = signer.clientToken(claims, kNow, std::chrono::seconds(86400), expiresAt);
        CPPUNIT_ASSERT_EQUAL(kNow + 86400, expiresAt);

        const auto jwt = decodeJwt(token);
        CPPUNIT_ASSERT((keysOf(jwt.header) == std::set<std::string>{"alg", "typ"}));
        CPPUNIT_ASSERT_EQUAL(std::string("RS256"), jwt.header->getValue<std::string>("alg"));
        CPPUNIT_ASSERT_EQUAL(std::string("JWT"), jwt.header->getValue<std::string>("typ"));

        const auto& p = jwt.payload;
        CPPUNIT_ASSERT((keysOf(p) == std::set<std::string>{"scope", "session_id", "role",
                                                            "initial_layout_class_list", "exp", "sub", "acl",
                                                            "connection_data", "jti", "iat", "application_id"}));
        CPPUNIT_ASSERT_EQUAL(std::string("session.connect"), p->getValue<std::string>("scope"));
        CPPUNIT_ASSERT_EQUAL(claims.sessionId, p->getValue<std::string>("session_id"));
        CPPUNIT_ASSERT_EQUAL(std::string("moderator"), p->getValue<std::string>("role"));
        CPPUNIT_ASSERT(isString(p, "initial_layout_class_list"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), p->getValue<std::string>("initial_layout_class_list"));
        CPPUNIT_ASSERT(isInteger(p, "exp") && isInteger(p, "iat"));
        CPPUNIT_ASSERT_EQUAL(static_cast<Poco::Int64>(kNow), p->getValue<Poco::Int64>("iat"));
        CPPUNIT_ASSERT_EQUAL(static_cast<Poco::Int64>(kNow + 86400), p->getValue<Poco::Int64>("exp"));
        CPPUNIT_ASSERT_EQUAL(std::string("video"), p->getValue<std::string>("sub"));
        CPPUNIT_ASSERT(isString(p, "connection_data"));
        CPPUNIT_ASSERT_EQUAL(claims.connectionData, p->getValue<std::string>("connection_data"));
        CPPUNIT_ASSERT_EQUAL(std::string(kAppId), p->getValue<std::string>("application_id"));
        CPPUNIT_ASSERT(isUuidV4(p->getValue<std::string>("jti")));
        // acl is exactly {"paths":{"/session/**":{}}} (the raw JSON keeps types).
        const auto acl = p->getObject("acl");
        CPPUNIT_ASSERT(acl);
        CPPUNIT_ASSERT((keysOf(acl) == std::set<std::string>{"paths"}));
        const auto paths = acl->getObject("paths");
        CPPUNIT_ASSERT(paths);
        CPPUNIT_ASSERT((keysOf(paths) == std::set<std::string>{"/session/**"}));
        const auto sessionPath = paths->getObject("/session/**");
        CPPUNIT_ASSERT(sessionPath);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, sessionPath->size());
    }

    void clientTokenSignatureVerifiesOnlyWithOurKey() {
        const VonageSigner signer(kAppId, consultd::testing::sharedRsaKey().traditional);
        std::int64_t expiresAt = 0;
        const std::string token =
            signer.clientToken({"s", "publisher", "{}", ""}, kNow, std::chrono::seconds(60), expiresAt);
        CPPUNIT_ASSERT(verifiesWith(token, consultd::testing::sharedRsaKey().publicKey));
        CPPUNIT_ASSERT(!verifiesWith(token, consultd::testing::otherRsaKey().publicKey));
        std::string tampered = token;
        // A different base64url character inside the signature (not the last,
        // whose low bits may be padding).
        char& c = tampered[tampered.size() - 5];
        c = c == 'A' ? 'B' : 'A';
        CPPUNIT_ASSERT(!verifiesWith(tampered, consultd::testing::sharedRsaKey().publicKey));
        CPPUNIT_ASSERT_THROW(signer.clientToken({"", "publisher", "{}", ""}, kNow, std::chrono::seconds(60), expiresAt),
                             ProviderRejected);
    }

    void appTokenHasExactClaimSet() {
        const VonageSigner signer(kAppId, consultd::testing::sharedRsaKey().pkcs8);
        const std::string token = signer.appToken(kNow);
        CPPUNIT_ASSERT(verifiesWith(token, consultd::testing::sharedRsaKey().publicKey));
        const auto jwt = decodeJwt(token);
        CPPUNIT_ASSERT((keysOf(jwt.header) == std::set<std::string>{"alg", "typ"}));
        CPPUNIT_ASSERT_EQUAL(std::string("RS256"), jwt.header->getValue<std::string>("alg"));
        CPPUNIT_ASSERT_EQUAL(std::string("JWT"), jwt.header->getValue<std::string>("typ"));
        CPPUNIT_ASSERT((keysOf(jwt.payload) == std::set<std::string>{"application_id", "iat", "exp", "jti"}));
        CPPUNIT_ASSERT(isInteger(jwt.payload, "iat") && isInteger(jwt.payload, "exp"));
        CPPUNIT_ASSERT_EQUAL(static_cast<Poco::Int64>(kNow), jwt.payload->getValue<Poco::Int64>("iat"));
        CPPUNIT_ASSERT_EQUAL(static_cast<Poco::Int64>(kNow + kAppTokenTtlSeconds),
                             jwt.payload->getValue<Poco::Int64>("exp"));
        CPPUNIT_ASSERT_EQUAL(std::string(kAppId), jwt.payload->getValue<std::string>("application_id"));
        CPPUNIT_ASSERT(isUuidV4(jwt.payload->getValue<std::string>("jti")));
    }

    void jtiIsFreshUuidV4() {
        std::set<std::string> seen;
        for (int i = 0; i < 200; ++i) {
            const std::string jti = newJti();
            CPPUNIT_ASSERT(isUuidV4(jti));
            CPPUNIT_ASSERT(seen.insert(jti).second);
        }
    }

    void settingsErrorsNameTheSetting() {
        CPPUNIT_ASSERT_EQUAL(std::string(), settingErrorFor({}));
        CPPUNIT_ASSERT_EQUAL(std::string("application_id"), settingErrorFor({{"application_id", "a/../b"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("application_id"), settingErrorFor({{"application_id", "a b"}}));
        TempDir keys;
        const auto& key = consultd::testing::sharedRsaKey();
        CPPUNIT_ASSERT_EQUAL(std::string("private_key_file"),
                             settingErrorFor({{"private_key_file", keys.write("enc.pem", consultd::testing::encryptedPkcs8Pem(key))}}));
        CPPUNIT_ASSERT_EQUAL(std::string("private_key_file"),
                             settingErrorFor({{"private_key_file", keys.write("pub.pem", key.publicKey)}}));
        CPPUNIT_ASSERT_EQUAL(std::string("private_key_file"),
                             settingErrorFor({{"private_key_file", keys.write("ec.pem", consultd::testing::ecPrivateKeyPem())}}));
        CPPUNIT_ASSERT_EQUAL(std::string("private_key_file"),
                             settingErrorFor({{"private_key_file", keys.write("short.pem", consultd::testing::generateRsaKey(1024).pkcs8)}}));
        CPPUNIT_ASSERT_EQUAL(std::string("token_ttl_seconds"), settingErrorFor({{"token_ttl_seconds", "2592001"}}));
        CPPUNIT_ASSERT_EQUAL(std::string(), settingErrorFor({{"token_ttl_seconds", "2592000"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("request_timeout_ms"), settingErrorFor({{"request_timeout_ms", "10"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("archive_mode"), settingErrorFor({{"archive_mode", "sometimes"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("media_mode"), settingErrorFor({{"media_mode", "p2p"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("archive_mode"),
                             settingErrorFor({{"archive_mode", "always"}, {"media_mode", "relayed"}}));
        CPPUNIT_ASSERT_EQUAL(std::string(), settingErrorFor({{"archive_mode", "always"}, {"media_mode", "routed"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("ca_file"), settingErrorFor({{"ca_file", "/nonexistent/ca.pem"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("ca_file"), settingErrorFor({{"ca_file", keys.write("junk.pem", "not a cert")}}));
    }

    void baseUrlPolicy() {
        CPPUNIT_ASSERT_EQUAL(std::string(), settingErrorFor({{"api_base_url", "https://video.api.vonage.com"}}));
        CPPUNIT_ASSERT_EQUAL(std::string(), settingErrorFor({{"api_base_url", "https://vonage.example.org:8443/video/"}}));
        CPPUNIT_ASSERT_EQUAL(std::string(), settingErrorFor({{"api_base_url", "http://127.0.0.1:8080"}}));
        CPPUNIT_ASSERT_EQUAL(std::string(), settingErrorFor({{"api_base_url", "http://localhost:8080"}}));
        CPPUNIT_ASSERT_EQUAL(std::string(), settingErrorFor({{"api_base_url", "http://[::1]:8080"}}));
        for (const char* bad : {"http://video.api.vonage.com", "http://10.0.0.5", "ftp://127.0.0.1",
                                "https://user:pw@video.api.vonage.com", "https://video.api.vonage.com/?x=1",
                                "https://video.api.vonage.com/#f", "video.api.vonage.com", "https://"}) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(bad, std::string("api_base_url"), settingErrorFor({{"api_base_url", bad}}));
        }
        CPPUNIT_ASSERT(isLoopbackHost("127.0.0.1"));
        CPPUNIT_ASSERT(isLoopbackHost("127.8.9.1"));
        CPPUNIT_ASSERT(isLoopbackHost("::1"));
        CPPUNIT_ASSERT(isLoopbackHost("LOCALHOST"));
        CPPUNIT_ASSERT(!isLoopbackHost("10.0.0.1"));
        CPPUNIT_ASSERT(!isLoopbackHost("localhost.example.org"));
        ProviderFixture fixture(Overrides{{"api_base_url", "https://vonage.example.org:8443/video/"}});
        CPPUNIT_ASSERT_EQUAL(std::string("https://vonage.example.org:8443/video"),
                             dynamic_cast<VonageProvider&>(*fixture.provider).restClient().baseUrl());
    }

    void grantPerModeAndRole() {
        ProviderFixture fixture(Overrides{{"token_ttl_seconds", "3600"}});
        SessionView session;
        session.id = "ses-1";
        session.providerRoomId = "2_MX4xMjM0NX5-opaque==";
        for (Mode mode : {Mode::Video, Mode::Voice, Mode::Chat}) {
            session.mode = mode;
            for (Role role : {Role::Host, Role::Patient, Role::Guest, Role::Device}) {
                const JoinGrant grant = fixture.provider->issueGrant(session, participant(role, "p-x", "Name"));
                CPPUNIT_ASSERT_EQUAL(kNow + 3600, grant.expiresAt);
                CPPUNIT_ASSERT_EQUAL(session.providerRoomId, grant.room);
                CPPUNIT_ASSERT(!grant.iceServers.empty());
                CPPUNIT_ASSERT(grant.joinUrl.find(grant.token) == std::string::npos);
                CPPUNIT_ASSERT_EQUAL(std::string(kAppId), grant.client.at("application_id"));
                CPPUNIT_ASSERT_EQUAL(session.providerRoomId, grant.client.at("session_id"));
                CPPUNIT_ASSERT_EQUAL(std::string(kDefaultBase()), grant.client.at("api_base_url"));
                CPPUNIT_ASSERT_EQUAL(std::string(modeName(mode)), grant.client.at("mode"));
                CPPUNIT_ASSERT_EQUAL(std::string(mode == Mode::Video ? "true" : "false"),
                                     grant.client.at("publish_video"));
                CPPUNIT_ASSERT_EQUAL(std::string(mode == Mode::Chat ? "false" : "true"),
                                     grant.client.at("publish_audio"));
                const auto jwt = decodeJwt(grant.token);
                CPPUNIT_ASSERT_EQUAL(vonageRoleFor(role), jwt.payload->getValue<std::string>("role"));
                CPPUNIT_ASSERT_EQUAL(session.providerRoomId, jwt.payload->getValue<std::string>("session_id"));
                CPPUNIT_ASSERT_EQUAL(connectionDataFor(participant(role, "p-x", "Name")),
                                     jwt.payload->getValue<std::string>("connection_data"));
            }
        }
        // Nothing a provider logs may carry a token.
        for (const std::string& line : fixture.context->logLines()) {
            CPPUNIT_ASSERT(line.find("eyJ") == std::string::npos);
        }
    }

    void grantWithoutProviderSessionIsUnavailable() {
        ProviderFixture fixture;
        SessionView session;
        session.id = "ses-2";
        CPPUNIT_ASSERT_THROW(fixture.provider->issueGrant(session, participant(Role::Host)), ProviderUnavailable);
        CPPUNIT_ASSERT_THROW(fixture.provider->startRecording(session), ProviderUnavailable);
        CPPUNIT_ASSERT_EQUAL(0, fixture.context->iceServerRequests());
    }

    void recorderIsRejected() {
        ProviderFixture fixture;
        SessionView session;
        session.id = "ses-3";
        session.providerRoomId = "room";
        CPPUNIT_ASSERT_THROW(fixture.provider->issueGrant(session, participant(Role::Recorder)), ProviderRejected);
        CPPUNIT_ASSERT_EQUAL(0, fixture.context->iceServerRequests());
    }

    void stopWithoutArchiveIsRejected() {
        ProviderFixture fixture;
        SessionView session;
        session.id = "ses-4";
        session.providerRoomId = "room";
        CPPUNIT_ASSERT_THROW(fixture.provider->stopRecording(session), ProviderRejected);
        fixture.provider->closeRoom(session);  // nothing to stop: no network, no throw
    }

    void unreachableApiIsUnavailableAndHealthDegrades() {
        const std::string base = "http://127.0.0.1:" + std::to_string(closedLoopbackPort());
        ProviderFixture fixture(Overrides{{"api_base_url", base}, {"request_timeout_ms", "2000"}});
        CPPUNIT_ASSERT(fixture.provider->health().state == Health::State::Healthy);
        SessionView session;
        session.id = "ses-5";
        CPPUNIT_ASSERT_THROW(fixture.provider->createRoom(session), ProviderUnavailable);
        CPPUNIT_ASSERT(fixture.provider->health().state == Health::State::Degraded);
        CPPUNIT_ASSERT_THROW(fixture.provider->createRoom(session), ProviderUnavailable);
        CPPUNIT_ASSERT_THROW(fixture.provider->createRoom(session), ProviderUnavailable);
        CPPUNIT_ASSERT(fixture.provider->health().state == Health::State::Unavailable);
    }

    void healthStates() {
        UpstreamHealth health;
        CPPUNIT_ASSERT(health.current().state == Health::State::Healthy);
        health.recordFailure("x");
        CPPUNIT_ASSERT(health.current().state == Health::State::Degraded);
        health.recordFailure("x");
        CPPUNIT_ASSERT(health.current().state == Health::State::Degraded);
        health.recordFailure("boom");
        CPPUNIT_ASSERT(health.current().state == Health::State::Unavailable);
        CPPUNIT_ASSERT(health.current().detail.find("boom") != std::string::npos);
        health.recordSuccess();
        CPPUNIT_ASSERT(health.current().state == Health::State::Healthy);
        health.recordAuthFailure("401");
        CPPUNIT_ASSERT(health.current().state == Health::State::Degraded);
        health.recordSuccess();
        CPPUNIT_ASSERT(health.current().state == Health::State::Healthy);
    }

private:
    static const char* kDefaultBase() { return "https://video.api.vonage.com"; }
};

CPPUNIT_TEST_SUITE_REGISTRATION(VonageTokenTest);
