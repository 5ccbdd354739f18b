#include "signal/SignalingRooms.h"

#include "log/LogContext.h"
#include "util/Time.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace consultd::signal {

namespace {

using Poco::JSON::Object;

std::string text(const Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

Object::Ptr message(const std::string& type) {
    Object::Ptr m = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    m->set("type", type);
    return m;
}

Object::Ptr participantJson(const RoomParticipant& who) {
    Object::Ptr p = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    p->set("id", who.id);
    p->set("name", who.name);
    p->set("role", who.role);
    return p;
}

bool closedStatus(const std::string& status) {
    return status == "ended" || status == "cancelled" || status == "failed";
}

constexpr std::size_t kRememberedClosedRooms = 10000;

}  // namespace

SignalingRooms::SignalingRooms(SignalingBackend& backend, SignalingOutput& output, TokenVerifier verifier,
                               SignalingLimits limits, Clock clock)
    : backend_(backend), output_(output), verifier_(std::move(verifier)), limits_(limits), clock_(std::move(clock)) {}

void SignalingRooms::sendError(ConnectionId connection, const std::string& code, const std::string& what) {
    auto m = message("error");
    m->set("code", code);
    m->set("message", what);
    sendTo(connection, text(*m));
}

void SignalingRooms::refuse(ConnectionId connection, ConnectionState& state, const std::string& code,
                            const std::string& what, std::uint16_t closeCode) {
    sendError(connection, code, what);
    state.closing = true;
    closeConnection(connection, closeCode, code);
}

void SignalingRooms::violation(ConnectionId connection, ConnectionState& state, const std::string& code,
                               const std::string& what) {
    ++state.violations;
    if (state.violations >= limits_.violationsBeforeClose) {
        refuse(connection, state, code, what + " (repeated: closing)", kClosePolicy);
    } else {
        sendError(connection, code, what);
    }
}

void SignalingRooms::broadcast(const Room& room, const std::string& except, const std::string& body) {
    for (const auto& [id, member] : room.members) {
        if (id != except) sendTo(member.connection, body);
    }
}

void SignalingRooms::sendTo(ConnectionId connection, std::string body) {
    const auto local = localEndpoints_.find(connection);
    if (local == localEndpoints_.end()) {
        output_.send(connection, std::move(body));
    } else if (local->second.deliver) {
        local->second.deliver(body);
    }
}

void SignalingRooms::closeConnection(ConnectionId connection, std::uint16_t code, const std::string& reason) {
    const auto local = localEndpoints_.find(connection);
    if (local == localEndpoints_.end()) {
        output_.close(connection, code, reason);
        return;
    }
    // An in-process participant has no socket: tell it, and forget it.
    auto closed = std::move(local->second.closed);
    localEndpoints_.erase(local);
    connections_.erase(connection);
    if (closed) closed(code, reason);
}

void SignalingRooms::rememberClosed(const std::string& sessionId) {
    if (closedSessions_.insert(sessionId).second) {
        closedOrder_.push_back(sessionId);
        if (closedOrder_.size() > kRememberedClosedRooms) {
            closedSessions_.erase(closedOrder_.front());
            closedOrder_.pop_front();
        }
    }
}

void SignalingRooms::removeMember(const std::string& sessionId, const std::string& participantId,
                                  const std::string& reason, Deferred& deferred) {
    const auto roomIt = rooms_.find(sessionId);
    if (roomIt == rooms_.end()) return;
    Room& room = roomIt->second;
    const auto memberIt = room.members.find(participantId);
    if (memberIt == room.members.end()) return;
    const bool local = memberIt->second.local;
    room.members.erase(memberIt);
    auto left = message("participant-left");
    left->set("participant_id", participantId);
    left->set("reason", reason);
    broadcast(room, "", text(*left));
    if (!local) {
        Object data;
        data.set("via", "signaling");
        data.set("reason", reason);
        deferred.events.push_back({sessionId, "participant_left", participantId, text(data)});
    }
    if (room.members.empty()) rooms_.erase(roomIt);
}

void SignalingRooms::runDeferred(Deferred& deferred) {
    for (const auto& e : deferred.events) backend_.recordEvent(e.sessionId, e.type, e.participantId, e.dataJson);
    if (deferred.endSession) {
        try {
            backend_.endSession(deferred.endSession->first, deferred.endSession->second);
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex_);
            sendError(deferred.endRequester, "END_FAILED", std::string("the session could not be ended: ") + e.what());
        }
    }
}

