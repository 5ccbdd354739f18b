// plugins/webrtc's provider against a test context: what a grant carries.
#include "WebrtcProvider.h"

#include <cppunit/extensions/HelperMacros.h>

#include <map>

using namespace consultd;

namespace {

class Settings final : public ProviderSettings {
public:
    std::map<std::string, std::string> values{{"token_ttl_seconds", "600"}, {"ice_transport_policy", "relay"}};
    bool getBool(const std::string&) const override { return false; }
    std::int64_t getInt(const std::string& n) const override { return std::stoll(values.at(n)); }
    std::string getString(const std::string& n) const override { return values.at(n); }
    std::vector<std::string> getStringList(const std::string&) const override { return {}; }
    std::string readSecret(const std::string& n) const override { throw SettingError(n, "no secrets here"); }
    std::string secretPath(const std::string&) const override { return {}; }
};

class Context final : public ProviderContext {
public:
    Settings values;
    std::string url = "wss://consult.example:8443/api/v1/signal";
    mutable std::int64_t askedExpiry = 0;
    mutable std::string mintedFor;
    const ProviderSettings& settings() const override { return values; }
    void log(LogLevel, const std::string&) const override {}
    std::chrono::system_clock::time_point now() const override {
        return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
    }
    std::vector<IceServer> iceServersFor(const std::string& s, const std::string& p) const override {
        return {{{"turn:consult.example:3478?transport=udp"}, "1800003600:" + s + ":" + p, "cred"}};
    }
    std::string publicUrl() const override { return "https://consult.example:8443"; }
    std::string signalingUrl() const override { return url; }
    std::string mintSignalingToken(const SessionView& s, const ParticipantView& p, std::int64_t expiresAt) const override {
        askedExpiry = expiresAt;
        mintedFor = s.id + "/" + p.id + "/" + roleName(p.role);
        // A real HS256 JWT shape with exp 1800000300 (the daemon capped the lifetime).
        return "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAzMDB9.c2ln";
    }
};

}  // namespace

class WebrtcProviderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WebrtcProviderTest);
    CPPUNIT_TEST(grantCarriesSignalingTokenAndIce);
    CPPUNIT_TEST(noSignalingIsUnavailable);
    CPPUNIT_TEST(badPolicyIsASettingError);
    CPPUNIT_TEST_SUITE_END();

public:
    void grantCarriesSignalingTokenAndIce() {
        Context context;
        webrtc::WebrtcProviderFactory factory;
        auto provider = factory.create(context);
        CPPUNIT_ASSERT_EQUAL(std::string("webrtc"), provider->name());
        const auto caps = provider->capabilities();
        CPPUNIT_ASSERT(caps.video && caps.voiceOnly && caps.chat && caps.screenShare && caps.recording);
        SessionView session;
        session.id = "ses_abc";
        session.roomName = "ses-abc";
        ParticipantView who;
        who.id = "dr-1";
        who.role = Role::Host;
        const auto grant = provider->issueGrant(session, who);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_abc/dr-1/host"), context.mintedFor);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1'800'000'600}, context.askedExpiry);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1'800'000'300}, grant.expiresAt);  // the token's own exp
        CPPUNIT_ASSERT_EQUAL(context.url, grant.joinUrl);
        CPPUNIT_ASSERT_EQUAL(context.url, grant.client.at("signaling_url"));
        CPPUNIT_ASSERT_EQUAL(std::string("relay"), grant.client.at("ice_transport_policy"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, grant.iceServers.size());
        CPPUNIT_ASSERT(grant.iceServers[0].username.find("ses_abc:dr-1") != std::string::npos);
        CPPUNIT_ASSERT(!grant.token.empty());
        CPPUNIT_ASSERT(grant.joinUrl.find(grant.token) == std::string::npos);  // never in the URL
    }

    void noSignalingIsUnavailable() {
        Context context;
        context.url.clear();
        webrtc::WebrtcProvider provider(context);
        CPPUNIT_ASSERT_THROW(provider.issueGrant(SessionView{}, ParticipantView{}), ProviderUnavailable);
        CPPUNIT_ASSERT(provider.health().state == Health::State::Unavailable);
    }

    void badPolicyIsASettingError() {
        Context context;
        context.values.values["ice_transport_policy"] = "nope";
        CPPUNIT_ASSERT_THROW(webrtc::WebrtcProvider{context}, SettingError);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WebrtcProviderTest);
