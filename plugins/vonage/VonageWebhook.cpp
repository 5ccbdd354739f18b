#include "VonageWebhook.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <optional>
#include <sstream>

namespace consultd::vonage {

namespace {

std::string base64Url(const unsigned char* data, std::size_t length) {
    std::string encoded(4 * ((length + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), data, static_cast<int>(length));
    encoded.resize(static_cast<std::size_t>(n));
    while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
    for (auto& c : encoded) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return encoded;
}

/// Decodes unpadded base64url; std::nullopt when malformed.
std::optional<std::string> fromBase64Url(std::string text) {
    if (text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos ||
        text.size() % 4 == 1) {
        return std::nullopt;
    }
    for (auto& c : text) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
    }
    std::size_t padding = 0;
    while (text.size() % 4 != 0) {
        text += '=';
        ++padding;
    }
    std::string out(3 * text.size() / 4, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

std::string hmacSha256Url(const std::string& secret, const std::string& message) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return base64Url(digest, length);
}

std::string sha256Hex(const std::string& data) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned char byte : digest) {
        out += kHex[byte >> 4];
        out += kHex[byte & 0x0f];
    }
    return out;
}

bool constantTimeEqual(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
    try {
        Poco::JSON::Parser parser;
        const auto parsed = parser.parse(text);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) return parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
        // not JSON: the caller decides
    }
    return nullptr;
}

std::string stringField(const Poco::JSON::Object::Ptr& object, const std::string& name) {
    if (!object || !object->has(name) || object->isNull(name)) return {};
    const auto value = object->get(name);
    if (value.isString()) return value.extract<std::string>();
    try {
        return value.convert<std::string>();
    } catch (const Poco::Exception&) {
        return {};
    }
}

std::optional<std::int64_t> intClaim(const Poco::JSON::Object::Ptr& claims, const std::string& name) {
    if (!claims->has(name) || claims->isNull(name)) return std::nullopt;
    const auto value = claims->get(name);
    if (!value.isNumeric() || value.isBoolean()) return std::nullopt;
    try {
        return value.convert<std::int64_t>();
    } catch (const Poco::Exception&) {
        return std::nullopt;
    }
}

std::string stringify(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

/// The consultd event type of an archive status ("" = none).
std::string archiveEventType(const std::string& status, bool hasUrl) {
    if (status == "started") return "recording_started";
    if (status == "paused") return "recording_paused";
    if (status == "stopped") return "recording_stopped";
    if (status == "available") return hasUrl ? "recording_available" : "recording_stored";
    if (status == "uploaded") return "recording_uploaded";
    if (status == "failed") return "recording_failed";
    if (status == "expired") return "recording_expired";
    if (status == "deleted") return "recording_deleted";
    return {};
}

}  // namespace

VonageWebhookVerifier::VonageWebhookVerifier(std::string secret, std::string applicationId,
                                             std::chrono::seconds maxAge)
    : secret_(std::move(secret)), applicationId_(std::move(applicationId)), maxAge_(maxAge) {
    if (secret_.empty()) throw SettingError("webhook_secret_file", "the webhook signature secret is empty");
}

VonageCallbackClaims VonageWebhookVerifier::verify(const std::string& authorization, const std::string& body,
                                                   std::int64_t now) const {
    static const std::string kBearer = "Bearer ";
    if (authorization.empty()) throw WebhookRejected("unsigned request (no Authorization header)");
    if (authorization.compare(0, kBearer.size(), kBearer) != 0) {
        throw WebhookRejected("Authorization is not a Bearer token");
    }
    const std::string token = authorization.substr(kBearer.size());
    const auto firstDot = token.find('.');
    const auto secondDot = firstDot == std::string::npos ? std::string::npos : token.find('.', firstDot + 1);
    if (secondDot == std::string::npos || token.find('.', secondDot + 1) != std::string::npos || token.size() > 8192) {
        throw WebhookRejected("the callback token is not a compact JWS");
    }
    const auto headerText = fromBase64Url(token.substr(0, firstDot));
    const auto header = headerText ? parseObject(*headerText) : nullptr;
    // Only HS256: "none" or an RS256 header must not pick the check.
    if (!header || stringField(header, "alg") != "HS256") throw WebhookRejected("the callback token is not HS256");
    const std::string expected = hmacSha256Url(secret_, token.substr(0, secondDot));
    if (!constantTimeEqual(token.substr(secondDot + 1), expected)) {
        throw WebhookRejected("the callback signature does not match");
    }
    const auto claimsText = fromBase64Url(token.substr(firstDot + 1, secondDot - firstDot - 1));
    const auto claims = claimsText ? parseObject(*claimsText) : nullptr;
    if (!claims) throw WebhookRejected("the callback token's claims are not a JSON object");
    if (stringField(claims, "iss") != "Vonage") throw WebhookRejected("the callback token's iss is not Vonage");
    if (stringField(claims, "application_id") != applicationId_) {
        throw WebhookRejected("the callback token is for another application");
    }
    std::string hash = stringField(claims, "payload_hash");
    std::transform(hash.begin(), hash.end(), hash.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!constantTimeEqual(hash, sha256Hex(body))) {
        throw WebhookRejected("payload_hash does not match the body (tampered or truncated)");
    }
    const auto iat = intClaim(claims, "iat");
    if (!iat) throw WebhookRejected("the callback token has no integer iat");
    if (now - *iat > maxAge_.count() || *iat - now > maxAge_.count()) {
        throw WebhookRejected("the callback token's iat is " + std::to_string(now - *iat) + " s from now (limit " +
                              std::to_string(maxAge_.count()) + " s)");
    }
    if (const auto exp = intClaim(claims, "exp"); exp && *exp <= now) {
        throw WebhookRejected("the callback token has expired");
    }
    VonageCallbackClaims result;
    result.iat = *iat;
    result.jti = stringField(claims, "jti");
    if (result.jti.empty() || result.jti.size() > 200) throw WebhookRejected("the callback token has no usable jti");
    return result;
}

