#include "JaasWebhook.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <map>
#include <sstream>

namespace consultd::jitsi {

namespace {

std::string trim(const std::string& text) {
    std::size_t begin = 0;
    std::size_t end = text.size();
    while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
    while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    return text.substr(begin, end - begin);
}

bool constantTimeEqual(const std::string& a, const std::string& b) {
    // The length of a base64 HMAC-SHA256 is public (44); only the bytes are secret.
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string stringify(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

std::string stringField(const Poco::JSON::Object::Ptr& object, const std::string& name) {
    if (!object || !object->has(name) || object->isNull(name)) return {};
    const auto value = object->get(name);
    return value.isString() ? value.extract<std::string>() : value.convert<std::string>();
}

/// JaaS event type -> consultd event type ("" = not recorded).
std::string eventTypeFor(const std::string& jaasType) {
    static const std::map<std::string, std::string> kTypes = {
        {"ROOM_CREATED", "room_created"},
        {"ROOM_DESTROYED", "room_ended"},
        {"PARTICIPANT_JOINED", "participant_joined"},
        {"PARTICIPANT_LEFT", "participant_left"},
        {"PARTICIPANT_JOINED_LOBBY", "participant_joined_lobby"},
        {"PARTICIPANT_LEFT_LOBBY", "participant_left_lobby"},
        {"RECORDING_STARTED", "recording_started"},
        {"RECORDING_ENDED", "recording_stopped"},
        {"RECORDING_UPLOADED", "recording_available"},
        {"TRANSCRIPTION_UPLOADED", "transcription_available"},
        {"LIVE_STREAM_STARTED", "live_stream_started"},
        {"LIVE_STREAM_ENDED", "live_stream_ended"},
    };
    const auto found = kTypes.find(jaasType);
    return found == kTypes.end() ? std::string() : found->second;
}

}  // namespace

JaasSignatureHeader parseJaasSignatureHeader(const std::string& header) {
    JaasSignatureHeader parsed;
    bool haveTimestamp = false;
    std::size_t start = 0;
    while (start <= header.size()) {
        const std::size_t comma = header.find(',', start);
        const std::string element = trim(header.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        start = comma == std::string::npos ? header.size() + 1 : comma + 1;
        const std::size_t equals = element.find('=');
        if (equals == std::string::npos) continue;
        const std::string key = element.substr(0, equals);
        const std::string value = element.substr(equals + 1);
        if (key == "t") {
            if (value.empty() || value.size() > 12 ||
                value.find_first_not_of("0123456789") != std::string::npos) {
                throw WebhookRejected("X-Jaas-Signature: t is not a Unix time");
            }
            parsed.timestamp = std::stoll(value);
            haveTimestamp = true;
        } else if (key == "v1" && !value.empty() && value.size() <= 128) {
            parsed.v1.push_back(value);
        }
    }
    if (!haveTimestamp) throw WebhookRejected("X-Jaas-Signature: no t");
    if (parsed.v1.empty()) throw WebhookRejected("X-Jaas-Signature: no v1 signature");
    return parsed;
}

std::string jaasSignature(const std::string& secret, std::int64_t timestamp, const std::string& body) {
    const std::string message = std::to_string(timestamp) + "." + body;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    std::string encoded(4 * ((length + 2) / 3), '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), digest, static_cast<int>(length));
    return encoded;
}

JaasWebhookVerifier::JaasWebhookVerifier(std::string secret, std::string appId, std::chrono::seconds tolerance)
    : secret_(std::move(secret)), appId_(std::move(appId)), tolerance_(tolerance) {
    if (secret_.empty()) throw SettingError("webhook_secret_file", "the webhook secret is empty");
}

std::string JaasWebhookVerifier::verify(const std::string& signatureHeader, const std::string& body,
                                        std::int64_t now) const {
    if (signatureHeader.empty()) throw WebhookRejected("unsigned request (no X-Jaas-Signature header)");
    const JaasSignatureHeader header = parseJaasSignatureHeader(signatureHeader);
    const std::int64_t skew = now - header.timestamp;
    if (skew > tolerance_.count() || -skew > tolerance_.count()) {
        throw WebhookRejected("signature timestamp is " + std::to_string(skew) + " s away from now (tolerance " +
                              std::to_string(tolerance_.count()) + " s)");
    }
    const std::string expected = jaasSignature(secret_, header.timestamp, body);
    // Every v1 is compared (no early exit on a match), so the time taken does
    // not tell which one matched.
    std::string matched;
    for (const auto& candidate : header.v1) {
        if (constantTimeEqual(candidate, expected) && matched.empty()) matched = candidate;
    }
    if (matched.empty()) throw WebhookRejected("signature does not match the body");
    return matched;
}

std::vector<ProviderEvent> JaasWebhookVerifier::translate(const std::string& body) const {
    Poco::JSON::Object::Ptr envelope;
    try {
        Poco::JSON::Parser parser;
        const auto parsed = parser.parse(body);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) envelope = parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
        envelope = nullptr;
    }
    if (!envelope) throw ProviderRejected("the JaaS webhook body is not a JSON object");
    const std::string appId = stringField(envelope, "appId");
    if (!appId.empty() && appId != appId_) throw ProviderRejected("the webhook is for another JaaS AppID");

    const std::string type = eventTypeFor(stringField(envelope, "eventType"));
    if (type.empty()) return {};
    // fqn is "<AppID>/<room>"; the provider room id is the bare room name.
    const std::string fqn = stringField(envelope, "fqn");
    const std::string prefix = appId_ + "/";
    if (fqn.rfind(prefix, 0) != 0 || fqn.size() == prefix.size()) {
        throw ProviderRejected("the webhook's fqn does not name a room of this AppID");
    }
    ProviderEvent event;
    event.providerRoomId = fqn.substr(prefix.size());
    event.type = type;
    event.idempotencyKey = stringField(envelope, "idempotencyKey");

    Poco::JSON::Object::Ptr data = envelope->getObject("data");
    Poco::JSON::Object out;
    out.set("jaas_event", stringField(envelope, "eventType"));
    out.set("jaas_session_id", stringField(envelope, "sessionId"));
    if (envelope->has("timestamp")) out.set("provider_timestamp_ms", stringField(envelope, "timestamp"));
    if (type.rfind("participant_", 0) == 0 && data) {
        event.participantId = stringField(data, "id");
        out.set("name", stringField(data, "name"));
        out.set("moderator", stringField(data, "moderator"));
    }
    if (type == "recording_available" && data) {
        out.set("download_url", stringField(data, "preAuthenticatedLink"));
        out.set("provider_recording_id", stringField(envelope, "sessionId"));
    }
    event.dataJson = stringify(out);
    return {event};
}

}  // namespace consultd::jitsi
