#include "JaasTokenBuilder.h"

#include "ConfigChecks.h"
#include "JwtClaims.h"
#include "RoleFeatures.h"
#include "RoomName.h"
#include "Settings.h"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/SharedPtr.h>

#include <algorithm>
#include <sstream>
#include <utility>

namespace consultd::jitsi {

namespace {

constexpr std::string_view kAppIdPrefix = "vpaas-magic-cookie-";
constexpr std::size_t kAppIdHexDigits = 32;
/// NIST SP 800-131A: RSA keys below 2048 bits are not acceptable for signatures.
constexpr int kMinRsaKeyBits = 2048;

bool contains(const std::string& text, std::string_view needle) {
    return text.find(needle) != std::string::npos;
}

Poco::SharedPtr<Poco::Crypto::RSAKey> parsePrivateKey(const std::string& pem) {
    // OpenSSL would ask for a passphrase on the controlling terminal, which
    // hangs `consultd --check-config` run by hand; refuse encrypted keys first.
    if (contains(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(pem, "Proc-Type: 4,ENCRYPTED")) {
        throw SettingError(setting::kPrivateKeyFile,
                           "the private key is encrypted; store it unencrypted in a file only "
                           "consultd can read (openssl pkey -in encrypted.pem -out key.pem)");
    }
    if (!contains(pem, "-----BEGIN PRIVATE KEY-----") && !contains(pem, "-----BEGIN RSA PRIVATE KEY-----")) {
        throw SettingError(setting::kPrivateKeyFile,
                           "is not a PEM private key (expected BEGIN PRIVATE KEY or BEGIN RSA "
                           "PRIVATE KEY; the public key goes to the JaaS console, not here)");
    }
    std::istringstream privateKeyStream(pem);
    Poco::SharedPtr<Poco::Crypto::RSAKey> key;
    try {
        // A non-empty passphrase is handed to OpenSSL as the password itself,
        // so it never falls back to prompting even for a key form not caught above.
        key = Poco::makeShared<Poco::Crypto::RSAKey>(static_cast<std::istream*>(nullptr),
                                                     &privateKeyStream, std::string("-"));
    } catch (const Poco::Exception&) {
        // OpenSSL's own message adds nothing an admin can act on.
        throw SettingError(setting::kPrivateKeyFile,
                           "does not hold a readable RSA private key (PKCS#8 or traditional PEM)");
    }
    if (key->size() * 8 < kMinRsaKeyBits) {
        throw SettingError(setting::kPrivateKeyFile, "the RSA key must have at least 2048 bits");
    }
    return key;
}

JaasConfig validated(JaasConfig config) {
    if (!isJaasAppId(config.appId)) {
        throw SettingError(setting::kAppId,
                           "must be the JaaS AppID: vpaas-magic-cookie- followed by 32 lower-case "
                           "hex digits");
    }
    if (config.apiKeyId.rfind(config.appId + "/", 0) == 0) {
        throw SettingError(setting::kApiKeyId,
                           "must be the key id alone, without the \"<AppID>/\" prefix");
    }
    requirePlainToken(setting::kApiKeyId, config.apiKeyId);
    setting::requireTokenTtl(config.ttl);
    return config;
}

}  // namespace

bool isJaasAppId(std::string_view appId) noexcept {
    if (appId.size() != kAppIdPrefix.size() + kAppIdHexDigits) return false;
    if (appId.substr(0, kAppIdPrefix.size()) != kAppIdPrefix) return false;
    const std::string_view hex = appId.substr(kAppIdPrefix.size());
    return std::all_of(hex.begin(), hex.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

JaasTokenBuilder::JaasTokenBuilder(JaasConfig config)
    : config_(validated(std::move(config))),
      kid_(config_.appId + "/" + config_.apiKeyId),
      signer_(parsePrivateKey(config_.privateKeyPem)) {
    // The parsed key lives in the signer; no reason to keep the PEM text around.
    config_.privateKeyPem.clear();
    config_.privateKeyPem.shrink_to_fit();
}

std::string JaasTokenBuilder::signToken(std::string_view room, const ParticipantView& participant,
                                        std::int64_t now, std::int64_t& expiresAt) const {
    const RoleFeatures features = featuresForRole(participant.role);

    Poco::JWT::Token token = newJitsiToken();
    token.header().set("kid", kid_);
    token.setAudience(std::string("jitsi"));
    token.setIssuer(std::string("chat"));
    token.setSubject(config_.appId);
    token.payload().set("room", std::string(room));
    expiresAt = setValidity(token, now, config_.ttl);

    Poco::JSON::Object::Ptr user = userClaim(participant);
    // JaaS wants the string, not a JSON boolean.
    user->set("moderator", std::string(features.moderator ? "true" : "false"));

    setContextClaim(token, user, featuresClaim(features));

    return signer_.sign(token, Poco::JWT::Signer::ALGO_RS256);
}

JoinGrant JaasTokenBuilder::buildGrant(const SessionView& session,
                                       const ParticipantView& participant,
                                       std::chrono::system_clock::time_point now) const {
    requireSafeRoomName(session.roomName);
    if (participant.id.empty()) throw ProviderRejected("participant id is empty");

    JoinGrant grant;
    // The `room` claim is the bare name; the client addresses it under the AppID.
    grant.token = signToken(session.roomName, participant, unixSeconds(now), grant.expiresAt);
    grant.room = config_.appId + "/" + session.roomName;
    const std::string base = std::string("https://") + kJaasDomain + "/";
    grant.joinUrl = base + grant.room + "?jwt=" + grant.token;
    grant.client = {
        {"domain", kJaasDomain},
        {"roomName", grant.room},
        {"scriptUrl", base + config_.appId + "/external_api.js"},
        {"appId", config_.appId},
        {"mode", modeName(session.mode)},
    };
    return grant;
}

}  // namespace consultd::jitsi