std::vector<ProviderEvent> VonageWebhookVerifier::translate(const std::string& body) const {
    const auto payload = parseObject(body);
    if (!payload) throw ProviderRejected("the Vonage callback body is not a JSON object");
    std::string name = stringField(payload, "event");
    // Archive callbacks carry the archive JSON; some servers omit "event".
    if (name.empty() && payload->has("status") && payload->has("id")) name = "archive";

    ProviderEvent event;
    event.providerRoomId = stringField(payload, "sessionId");
    if (event.providerRoomId.empty()) return {};
    Poco::JSON::Object data;
    data.set("vonage_event", name);
    const std::string timestamp = stringField(payload, "timestamp");
    if (!timestamp.empty()) data.set("provider_timestamp_ms", timestamp);
    const auto connection = payload->getObject("connection");
    const auto stream = payload->getObject("stream");

    if (name == "connectionCreated" || name == "connectionDestroyed") {
        if (!connection) return {};
        event.type = name == "connectionCreated" ? "participant_joined" : "participant_left";
        const std::string connectionId = stringField(connection, "id");
        data.set("connection_id", connectionId);
        // connection.data is the token's connection_data: {"participant_id", "name"}.
        if (const auto who = parseObject(stringField(connection, "data"))) {
            event.participantId = stringField(who, "participant_id");
        }
        const std::string reason = stringField(payload, "reason");
        if (!reason.empty()) data.set("reason", reason);
        event.idempotencyKey = name + ":" + connectionId;
    } else if (name == "streamCreated" || name == "streamDestroyed") {
        if (!stream) return {};
        event.type = name == "streamCreated" ? "stream_started" : "stream_stopped";
        const std::string streamId = stringField(stream, "id");
        data.set("stream_id", streamId);
        data.set("video_type", stringField(stream, "videoType"));
        if (const auto owner = stream->getObject("connection")) {
            if (const auto who = parseObject(stringField(owner, "data"))) {
                event.participantId = stringField(who, "participant_id");
            }
        }
        const std::string reason = stringField(payload, "reason");
        if (!reason.empty()) data.set("reason", reason);
        event.idempotencyKey = name + ":" + streamId;
    } else if (name == "sessionCreated" || name == "sessionDestroyed") {
        event.type = name == "sessionCreated" ? "room_created" : "room_ended";
        event.idempotencyKey = name + ":" + event.providerRoomId + ":" + timestamp;
    } else if (name == "archive") {
        const std::string status = stringField(payload, "status");
        const std::string url = stringField(payload, "url");
        event.type = archiveEventType(status, !url.empty());
        if (event.type.empty()) return {};
        const std::string archiveId = stringField(payload, "id");
        data.set("provider_recording_id", archiveId);
        data.set("status", status);
        if (!url.empty() && event.type == "recording_available") data.set("download_url", url);
        if (const auto size = intClaim(payload, "size")) data.set("size_bytes", *size);
        if (const auto duration = intClaim(payload, "duration")) data.set("duration_seconds", *duration);
        const std::string reason = stringField(payload, "reason");
        if (!reason.empty()) data.set("reason", reason);
        if (status == "failed") event.severity = "error";
        event.idempotencyKey = "archive:" + archiveId + ":" + status;
    } else {
        return {};
    }
    event.dataJson = stringify(data);
    return {event};
}

std::string signVonageCallback(const std::string& secret, const std::string& applicationId, const std::string& body,
                               std::int64_t iat, const std::string& jti) {
    Poco::JSON::Object header(Poco::JSON_PRESERVE_KEY_ORDER);
    header.set("alg", "HS256");
    header.set("typ", "JWT");
    Poco::JSON::Object claims(Poco::JSON_PRESERVE_KEY_ORDER);
    claims.set("iat", iat);
    claims.set("jti", jti);
    claims.set("iss", "Vonage");
    claims.set("payload_hash", sha256Hex(body));
    claims.set("api_key", "consultd-test");
    claims.set("application_id", applicationId);
    const std::string h = stringify(header);
    const std::string c = stringify(claims);
    const std::string signingInput = base64Url(reinterpret_cast<const unsigned char*>(h.data()), h.size()) + "." +
                                     base64Url(reinterpret_cast<const unsigned char*>(c.data()), c.size());
    return signingInput + "." + hmacSha256Url(secret, signingInput);
}

}  // namespace consultd::vonage
