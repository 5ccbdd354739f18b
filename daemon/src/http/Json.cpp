#include "http/Json.h"

#include "core/ApiError.h"
#include "util/Crypto.h"
#include "util/Time.h"

#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <regex>

namespace consultd::http {

namespace {

/// The id pattern is checked by hand: it is on every request's path.
bool isIdCharacters(const std::string& text) {
    if (text.empty() || text.size() > 128) return false;
    for (const char c : text) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == ':' || c == '@' || c == '-';
        if (!ok) return false;
    }
    return true;
}

/// Compiled patterns, one set per thread (std::regex is costly to build and
/// this keeps the lookup lock-free).
bool matches(const std::string& pattern, const std::string& text) {
    if (pattern == kIdPattern) return isIdCharacters(text);
    thread_local std::map<std::string, std::regex> compiled;
    auto it = compiled.find(pattern);
    if (it == compiled.end()) it = compiled.emplace(pattern, std::regex(pattern)).first;
    return std::regex_match(text, it->second);
}

}  // namespace

FieldReader::FieldReader(Poco::JSON::Object::Ptr object, std::string prefix)
    : FieldReader(std::move(object), std::move(prefix), std::make_shared<std::map<std::string, std::string>>()) {}

FieldReader::FieldReader(Poco::JSON::Object::Ptr object, std::string prefix,
                         std::shared_ptr<std::map<std::string, std::string>> problems)
    : object_(std::move(object)), prefix_(std::move(prefix)), problems_(std::move(problems)) {}

FieldReader FieldReader::nested(Poco::JSON::Object::Ptr object, const std::string& prefix) {
    return FieldReader(std::move(object), prefix_ + prefix, problems_);
}

void FieldReader::fail(const std::string& name, const std::string& problem) {
    problems_->emplace(full(name), problem);
}

void FieldReader::finish() const {
    if (problems_->empty()) return;
    throw core::ApiError(422, "VALIDATION_FAILED", "invalid fields: " + [&] {
        std::string names;
        for (const auto& [field, problem] : *problems_) names += (names.empty() ? "" : ", ") + field;
        return names;
    }()).withDetails("fields", *problems_);
}

std::optional<std::string> FieldReader::string(const std::string& name, bool required, std::size_t maxLength,
                                               const std::string& pattern, const std::string& patternHelp) {
    if (!object_->has(name) || object_->isNull(name)) {
        if (required) fail(name, "is required");
        return std::nullopt;
    }
    const auto value = object_->get(name);
    if (!value.isString()) {
        fail(name, "must be a string");
        return std::nullopt;
    }
    std::string text = value.extract<std::string>();
    if (required && text.empty()) {
        fail(name, "must not be empty");
        return std::nullopt;
    }
    if (text.size() > maxLength) {
        fail(name, "must be at most " + std::to_string(maxLength) + " bytes");
        return std::nullopt;
    }
    if (!pattern.empty() && !matches(pattern, text)) {
        fail(name, patternHelp.empty() ? "has an invalid format" : patternHelp);
        return std::nullopt;
    }
    return text;
}

std::optional<bool> FieldReader::boolean(const std::string& name) {
    if (!object_->has(name) || object_->isNull(name)) return std::nullopt;
    const auto value = object_->get(name);
    if (value.type() != typeid(bool)) {
        fail(name, "must be true or false");
        return std::nullopt;
    }
    return value.extract<bool>();
}

std::optional<std::int64_t> FieldReader::integer(const std::string& name, std::int64_t min, std::int64_t max) {
    if (!object_->has(name) || object_->isNull(name)) return std::nullopt;
    const auto value = object_->get(name);
    if (!value.isInteger()) {
        fail(name, "must be an integer");
        return std::nullopt;
    }
    const auto number = value.convert<std::int64_t>();
    if (number < min || number > max) {
        fail(name, "must be between " + std::to_string(min) + " and " + std::to_string(max));
        return std::nullopt;
    }
    return number;
}

std::optional<std::int64_t> FieldReader::time(const std::string& name) {
    const auto text = string(name, false, 64);
    if (!text) return std::nullopt;
    const auto parsed = util::parseRfc3339(*text);
    if (!parsed) fail(name, "must be an RFC 3339 time such as 2026-11-23T14:00:00Z");
    return parsed;
}

