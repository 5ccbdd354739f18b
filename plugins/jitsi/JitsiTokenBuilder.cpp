#include "JitsiTokenBuilder.h"

#include "ConfigChecks.h"
#include "JwtClaims.h"
#include "RoleFeatures.h"
#include "RoomName.h"
#include "Settings.h"

#include <Poco/JSON/Object.h>

#include <utility>

namespace consultd::jitsi {

namespace {

/// RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits).
constexpr std::size_t kMinSecretBytes = 32;

JitsiConfig normalised(JitsiConfig config) {
    config.domain = toLowerAscii(config.domain);
    requireHostAndPort(setting::kDomain, config.domain);
    requirePlainToken(setting::kAppId, config.appId);
    if (config.appSecret.size() < kMinSecretBytes) {
        throw SettingError(setting::kAppSecretFile,
                           "the secret must be at least 32 bytes (e.g. `openssl rand -hex 32`)");
    }
    if (config.issuer.empty()) config.issuer = config.appId;
    requirePlainToken(setting::kIssuer, config.issuer);
    requirePlainToken(setting::kAudience, config.audience);
    if (!config.tenant.empty()) {
        // Prosody compares `sub` lower-cased with the tenant path segment.
        config.tenant = toLowerAscii(config.tenant);
        if (!isSafeRoomName(config.tenant)) {
            throw SettingError(setting::kTenant, "must be 1-64 characters of [a-z0-9-]");
        }
    }
    setting::requireTokenTtl(config.ttl);
    return config;
}

}  // namespace

JitsiTokenBuilder::JitsiTokenBuilder(JitsiConfig config)
    : config_(normalised(std::move(config))),
      subject_(config_.tenant.empty() ? std::string(hostPart(config_.domain)) : config_.tenant),
      signer_(config_.appSecret) {}

std::string JitsiTokenBuilder::signToken(std::string_view room, const ParticipantView& participant,
                                         std::int64_t now, std::int64_t& expiresAt) const {
    const RoleFeatures features = featuresForRole(participant.role);

    Poco::JWT::Token token = newJitsiToken();
    token.setIssuer(config_.issuer);
    token.setAudience(config_.audience);  // a single string: prosody rejects an array
    token.setSubject(subject_);
    token.payload().set("room", std::string(room));
    expiresAt = setValidity(token, now, config_.ttl);

    Poco::JSON::Object::Ptr user = userClaim(participant);
    // Read by the token_affiliation prosody module; upstream prosody ignores
    // it and Jicofo decides. "member" is explicit so a non-host never
    // inherits ownership from a permissive default.
    user->set("moderator", std::string(features.moderator ? "true" : "false"));
    user->set("affiliation", std::string(features.moderator ? "owner" : "member"));

    setContextClaim(token, user, featuresClaim(features));

    return signer_.sign(token, Poco::JWT::Signer::ALGO_HS256);
}

JoinGrant JitsiTokenBuilder::buildGrant(const SessionView& session,
                                        const ParticipantView& participant,
                                        std::chrono::system_clock::time_point now) const {
    requireSafeRoomName(session.roomName);
    if (participant.id.empty()) throw ProviderRejected("participant id is empty");

    JoinGrant grant;
    grant.token = signToken(session.roomName, participant, unixSeconds(now), grant.expiresAt);

    const std::string tenantPrefix = config_.tenant.empty() ? std::string() : config_.tenant + "/";
    grant.room = tenantPrefix + session.roomName;
    // The token is base64url plus dots, so it needs no escaping in a query.
    grant.joinUrl = "https://" + config_.domain + "/" + grant.room + "?jwt=" + grant.token;
    grant.client = {
        {"domain", config_.domain},
        {"roomName", grant.room},
        {"scriptUrl", "https://" + config_.domain + "/external_api.js"},
        {"mode", modeName(session.mode)},
    };
    return grant;
}

}  // namespace consultd::jitsi
