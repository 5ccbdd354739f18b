#include "VonageJwt.h"

#include "Settings.h"

#include <Poco/Crypto/RSAKey.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JWT/Token.h>
#include <Poco/SharedPtr.h>
#include <Poco/Types.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <sstream>
#include <utility>

namespace consultd::vonage {

namespace {

/// NIST SP 800-131A: RSA keys below 2048 bits are not acceptable for signatures.
constexpr int kMinRsaKeyBits = 2048;
constexpr std::size_t kMaxApplicationIdChars = 128;

bool contains(const std::string& text, const char* needle) {
    return text.find(needle) != std::string::npos;
}

/// The application id goes into REST paths (/v2/project/{id}/archive) and
/// JWT claims: letters, digits, '-', '_' and '.' only, so it can neither
/// smuggle a path segment nor need escaping. Vonage's own ids are UUIDs.
std::string validApplicationId(std::string applicationId) {
    const bool plain = std::all_of(applicationId.begin(), applicationId.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.';
    });
    if (applicationId.empty() || applicationId.size() > kMaxApplicationIdChars || !plain ||
        applicationId.find("..") != std::string::npos) {
        throw SettingError(setting::kApplicationId,
                           "must be the Vonage application id (1-128 letters, digits, '-', '_' or '.')");
    }
    return applicationId;
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
                           "is not a PEM private key (expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY, "
                           "as in the private.key file the Vonage dashboard downloads)");
    }
    std::istringstream privateKeyStream(pem);
    Poco::SharedPtr<Poco::Crypto::RSAKey> key;
    try {
        // A non-empty passphrase is handed to OpenSSL as the password itself,
        // so it never falls back to prompting for a key form not caught above.
        key = Poco::makeShared<Poco::Crypto::RSAKey>(static_cast<std::istream*>(nullptr), &privateKeyStream,
                                                     std::string("-"));
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

/// Poco::JWT 1.11 never writes the header `typ`, which the API expects.
Poco::JWT::Token newToken() {
    Poco::JWT::Token token;
    token.header().set("typ", std::string("JWT"));
    return token;
}

/// Number of bytes of the longest prefix of `text` with at most `bytes`
/// bytes that does not cut a UTF-8 sequence.
std::size_t utf8Prefix(const std::string& text, std::size_t bytes) {
    if (bytes >= text.size()) return text.size();
    // Step back over continuation bytes (10xxxxxx) to a character start.
    while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
    return bytes;
}

std::string connectionJson(const std::string& participantId, const std::string& name) {
    Poco::JSON::Object object;
    object.set("participant_id", participantId);
    object.set("name", name);
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

}  // namespace

std::int64_t unixSeconds(std::chrono::system_clock::time_point time) noexcept {
    return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

std::string newJti() {
    // createRandom() is a version 4 UUID from Poco::RandomInputStream (the
    // kernel's CSPRNG); UUIDGenerator is internally locked.
    return Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
}

std::string vonageRoleFor(Role role) {
    switch (role) {
    case Role::Host:
        return "moderator";
    case Role::Patient:
    case Role::Guest:
    case Role::Device:
        return "publisher";
    case Role::Recorder:
        break;
    }
    throw ProviderRejected("the vonage provider records through the Vonage archive API; it issues no "
                           "grant for a recorder participant");
}

std::string connectionDataFor(const ParticipantView& participant) {
    if (participant.id.empty()) throw ProviderRejected("participant id is empty");
    std::string text = connectionJson(participant.id, participant.name);
    if (text.size() <= kMaxConnectionDataChars) return text;
    if (connectionJson(participant.id, "").size() > kMaxConnectionDataChars) {
        throw ProviderRejected("participant id is too long for Vonage connection data (1000 characters)");
    }
    // Escaping makes the JSON length non-linear in the name: shorten until it fits.
    std::string name = participant.name;
    while (text.size() > kMaxConnectionDataChars && !name.empty()) {
        const std::size_t excess = text.size() - kMaxConnectionDataChars;
        name.resize(utf8Prefix(name, name.size() > excess ? name.size() - excess : 0));
        text = connectionJson(participant.id, name);
    }
    return text;
}

VonageSigner::VonageSigner(std::string applicationId, const std::string& privateKeyPem)
    : applicationId_(validApplicationId(std::move(applicationId))), signer_(parsePrivateKey(privateKeyPem)) {}

std::string VonageSigner::appToken(std::int64_t now) const {
    Poco::JWT::Token token = newToken();
    // Poco::Int64 so Poco::Dynamic::Var serialises integers; Poco's own
    // setIssuedAt()/setExpiration() write fractional seconds.
    token.payload().set("application_id", applicationId_);
    token.payload().set("iat", static_cast<Poco::Int64>(now));
    token.payload().set("exp", static_cast<Poco::Int64>(now + kAppTokenTtlSeconds));
    token.payload().set("jti", newJti());
    return signer_.sign(token, Poco::JWT::Signer::ALGO_RS256);
}

std::string VonageSigner::clientToken(const ClientTokenClaims& claims, std::int64_t now, std::chrono::seconds ttl,
                                      std::int64_t& expiresAt) const {
    if (claims.sessionId.empty()) throw ProviderRejected("no Vonage session id for the client token");
    if (claims.connectionData.size() > kMaxConnectionDataChars) {
        throw ProviderRejected("connection data exceeds 1000 characters");
    }
    expiresAt = now + ttl.count();

    auto paths = Poco::makeShared<Poco::JSON::Object>();
    paths->set("/session/**", Poco::makeShared<Poco::JSON::Object>());
    auto acl = Poco::makeShared<Poco::JSON::Object>();
    acl->set("paths", paths);

    Poco::JWT::Token token = newToken();
    Poco::JSON::Object& payload = token.payload();
    payload.set("scope", std::string("session.connect"));
    payload.set("session_id", claims.sessionId);
    payload.set("role", claims.role);
    payload.set("initial_layout_class_list", claims.initialLayoutClassList);
    payload.set("exp", static_cast<Poco::Int64>(expiresAt));
    payload.set("sub", std::string("video"));
    payload.set("acl", acl);
    payload.set("connection_data", claims.connectionData);
    payload.set("jti", newJti());
    payload.set("iat", static_cast<Poco::Int64>(now));
    payload.set("application_id", applicationId_);
    return signer_.sign(token, Poco::JWT::Signer::ALGO_RS256);
}

}  // namespace consultd::vonage