void SignalingRooms::onOversizedMessage(ConnectionId connection) {
    std::lock_guard lock(mutex_);
    auto& state = connections_[connection];
    if (state.closing) return;
    refuse(connection, state, "MESSAGE_TOO_LARGE",
           "messages are limited to " + std::to_string(limits_.maxMessageBytes) + " bytes", kCloseTooBig);
}

void SignalingRooms::onMessage(ConnectionId connection, const std::string& body) {
    Deferred deferred;
    Object::Ptr parsed;
    std::string type;
    {
        std::lock_guard lock(mutex_);
        auto& state = connections_[connection];
        if (state.closing) return;
        // Per-connection rate: a fixed one-second window; every message above
        // the limit is a violation, so a flood is closed after a few of them.
        const auto now = clock_();
        if (state.local) {
            // The daemon's own participant: trusted, never rate-limited.
        } else if (now - state.windowStart >= std::chrono::seconds(1)) {
            state.windowStart = now;
            state.messagesInWindow = 0;
        }
        if (!state.local && ++state.messagesInWindow > limits_.messagesPerSecond) {
            violation(connection, state, "RATE_LIMITED",
                      "more than " + std::to_string(limits_.messagesPerSecond) + " messages per second");
            return;
        }
        if (body.size() > limits_.maxMessageBytes) {
            refuse(connection, state, "MESSAGE_TOO_LARGE",
                   "messages are limited to " + std::to_string(limits_.maxMessageBytes) + " bytes", kCloseTooBig);
            return;
        }
        try {
            Poco::JSON::Parser parser;
            parsed = parser.parse(body).extract<Object::Ptr>();
            if (parsed) type = parsed->optValue<std::string>("type", "");
        } catch (const Poco::Exception&) {
            parsed = nullptr;
        }
        if (!parsed || type.empty()) {
            violation(connection, state, "BAD_MESSAGE", "a message is a JSON object with a string \"type\"");
            return;
        }
        if (state.sessionId.empty() && type != "join") {
            refuse(connection, state, "NOT_JOINED", "send join first", kClosePolicy);
            return;
        }
        if (!state.sessionId.empty()) {
            const log::LogScope logScope({}, state.sessionId);
            if (type == "join") {
                violation(connection, state, "ALREADY_JOINED", "this connection has joined already");
                return;
            }
            auto roomIt = rooms_.find(state.sessionId);
            if (roomIt == rooms_.end()) return;  // the room closed; the close is under way
            Room& room = roomIt->second;
            auto self = room.members.find(state.participantId);
            if (self == room.members.end() || self->second.connection != connection) return;
            Member& me = self->second;

            if (type == "offer" || type == "answer" || type == "ice-candidate") {
                if (room.status != "active") {
                    sendError(connection, "SESSION_NOT_ACTIVE",
                              "media negotiation starts when the host starts the session (now " + room.status + ")");
                    return;
                }
                const std::string to = parsed->optValue<std::string>("to", "");
                const auto target = room.members.find(to);
                if (to.empty() || to == state.participantId || target == room.members.end()) {
                    sendError(connection, "UNKNOWN_PARTICIPANT", "\"to\" names no other participant in this room");
                    return;
                }
                parsed->set("from", state.participantId);  // never trusted from the client
                sendTo(target->second.connection, text(*parsed));
                return;
            }
            if (type == "media-state") {
                const auto flag = [&](const char* name, bool current) {
                    return parsed->has(name) && parsed->get(name).isBoolean() ? parsed->getValue<bool>(name) : current;
                };
                me.audio = flag("audio", me.audio);
                me.video = flag("video", me.video);
                me.screen = flag("screen", me.screen);
                auto out = message("media-state");
                out->set("from", state.participantId);
                out->set("audio", me.audio);
                out->set("video", me.video);
                out->set("screen", me.screen);
                broadcast(room, state.participantId, text(*out));
                Object data;
                data.set("audio", me.audio);
                data.set("video", me.video);
                data.set("screen", me.screen);
                deferred.events.push_back({state.sessionId, "media_state", state.participantId, text(data)});
            } else if (type == "chat") {
                const std::string chatText = parsed->optValue<std::string>("text", "");
                if (chatText.empty() || chatText.size() > limits_.maxChatChars) {
                    violation(connection, state, "BAD_MESSAGE",
                              "chat needs a \"text\" of 1 to " + std::to_string(limits_.maxChatChars) + " bytes");
                    return;
                }
                auto out = message("chat");
                out->set("from", state.participantId);
                out->set("text", chatText);
                out->set("at", util::formatRfc3339(util::nowMillis()));
                broadcast(room, "", text(*out));
                if (limits_.storeChat) {
                    Object data;
                    data.set("text", chatText);
                    deferred.events.push_back({state.sessionId, "chat", state.participantId, text(data)});
                }
            } else if (type == "leave") {
                const std::string sessionId = state.sessionId;
                const std::string participantId = state.participantId;
                state.sessionId.clear();
                state.closing = true;
                removeMember(sessionId, participantId, "left", deferred);
                closeConnection(connection, kCloseNormal, "left");
            } else if (type == "end") {
                if (me.who.role != "host") {
                    sendError(connection, "FORBIDDEN", "only the host may end the session");
                    return;
                }
                deferred.endSession = std::make_pair(state.sessionId, state.participantId);
                deferred.endRequester = connection;
            } else {
                violation(connection, state, "BAD_MESSAGE", "unknown message type \"" + type.substr(0, 40) + "\"");
                return;
            }
        }
    }
    if (type == "join") {
        const std::string token = parsed->optValue<std::string>("token", "");
        const std::string sessionHint = parsed->optValue<std::string>("session_id", "");
        handleJoin(connection, token, sessionHint, deferred);
    }
    runDeferred(deferred);
}

