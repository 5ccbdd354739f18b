#include "core/SessionService.h"

#include "log/LogContext.h"

#include "util/Crypto.h"
#include "util/Time.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/URI.h>

#include <algorithm>
#include <sstream>

namespace consultd::core {

namespace {

std::string toJson(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

store::AuditRecord audit(const Actor& actor, std::string action, std::string target, const Poco::JSON::Object& details) {
    store::AuditRecord record;
    record.at = util::nowMillis();
    record.actor = actor.name;
    record.action = std::move(action);
    record.target = std::move(target);
    record.detailsJson = toJson(details);
    record.requestId = actor.requestId;
    return record;
}

store::EventRecord systemEvent(const std::string& sessionId, std::string type, const Poco::JSON::Object& data) {
    store::EventRecord event;
    event.sessionId = sessionId;
    event.type = std::move(type);
    event.source = "system";
    event.dataJson = toJson(data);
    event.createdAt = util::nowMillis();
    return event;
}

ApiError notFound(const std::string& id) {
    return ApiError(404, "SESSION_NOT_FOUND", "no session " + id).withDetail("session_id", id);
}

ApiError badTransition(const store::SessionRecord& session, const std::string& action) {
    return ApiError(409, "INVALID_STATE_TRANSITION",
                    "cannot " + action + " a session that is " + session.status)
        .withDetail("status", session.status)
        .withDetail("action", action);
}

}  // namespace

SessionService::SessionService(store::Store& store, plugins::PluginHost& plugins, Metrics& metrics, ConfigSource config)
    : store_(store),
      plugins_(plugins),
      metrics_(metrics),
      config_(std::move(config)),
      tokenLimiter_(static_cast<double>(config_()->getInt("security.token_rate_per_minute")), std::chrono::minutes(1)) {}

const std::vector<std::string>& SessionService::qualityValues() {
    static const std::vector<std::string> values = {"excellent", "good", "fair", "poor", "failed"};
    return values;
}

void SessionService::reportProviderFailure(const std::string& provider, const char* what, const std::string& kind,
                                           const std::string& message) const {
    metrics_.countProviderError(provider, kind);
    Poco::Logger::get("sessions").warning("provider " + provider + " " + what + " failed (" + kind + "): " + message);
}

Provider& SessionService::providerOrThrow(const std::string& name) const {
    Provider* provider = plugins_.find(name);
    if (provider == nullptr) {
        throw ApiError(503, "PROVIDER_UNAVAILABLE", "provider " + name + " is not loaded").withRetryAfter(60);
    }
    return *provider;
}

CircuitBreaker& SessionService::breakerFor(const std::string& provider) const {
    std::lock_guard lock(breakersMutex_);
    auto& slot = breakers_[provider];
    if (!slot) {
        const auto cfg = config_();
        CircuitBreaker::Options options;
        options.failureThreshold = static_cast<int>(cfg->getInt("providers.breaker_failure_threshold"));
        options.openFor = std::chrono::seconds(cfg->getInt("providers.breaker_open_seconds"));
        options.maxOpenFor = std::max<std::chrono::milliseconds>(
            options.openFor, std::chrono::seconds(cfg->getInt("providers.breaker_max_open_seconds")));
        slot = std::make_unique<CircuitBreaker>(options);
    }
    return *slot;
}

CircuitBreaker::Snapshot SessionService::circuit(const std::string& provider) const {
    return breakerFor(provider).snapshot();
}

int SessionService::retryAfterFor(const std::string& provider) const {
    const auto snapshot = breakerFor(provider).snapshot();
    if (snapshot.state == CircuitBreaker::State::Open) {
        // Round up: a client coming back early would only be refused again.
        return static_cast<int>(std::max<std::int64_t>(1, (snapshot.retryAfter.count() + 999) / 1000));
    }
    return static_cast<int>(config_()->getInt("providers.retry_initial_seconds"));
}

SessionView SessionService::viewOf(const store::SessionRecord& session) {
    SessionView view;
    view.id = session.id;
    view.consultationId = session.consultationId;
    view.mode = parseMode(session.mode).value_or(Mode::Video);
    view.roomName = session.roomName;
    view.providerRoomId = session.providerRoomId;
    view.record = session.record;
    return view;
}

std::pair<store::SessionRecord, bool> SessionService::create(const CreateSessionRequest& request, const Actor& actor) {
    if (auto open = store_.findOpenSessionByConsultation(request.consultationId)) return {*open, false};

    const auto cfg = config_();
    store::SessionRecord session;
    const std::string random = util::randomBase32(15);  // 24 chars, 120 bits
    session.id = "ses_" + random;
    // The room name is derived from the random id only: no integrator-supplied
    // text (consultation ids, names) ever reaches a provider room name.
    session.roomName = "consult-" + random;
    session.consultationId = request.consultationId;
    session.provider = request.provider.empty() ? cfg->getString("providers.default") : request.provider;
    session.mode = request.mode;
    session.status = "scheduled";
    session.deviceId = request.deviceId;
    session.record = request.record;
    session.metadataJson = request.metadataJson;
    session.scheduledAt = request.scheduledAt;
    session.createdAt = session.updatedAt = util::nowMillis();
    session.providerStatus = "pending";

    Provider& provider = providerOrThrow(session.provider);
    store::ParticipantRecord host = request.host;
    host.sessionId = session.id;
    host.role = "host";
    session.participants.push_back(host);
    for (auto participant : request.participants) {
        participant.sessionId = session.id;
        session.participants.push_back(std::move(participant));
    }
    if (!request.deviceId.empty()) {
        store::ParticipantRecord device;
        device.sessionId = session.id;
        device.participantId = request.deviceId;
        device.name = "Exam room device";
        device.role = "device";
        session.participants.push_back(device);
    }

    // Create the provider room before the row exists, so an acknowledged
    // session always says truthfully whether its room is ready.
    try {
        const RoomInfo room = callGuarded(session.provider, "createRoom", [&] { return provider.createRoom(viewOf(session)); });
        session.providerRoomId = room.providerRoomId;
        session.providerStatus = "ok";
    } catch (const ApiError& e) {
        if (e.status() != 503) throw;
        session.providerStatus = "unavailable";  // graceful: the consultation still exists
    }

    Poco::JSON::Object details;
    details.set("consultation_id", session.consultationId);
    details.set("provider", session.provider);
    details.set("mode", session.mode);
    try {
        auto stored = store_.insertSession(session, audit(actor, "session.created", session.id, details));
        log::LogScope::setSession(stored.id);
        Poco::Logger::get("sessions").information("session " + stored.id + " created (provider " + stored.provider +
                                                  ", request " + actor.requestId + ")");
        return {stored, true};
    } catch (const store::Conflict&) {
        // A concurrent create won the race: answer with its session.
        if (auto open = store_.findOpenSessionByConsultation(request.consultationId)) return {*open, false};
        // ... which has already been closed again: the consultation is free, try once more.
        try {
            return {store_.insertSession(session, audit(actor, "session.created", session.id, details)), true};
        } catch (const store::Conflict&) {
            if (auto open = store_.findOpenSessionByConsultation(request.consultationId)) return {*open, false};
            throw ApiError(409, "CONSULTATION_BUSY", "the consultation's sessions are changing; retry");
        }
    }
}

store::SessionRecord SessionService::get(const std::string& id) const {
    auto session = store_.findSession(id);
    if (!session) throw notFound(id);
    return *session;
}

store::SessionRecord SessionService::getForGrant(const std::string& id) const {
    constexpr auto kTtl = std::chrono::seconds(1);
    constexpr std::size_t kMaxCached = 10000;
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(cacheMutex_);
        const auto it = cache_.find(id);
        if (it != cache_.end() && now - it->second.fetched < kTtl) return it->second.record;
    }
    auto record = get(id);
    std::lock_guard lock(cacheMutex_);
    if (cache_.size() >= kMaxCached) cache_.clear();
    cache_[id] = {record, now};
    return record;
}

void SessionService::addStatusObserver(StatusObserver observer) {
    std::lock_guard lock(observersMutex_);
    observers_.push_back(std::move(observer));
}

void SessionService::addProviderEventObserver(ProviderEventObserver observer) {
    std::lock_guard lock(observersMutex_);
    providerEventObservers_.push_back(std::move(observer));
}

void SessionService::notifyStatus(const store::SessionRecord& session) const {
    std::vector<StatusObserver> observers;
    {
        std::lock_guard lock(observersMutex_);
        observers = observers_;
    }
    for (const auto& observer : observers) {
        try {
            observer(session);
        } catch (const std::exception& e) {
            Poco::Logger::get("sessions").error("session " + session.id + ": status observer failed: " + e.what());
        }
    }
}

void SessionService::forget(const std::string& id) const {
    std::lock_guard lock(cacheMutex_);
    cache_.erase(id);
}

std::vector<store::SessionRecord> SessionService::list(const store::SessionFilter& filter) const {
    return store_.listSessions(filter);
}

store::SessionRecord SessionService::start(const std::string& id, const Actor& actor) {
    const auto session = get(id);
    if (session.status != "scheduled" && session.status != "waiting") throw badTransition(session, "start");
    auto updated = session;
    updated.status = "active";
    updated.startedAt = updated.updatedAt = util::nowMillis();
    Poco::JSON::Object data;
    data.set("from", session.status);
    auto result = store_.transitionSession(id, {"scheduled", "waiting"}, updated, systemEvent(id, "session_started", data),
                                           audit(actor, "session.started", id, data));
    forget(id);
    if (!result) throw badTransition(get(id), "start");
    Poco::Logger::get("sessions").information("session " + id + " started (request " + actor.requestId + ")");
    notifyStatus(*result);
    return *result;
}

store::SessionRecord SessionService::end(const std::string& id, const std::string& reason, const std::string& quality,
                                         const Actor& actor) {
    const auto session = get(id);
    if (session.status != "active" && session.status != "waiting") throw badTransition(session, "end");
    auto updated = session;
    updated.status = "ended";
    updated.endedAt = updated.updatedAt = util::nowMillis();
    updated.durationSeconds = session.startedAt > 0 ? std::max<std::int64_t>(0, (updated.endedAt - session.startedAt) / 1000) : 0;
    updated.endReason = reason;
    updated.quality = quality;
    Poco::JSON::Object data;
    data.set("from", session.status);
    data.set("reason", reason);
    data.set("quality", quality);
    data.set("duration_seconds", updated.durationSeconds);
    auto result = store_.transitionSession(id, {"active", "waiting"}, updated, systemEvent(id, "session_ended", data),
                                           audit(actor, "session.ended", id, data));
    forget(id);
    if (!result) throw badTransition(get(id), "end");
    notifyStatus(*result);
    if (Provider* provider = plugins_.find(session.provider)) {
        try {
            callGuarded(session.provider, "closeRoom", [&] { provider->closeRoom(viewOf(*result)); });
        } catch (const ApiError&) {
            // The session has ended for consultd; a room the provider keeps is
            // logged and counted, not the client's problem.
        }
    }
    Poco::Logger::get("sessions").information("session " + id + " ended after " + std::to_string(updated.durationSeconds) +
                                              " s (request " + actor.requestId + ")");
    return *result;
}

store::SessionRecord SessionService::cancel(const std::string& id, const std::string& reason, const Actor& actor) {
    const auto session = get(id);
    if (session.status != "scheduled" && session.status != "waiting") throw badTransition(session, "cancel");
    auto updated = session;
    updated.status = "cancelled";
    updated.endedAt = updated.updatedAt = util::nowMillis();
    updated.endReason = reason;
    Poco::JSON::Object data;
    data.set("from", session.status);
    data.set("reason", reason);
    auto result = store_.transitionSession(id, {"scheduled", "waiting"}, updated,
                                           systemEvent(id, "session_cancelled", data),
                                           audit(actor, "session.cancelled", id, data));
    forget(id);
    if (!result) throw badTransition(get(id), "cancel");
    notifyStatus(*result);
    if (Provider* provider = plugins_.find(session.provider)) {
        try {
            callGuarded(session.provider, "closeRoom", [&] { provider->closeRoom(viewOf(*result)); });
        } catch (const ApiError&) {
            // See end(): counted and logged by callProvider.
        }
    }
    return *result;
}

CanJoinResult SessionService::canJoin(const store::SessionRecord& session, const std::string& participantId) const {
    CanJoinResult result;
    const auto cfg = config_();
    const std::int64_t now = util::nowMillis();
    if (session.scheduledAt > 0) {
        const std::int64_t diffMs = session.scheduledAt - now;
        // Round toward the future: 30 s before the start is "1 minute until".
        result.minutesUntilSession = diffMs > 0 ? (diffMs + 59999) / 60000 : diffMs / 60000;
    }
    if (!participantId.empty()) {
        const bool member = std::any_of(session.participants.begin(), session.participants.end(),
                                        [&](const auto& p) { return p.participantId == participantId; });
        if (!member) {
            result.reason = "not_a_participant";
            return result;
        }
    }
    if (session.status == "ended" || session.status == "failed") {
        result.reason = "session_ended";
        return result;
    }
    if (session.status == "cancelled") {
        result.reason = "session_cancelled";
        return result;
    }
    if (session.status == "active" || session.scheduledAt == 0) {
        result.canJoin = true;
        return result;
    }
    const std::int64_t opens = session.scheduledAt - cfg->getInt("sessions.join_window_before_minutes") * 60000;
    const std::int64_t closes = session.scheduledAt + cfg->getInt("sessions.join_window_after_minutes") * 60000;
    if (now < opens) {
        result.reason = "too_early";
    } else if (now > closes) {
        result.reason = "too_late";
    } else {
        result.canJoin = true;
    }
    return result;
}

GrantResult SessionService::issueGrant(const std::string& id, const std::string& participantId, const Actor& actor) {
    auto session = getForGrant(id);
    const auto participant = std::find_if(session.participants.begin(), session.participants.end(),
                                          [&](const auto& p) { return p.participantId == participantId; });
    if (participant == session.participants.end()) {
        throw ApiError(403, "NOT_A_PARTICIPANT", "participant is not part of this session")
            .withDetail("participant_id", participantId);
    }
    const CanJoinResult window = canJoin(session, participantId);
    if (!window.canJoin) {
        if (window.reason == "session_ended" || window.reason == "session_cancelled") {
            throw ApiError(409, "SESSION_CLOSED", "the session is " + session.status).withDetail("status", session.status);
        }
        auto error = ApiError(403, "OUTSIDE_JOIN_WINDOW", "the session cannot be joined now").withDetail("reason", window.reason);
        if (window.minutesUntilSession) error.withDetail("minutes_until_session", std::to_string(*window.minutesUntilSession));
        throw error;
    }
    const auto cfg = config_();
    tokenLimiter_.setRate(static_cast<double>(cfg->getInt("security.token_rate_per_minute")));
    const auto decision = tokenLimiter_.acquire(id + "\n" + participantId);
    if (!decision.allowed) {
        throw ApiError(429, "RATE_LIMITED", "too many join grants for this participant")
            .withRetryAfter(decision.retryAfterSeconds);
    }

    Provider& provider = providerOrThrow(session.provider);
    // The room could not be made at creation: try again now (through the
    // circuit breaker, so clients retrying during an outage do not reach
    // the provider; the background retry makes the room when it is back).
    session = ensureProviderRoom(std::move(session));
    ParticipantView who;
    who.id = participant->participantId;
    who.name = participant->name;
    who.email = participant->email;
    who.role = parseRole(participant->role).value_or(Role::Guest);
    JoinGrant grant = callProvider(session.provider, "issueGrant", [&] { return provider.issueGrant(viewOf(session), who); });

    Poco::JSON::Object details;
    details.set("participant_id", participantId);
    details.set("role", participant->role);
    details.set("provider", session.provider);
    details.set("expires_at", util::formatRfc3339(grant.expiresAt * 1000));
    // The grant is handed out only once its audit entry is durable.
    if (session.status == "scheduled") {
        // First grant: the session now has someone in its waiting room. A
        // concurrent start may have moved it on already; that is fine.
        auto updated = session;
        updated.status = "waiting";
        updated.updatedAt = util::nowMillis();
        Poco::JSON::Object data;
        data.set("from", "scheduled");
        data.set("participant_id", participantId);
        const auto waiting = store_.transitionSession(id, {"scheduled"}, updated,
                                                      systemEvent(id, "session_waiting", data),
                                                      audit(actor, "session.waiting", id, data));
        forget(id);
        if (waiting) notifyStatus(*waiting);
    }
    store_.appendAudit(audit(actor, "token.issued", id, details));
    metrics_.countTokenIssued(session.provider);
    return {session.provider, participant->role, std::move(grant)};
}

std::pair<store::EventRecord, bool> SessionService::addEvent(const std::string& id, store::EventRecord event) {
    const auto session = get(id);
    if (!event.participantId.empty()) {
        const bool member = std::any_of(session.participants.begin(), session.participants.end(),
                                        [&](const auto& p) { return p.participantId == event.participantId; });
        if (!member) {
            throw ApiError(422, "VALIDATION_FAILED", "invalid event")
                .withDetails("fields", {{"participant_id", "not a participant of this session"}});
        }
    }
    event.sessionId = id;
    event.createdAt = util::nowMillis();
    auto stored = store_.appendEvent(event);
    const bool same = stored.type == event.type && stored.participantId == event.participantId &&
                      stored.dataJson == event.dataJson && stored.severity == event.severity;
    if (!event.idempotencyKey.empty() && stored.createdAt != event.createdAt) {
        if (!same) {
            throw ApiError(409, "IDEMPOTENCY_CONFLICT", "this idempotency_key was used for a different event")
                .withDetail("event_id", std::to_string(stored.id));
        }
        return {stored, false};  // a retry: the first event stands
    }
    forget(id);
    if (event.type == "participant_joined" && !event.participantId.empty()) {
        store_.markParticipantJoined(id, event.participantId, stored.createdAt);
    } else if (event.type == "participant_left" && !event.participantId.empty()) {
        store_.markParticipantLeft(id, event.participantId, stored.createdAt);
    }
    return {stored, true};
}

store::SessionRecord SessionService::ensureProviderRoom(store::SessionRecord session) {
    if (session.providerStatus == "ok") return session;
    Provider& provider = providerOrThrow(session.provider);
    const RoomInfo room = callGuarded(session.provider, "createRoom", [&] { return provider.createRoom(viewOf(session)); });
    const std::string effective = store_.claimProviderRoom(session.id, room.providerRoomId);
    forget(session.id);
    if (effective.empty()) throw notFound(session.id);
    if (effective != room.providerRoomId) {
        Poco::Logger::get("sessions").notice("session " + session.id + ": a concurrent retry made its " +
                                             session.provider + " room first; the second room is left unused");
    } else {
        Poco::JSON::Object data;
        data.set("provider", session.provider);
        data.set("previous_status", session.providerStatus);
        store_.appendEvent(systemEvent(session.id, "provider_room_created", data));
        Poco::Logger::get("sessions").information("session " + session.id + ": " + session.provider +
                                                  " room created after the provider came back");
    }
    session.providerRoomId = effective;
    session.providerStatus = "ok";
    return session;
}

SessionService::ProviderEventOutcome SessionService::applyProviderEvent(const std::string& provider,
                                                                        const ProviderEvent& event,
                                                                        const Actor& actor) {
    const auto found = store_.findSessionByProviderRoom(provider, event.providerRoomId);
    if (!found) return ProviderEventOutcome::UnknownRoom;
    const store::SessionRecord& session = *found;

    store::EventRecord record;
    record.sessionId = session.id;
    record.type = event.type;
    record.source = "provider";
    record.severity = event.severity.empty() ? "info" : event.severity;
    record.createdAt = util::nowMillis();
    // Provider text is untrusted: the data must be a JSON object, else it is kept as a string.
    Poco::JSON::Object::Ptr data;
    try {
        Poco::JSON::Parser parser;
        auto parsed = parser.parse(event.dataJson.empty() ? std::string("{}") : event.dataJson);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) data = parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
        data = nullptr;  // kept as text below
    }
    if (!data) {
        data = new Poco::JSON::Object;
        data->set("raw", event.dataJson.substr(0, 4096));
    }
    data->set("provider", provider);
    if (data->has("download_url")) {
        // A pre-signed download link is a credential: it goes to the importer
        // (observers get the original event), never into the events API.
        std::string host;
        try {
            host = Poco::URI(data->optValue<std::string>("download_url", "")).getHost();
        } catch (const Poco::Exception&) {
            host.clear();
        }
        data->remove("download_url");
        data->set("download_host", host);
    }
    if (!event.participantId.empty()) {
        const bool member = std::any_of(session.participants.begin(), session.participants.end(),
                                        [&](const auto& p) { return p.participantId == event.participantId; });
        // A participant consultd does not know (a provider-side guest) is
        // named in the data only: events reference participants of the session.
        if (member) record.participantId = event.participantId;
        else data->set("provider_participant_id", event.participantId);
    }
    record.dataJson = toJson(*data);
    if (!event.idempotencyKey.empty()) {
        // Scoped to the provider; long keys are hashed to a bounded size.
        const std::string key = "provider:" + provider + ":" + event.idempotencyKey;
        record.idempotencyKey = key.size() <= 128 ? key : "provider:" + provider + ":sha256:" + util::sha256Hex(key);
    }
    const auto stored = store_.appendEvent(record);
    if (!record.idempotencyKey.empty() && stored.createdAt != record.createdAt) return ProviderEventOutcome::Duplicate;
    forget(session.id);
    {
        std::vector<ProviderEventObserver> observers;
        {
            std::lock_guard lock(observersMutex_);
            observers = providerEventObservers_;
        }
        for (const auto& observer : observers) {
            try {
                observer(provider, stored, event);
            } catch (const std::exception& e) {
                Poco::Logger::get("sessions").error("session " + session.id + ": provider event observer failed: " +
                                                    e.what());
            }
        }
    }

    if (record.type == "participant_joined" && !record.participantId.empty()) {
        store_.markParticipantJoined(session.id, record.participantId, stored.createdAt);
    } else if (record.type == "participant_left" && !record.participantId.empty()) {
        store_.markParticipantLeft(session.id, record.participantId, stored.createdAt);
    } else if (record.type == "room_ended" && session.status == "active") {
        try {
            end(session.id, "provider_room_ended", "", actor);
        } catch (const ApiError& e) {
            // Ended meanwhile by the integrator: the event stays recorded.
            Poco::Logger::get("sessions").information("session " + session.id +
                                                      ": provider room ended, session not ended: " + e.what());
        }
    }
    return ProviderEventOutcome::Stored;
}

Analytics SessionService::analytics(const std::string& id) const {
    Analytics result;
    result.session = get(id);
    constexpr int kMaxTimeline = 1000;
    result.events = store_.listEvents(id, 0, kMaxTimeline + 1);
    if (static_cast<int>(result.events.size()) > kMaxTimeline) {
        result.events.resize(kMaxTimeline);
        result.timelineTruncated = true;
    }
    return result;
}

}  // namespace consultd::core