Poco::JSON::Object::Ptr FieldReader::object(const std::string& name, bool required) {
    if (!object_->has(name) || object_->isNull(name)) {
        if (required) fail(name, "is required");
        return nullptr;
    }
    auto value = object_->get(name);
    if (value.type() != typeid(Poco::JSON::Object::Ptr)) {
        fail(name, "must be an object");
        return nullptr;
    }
    return value.extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Array::Ptr FieldReader::array(const std::string& name, std::size_t maxItems) {
    if (!object_->has(name) || object_->isNull(name)) return nullptr;
    auto value = object_->get(name);
    if (value.type() != typeid(Poco::JSON::Array::Ptr)) {
        fail(name, "must be an array");
        return nullptr;
    }
    auto array = value.extract<Poco::JSON::Array::Ptr>();
    if (array->size() > maxItems) {
        fail(name, "must have at most " + std::to_string(maxItems) + " items");
        return nullptr;
    }
    return array;
}

std::optional<std::string> FieldReader::oneOf(const std::string& name, const std::vector<std::string>& values,
                                              bool required) {
    auto text = string(name, required, 64);
    if (!text) return std::nullopt;
    if (std::find(values.begin(), values.end(), *text) == values.end()) {
        std::string list;
        for (const auto& v : values) list += (list.empty() ? "" : ", ") + v;
        fail(name, "must be one of: " + list);
        return std::nullopt;
    }
    return text;
}

void FieldReader::rejectUnknown(const std::vector<std::string>& known) {
    std::vector<std::string> names;
    object_->getNames(names);
    for (const auto& name : names) {
        if (std::find(known.begin(), known.end(), name) == known.end()) fail(name, "unknown field");
    }
}

namespace {
Poco::Dynamic::Var timeOrNull(std::int64_t millis) {
    if (millis <= 0) return Poco::Dynamic::Var();
    return util::formatRfc3339(millis);
}
Poco::Dynamic::Var stringOrNull(const std::string& s) {
    if (s.empty()) return Poco::Dynamic::Var();
    return s;
}
}  // namespace

Poco::JSON::Object::Ptr parseStoredObject(const std::string& text) {
    try {
        Poco::JSON::Parser parser;
        auto parsed = parser.parse(text);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) return parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
        // Stored by us as JSON; a parse failure means corruption: show {}.
    }
    return new Poco::JSON::Object;
}

Poco::JSON::Object::Ptr sessionJson(const store::SessionRecord& s) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("id", s.id);
    out->set("consultation_id", s.consultationId);
    out->set("provider", s.provider);
    out->set("provider_status", s.providerStatus);
    out->set("mode", s.mode);
    out->set("status", s.status);
    out->set("room", s.roomName);
    out->set("record", s.record);
    out->set("device_id", stringOrNull(s.deviceId));
    out->set("scheduled_at", timeOrNull(s.scheduledAt));
    out->set("created_at", timeOrNull(s.createdAt));
    out->set("updated_at", timeOrNull(s.updatedAt));
    out->set("started_at", timeOrNull(s.startedAt));
    out->set("ended_at", timeOrNull(s.endedAt));
    out->set("duration_seconds", s.durationSeconds >= 0 ? Poco::Dynamic::Var(s.durationSeconds) : Poco::Dynamic::Var());
    out->set("end_reason", stringOrNull(s.endReason));
    out->set("quality", stringOrNull(s.quality));
    Poco::JSON::Array::Ptr participants = new Poco::JSON::Array;
    for (const auto& p : s.participants) {
        Poco::JSON::Object::Ptr item = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        item->set("id", p.participantId);
        item->set("name", p.name);
        item->set("role", p.role);
        if (!p.email.empty()) item->set("email", p.email);
        item->set("joined_at", timeOrNull(p.firstJoinedAt));
        item->set("left_at", timeOrNull(p.lastLeftAt));
        participants->add(item);
        if (p.role == "host") {
            Poco::JSON::Object::Ptr host = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
            host->set("id", p.participantId);
            host->set("name", p.name);
            host->set("email", stringOrNull(p.email));
            out->set("host", host);
        }
    }
    out->set("participants", participants);
    out->set("metadata", parseStoredObject(s.metadataJson));
    return out;
}

Poco::JSON::Object::Ptr eventJson(const store::EventRecord& e) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("id", e.id);
    out->set("type", e.type);
    out->set("participant_id", stringOrNull(e.participantId));
    out->set("severity", e.severity);
    out->set("source", e.source);
    out->set("data", parseStoredObject(e.dataJson));
    out->set("created_at", timeOrNull(e.createdAt));
    return out;
}

Poco::JSON::Object::Ptr recordingJson(const store::RecordingRecord& r) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("id", r.id);
    out->set("session_id", r.sessionId);
    out->set("participant_id", stringOrNull(r.participantId));
    out->set("source", r.source);
    out->set("status", r.status);
    out->set("reason", stringOrNull(r.reason));
    out->set("content_type", r.container == "mp4" ? "video/mp4" : r.container == "webm" ? "video/webm" : "video/x-matroska");
    Poco::JSON::Array::Ptr tracks = new Poco::JSON::Array;
    for (const auto& t : r.tracks) tracks->add(t);
    out->set("tracks", tracks);
    out->set("bytes", r.bytes);
    out->set("duration_seconds", static_cast<double>(r.durationMs) / 1000.0);
    out->set("created_at", timeOrNull(r.createdAt));
    out->set("finished_at", timeOrNull(r.finishedAt));
    return out;
}

Poco::JSON::Object::Ptr iceServerJson(const IceServer& server) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    Poco::JSON::Array::Ptr urls = new Poco::JSON::Array;
    for (const auto& url : server.urls) urls->add(url);
    out->set("urls", urls);
    if (!server.username.empty()) {
        out->set("username", server.username);
        out->set("credential", server.credential);
    }
    return out;
}

std::string encodeCursor(std::int64_t seq) { return "c" + std::to_string(seq); }

std::optional<std::int64_t> decodeCursor(const std::string& cursor) {
    // At most 18 digits: always fits in int64 (no silent wrap to page one).
    if (cursor.size() < 2 || cursor.size() > 19 || cursor[0] != 'c') return std::nullopt;
    std::int64_t value = 0;
    for (std::size_t i = 1; i < cursor.size(); ++i) {
        if (cursor[i] < '0' || cursor[i] > '9') return std::nullopt;
        value = value * 10 + (cursor[i] - '0');
    }
    return value;
}

}  // namespace consultd::http