void SignalingRooms::handleJoin(ConnectionId connection, const std::string& token, const std::string& sessionHint,
                                Deferred& deferred) {
    // Token and session are checked without the mutex (the session read is a database read).
    TokenProblem problem = TokenProblem::Malformed;
    const auto claims = token.empty() ? std::nullopt : verifier_(token, problem);
    std::optional<SessionSnapshot> session;
    bool lookupFailed = false;
    if (claims && (sessionHint.empty() || sessionHint == claims->sessionId)) {
        try {
            session = backend_.findSession(claims->sessionId);
        } catch (const std::exception&) {
            lookupFailed = true;  // the store is unavailable: the client may retry
        }
    }

    std::lock_guard lock(mutex_);
    auto& state = connections_[connection];
    if (state.closing) return;
    if (lookupFailed) {
        refuse(connection, state, "UNAVAILABLE", "the session cannot be read now; reconnect and try again",
               kCloseUnavailable);
        return;
    }
    if (!state.sessionId.empty()) {
        violation(connection, state, "ALREADY_JOINED", "this connection has joined already");
        return;
    }
    if (!claims) {
        if (problem == TokenProblem::Expired) {
            refuse(connection, state, "TOKEN_EXPIRED", "the signaling token has expired; ask for a new join grant",
                   kClosePolicy);
        } else {
            refuse(connection, state, "INVALID_TOKEN", "join needs a valid signaling token", kClosePolicy);
        }
        return;
    }
    if (!sessionHint.empty() && sessionHint != claims->sessionId) {
        refuse(connection, state, "WRONG_SESSION", "the token is for another session", kClosePolicy);
        return;
    }
    if (!session) {
        refuse(connection, state, "SESSION_NOT_FOUND", "the session does not exist", kClosePolicy);
        return;
    }
    if (closedStatus(session->status) || closedSessions_.count(session->id) != 0) {
        refuse(connection, state, "SESSION_CLOSED", "the session is " + session->status, kClosePolicy);
        return;
    }
    const RoomParticipant* who = nullptr;
    for (const auto& p : session->participants) {
        if (p.id == claims->participantId) who = &p;
    }
    if (who == nullptr) {
        refuse(connection, state, "NOT_A_PARTICIPANT", "the token's participant is not part of this session",
               kClosePolicy);
        return;
    }
    auto [roomIt, created] = rooms_.try_emplace(session->id);
    Room& room = roomIt->second;
    if (created) room.status = session->status;
    bool resumed = false;
    const auto existing = room.members.find(who->id);
    if (existing != room.members.end()) {
        // A reconnect of the same participant: the newer connection wins, the
        // older one is closed without a participant-left.
        const ConnectionId old = existing->second.connection;
        auto oldState = connections_.find(old);
        if (oldState != connections_.end()) {
            oldState->second.sessionId.clear();
            oldState->second.closing = true;
        }
        sendError(old, "REPLACED", "this participant joined again from another connection");
        closeConnection(old, kCloseNormal, "replaced");
        existing->second.connection = connection;
        resumed = true;
    } else if (room.members.size() >= limits_.maxParticipantsPerRoom) {
        refuse(connection, state, "ROOM_FULL",
               "the room holds at most " + std::to_string(limits_.maxParticipantsPerRoom) + " participants", kClosePolicy);
        if (room.members.empty()) rooms_.erase(roomIt);
        return;
    } else {
        Member member;
        member.who = *who;
        member.connection = connection;
        room.members.emplace(who->id, member);
    }
    state.sessionId = session->id;
    state.participantId = who->id;

    auto joined = message("joined");
    joined->set("self", participantJson(*who));
    Object::Ptr sessionJson = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    sessionJson->set("id", session->id);
    sessionJson->set("status", room.status);
    joined->set("session", sessionJson);
    Poco::JSON::Array::Ptr others = new Poco::JSON::Array;
    for (const auto& [id, member] : room.members) {
        if (id == who->id) continue;
        auto p = participantJson(member.who);
        p->set("audio", member.audio);
        p->set("video", member.video);
        p->set("screen", member.screen);
        others->add(p);
    }
    joined->set("participants", others);
    joined->set("resumed", resumed);
    joined->set("expires_at", claims->expiresAt);
    sendTo(connection, text(*joined));
    if (!resumed) {
        auto announce = message("participant-joined");
        announce->set("participant", participantJson(*who));
        broadcast(room, who->id, text(*announce));
        Object data;
        data.set("via", "signaling");
        data.set("role", who->role);
        deferred.events.push_back({session->id, "participant_joined", who->id, text(data)});
    }
}

