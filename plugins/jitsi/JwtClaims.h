#pragma once
/// Claim helpers shared by the HS256 (self-hosted) and RS256 (JaaS) builders.
///
/// Poco::JWT 1.11 needs two corrections for Jitsi: it never writes the header
/// `typ` (prosody's luajwtjitsi rejects a token without `typ: "JWT"`), and its
/// setIssuedAt()/setNotBefore()/setExpiration() write fractional doubles
/// (`1795444792.502702`) where RFC 7519 and Jitsi expect integer seconds.

#include "consultd/provider.h"

#include <Poco/JSON/Object.h>
#include <Poco/JWT/Token.h>

#include <chrono>
#include <cstdint>

namespace consultd::jitsi {

/// How far `nbf` lies before `iat`: prosody checks nbf with no leeway, so a
/// server clock a few seconds behind ours must still accept a fresh token.
inline constexpr std::int64_t kNotBeforeSkewSeconds = 10;

/// Whole Unix seconds (truncated) of `time`.
std::int64_t unixSeconds(std::chrono::system_clock::time_point time) noexcept;

/// An empty token whose header already carries `typ: "JWT"`; Signer::sign()
/// adds `alg`.
Poco::JWT::Token newJitsiToken();

/// Sets `iat` = now, `nbf` = now - kNotBeforeSkewSeconds and `exp` = now + ttl,
/// all as JSON integers. Returns `exp`.
std::int64_t setValidity(Poco::JWT::Token& token, std::int64_t now, std::chrono::seconds ttl);

/// `context.user` for `participant`: id, name, email and avatar, all strings
/// (the Jitsi client breaks on null or numbers). Only the host's (staff)
/// email is filled in: tokens carry no patient data beyond id and display
/// name, and a guest's or patient's email is exactly that. No avatar URL is
/// known to consultd, so `avatar` is always "".
Poco::JSON::Object::Ptr userClaim(const ParticipantView& participant);

/// Sets `context` = {user, features}, the shape both Jitsi flavours read.
void setContextClaim(Poco::JWT::Token& token, Poco::JSON::Object::Ptr user, Poco::JSON::Object::Ptr features);

}  // namespace consultd::jitsi
