#include "JwtClaims.h"

#include <Poco/Types.h>

#include <string>

namespace consultd::jitsi {

std::int64_t unixSeconds(std::chrono::system_clock::time_point time) noexcept {
    return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

Poco::JWT::Token newJitsiToken() {
    Poco::JWT::Token token;
    token.header().set("typ", std::string("JWT"));
    return token;
}

std::int64_t setValidity(Poco::JWT::Token& token, std::int64_t now, std::chrono::seconds ttl) {
    const std::int64_t expiresAt = now + ttl.count();
    // Poco::Int64 so Poco::Dynamic::Var serialises an integer, never a double.
    token.payload().set(Poco::JWT::Token::CLAIM_ISSUED_AT, static_cast<Poco::Int64>(now));
    token.payload().set(Poco::JWT::Token::CLAIM_NOT_BEFORE,
                        static_cast<Poco::Int64>(now - kNotBeforeSkewSeconds));
    token.payload().set(Poco::JWT::Token::CLAIM_EXPIRATION, static_cast<Poco::Int64>(expiresAt));
    return expiresAt;
}

Poco::JSON::Object::Ptr userClaim(const ParticipantView& participant) {
    auto user = Poco::makeShared<Poco::JSON::Object>();
    user->set("id", participant.id);
    user->set("name", participant.name);
    user->set("email", participant.role == Role::Host ? participant.email : std::string());
    user->set("avatar", std::string());
    return user;
}

void setContextClaim(Poco::JWT::Token& token, Poco::JSON::Object::Ptr user, Poco::JSON::Object::Ptr features) {
    auto context = Poco::makeShared<Poco::JSON::Object>();
    context->set("user", user);
    context->set("features", features);
    token.payload().set("context", context);
}

}  // namespace consultd::jitsi