void SignalingRooms::onDisconnected(ConnectionId connection) {
    Deferred deferred;
    {
        std::lock_guard lock(mutex_);
        const auto it = connections_.find(connection);
        if (it == connections_.end()) return;
        const ConnectionState state = it->second;
        connections_.erase(it);
        if (!state.sessionId.empty()) {
            const auto room = rooms_.find(state.sessionId);
            if (room != rooms_.end()) {
                const auto member = room->second.members.find(state.participantId);
                if (member != room->second.members.end() && member->second.connection == connection) {
                    removeMember(state.sessionId, state.participantId, "disconnected", deferred);
                }
            }
        }
    }
    runDeferred(deferred);
}

void SignalingRooms::onSessionStatus(const std::string& sessionId, const std::string& status) {
    Deferred deferred;
    {
        std::lock_guard lock(mutex_);
        if (closedStatus(status)) rememberClosed(sessionId);
        const auto roomIt = rooms_.find(sessionId);
        if (roomIt == rooms_.end()) return;
        Room& room = roomIt->second;
        room.status = status;
        if (!closedStatus(status)) {
            auto m = message("session-state");
            m->set("status", status);
            broadcast(room, "", text(*m));
            return;
        }
        auto ended = message("ended");
        ended->set("status", status);
        const std::string body = text(*ended);
        for (const auto& [id, member] : room.members) {
            sendTo(member.connection, body);
            closeConnection(member.connection, kCloseNormal, "session " + status);
            if (member.local) continue;
            auto state = connections_.find(member.connection);
            if (state != connections_.end()) {
                state->second.sessionId.clear();
                state->second.closing = true;
            }
            Object data;
            data.set("via", "signaling");
            data.set("reason", "session_" + status);
            deferred.events.push_back({sessionId, "participant_left", id, text(data)});
        }
        rooms_.erase(roomIt);
    }
    runDeferred(deferred);
}

std::optional<SignalingRooms::LocalJoin> SignalingRooms::joinLocal(
    const std::string& sessionId, const RoomParticipant& who, std::function<void(const std::string&)> deliver,
    std::function<void(std::uint16_t, const std::string&)> closed, std::string& problem) {
    std::optional<SessionSnapshot> session;
    try {
        session = backend_.findSession(sessionId);
    } catch (const std::exception& e) {
        problem = std::string("the session cannot be read: ") + e.what();
        return std::nullopt;
    }
    Deferred deferred;
    LocalJoin result;
    {
        std::lock_guard lock(mutex_);
        if (!session) {
            problem = "the session does not exist";
            return std::nullopt;
        }
        if (closedStatus(session->status) || closedSessions_.count(session->id) != 0) {
            problem = closedStatus(session->status) ? "the session is " + session->status : "the session is closed";
            return std::nullopt;
        }
        auto [roomIt, created] = rooms_.try_emplace(session->id);
        Room& room = roomIt->second;
        if (created) room.status = session->status;
        if (room.members.count(who.id) != 0) {
            problem = "participant " + who.id + " is already in the room";
            return std::nullopt;
        }
        if (room.members.size() >= limits_.maxParticipantsPerRoom) {
            problem = "the room is full (" + std::to_string(limits_.maxParticipantsPerRoom) + " participants)";
            if (room.members.empty()) rooms_.erase(roomIt);
            return std::nullopt;
        }
        const ConnectionId connection = nextLocalConnection_++;
        localEndpoints_[connection] = LocalEndpoint{std::move(deliver), std::move(closed)};
        auto& state = connections_[connection];
        state.local = true;
        state.sessionId = session->id;
        state.participantId = who.id;
        Member member;
        member.who = who;
        member.connection = connection;
        member.local = true;
        room.members.emplace(who.id, member);

        auto joined = message("joined");
        joined->set("self", participantJson(who));
        Object::Ptr sessionJson = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        sessionJson->set("id", session->id);
        sessionJson->set("status", room.status);
        joined->set("session", sessionJson);
        Poco::JSON::Array::Ptr others = new Poco::JSON::Array;
        for (const auto& [id, other] : room.members) {
            if (id == who.id) continue;
            auto p = participantJson(other.who);
            p->set("audio", other.audio);
            p->set("video", other.video);
            p->set("screen", other.screen);
            others->add(p);
        }
        joined->set("participants", others);
        joined->set("resumed", false);
        result.connection = connection;
        result.joinedText = text(*joined);

        auto announce = message("participant-joined");
        announce->set("participant", participantJson(who));
        broadcast(room, who.id, text(*announce));
        // Not a participant_joined event: the recorder is no session
        // participant; the recording service stores recording_started.
    }
    runDeferred(deferred);
    return result;
}

void SignalingRooms::sendFromLocal(ConnectionId connection, const std::string& body) {
    {
        std::lock_guard lock(mutex_);
        if (localEndpoints_.count(connection) == 0) return;  // closed meanwhile (the session ended)
    }
    onMessage(connection, body);
}

void SignalingRooms::leaveLocal(ConnectionId connection) {
    Deferred deferred;
    {
        std::lock_guard lock(mutex_);
        const auto local = localEndpoints_.find(connection);
        if (local == localEndpoints_.end()) return;
        localEndpoints_.erase(local);
        const auto it = connections_.find(connection);
        if (it == connections_.end()) return;
        const ConnectionState state = it->second;
        connections_.erase(it);
        if (!state.sessionId.empty()) removeMember(state.sessionId, state.participantId, "left", deferred);
    }
    runDeferred(deferred);
}

bool SignalingRooms::joined(ConnectionId connection) const {
    std::lock_guard lock(mutex_);
    const auto it = connections_.find(connection);
    return it != connections_.end() && (!it->second.sessionId.empty() || it->second.closing);
}

std::vector<std::pair<std::string, std::string>> SignalingRooms::roomStatuses() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(rooms_.size());
    for (const auto& [id, room] : rooms_) out.emplace_back(id, room.status);
    return out;
}

SignalingRooms::Stats SignalingRooms::stats() const {
    std::lock_guard lock(mutex_);
    Stats stats;
    stats.rooms = rooms_.size();
    for (const auto& [id, room] : rooms_) stats.participants += room.members.size();
    return stats;
}

}  // namespace consultd::signal
