#pragma once
// The signaling rooms: who is in which session's room, what each message
// means, the per-connection limits. No sockets here: the hub feeds text
// messages in and delivers what comes out through SignalingOutput, so the
// whole protocol is unit-testable (tests/signal/).
//
// Protocol (docs/webrtc.md, "Signaling protocol"): join, joined,
// participant-joined, participant-left, offer, answer, ice-candidate,
// media-state, chat, leave, end, session-state, ended, error.
//
// Thread-safety: thread-safe. One mutex guards the room state; calls into the
// backend (database reads/writes, ending a session) are made after it is
// released, so a slow store never blocks relaying in other rooms. Output
// calls are made with the mutex held and must not call back into the rooms.

#include "signal/SignalingTokens.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace consultd::signal {

/// Identifies one WebSocket connection of the hub.
using ConnectionId = std::uint64_t;

/// A participant as the room shows it to others.
struct RoomParticipant {
    std::string id;
    std::string name;
    std::string role;
};

/// What the rooms need to know of a session.
struct SessionSnapshot {
    std::string id;
    std::string status;  ///< scheduled | waiting | active | ended | cancelled | failed
    std::vector<RoomParticipant> participants;
};

/// The daemon side of the rooms (SessionService in production, a fake in tests).
/// Called without the rooms' mutex held, from the hub's worker threads.
class SignalingBackend {
public:
    virtual ~SignalingBackend() = default;
    /// The session, or std::nullopt when it does not exist.
    virtual std::optional<SessionSnapshot> findSession(const std::string& sessionId) = 0;
    /// Stores a session event (participant_joined, participant_left, media_state, chat).
    virtual void recordEvent(const std::string& sessionId, const std::string& type, const std::string& participantId,
                             const std::string& dataJson) = 0;
    /// Ends the session on behalf of its host; throws std::exception when it cannot.
    /// The session's status observer then calls SignalingRooms::onSessionStatus.
    virtual void endSession(const std::string& sessionId, const std::string& hostParticipantId) = 0;
};

/// Where the rooms' messages go (the hub). Both calls are non-blocking and
/// keep order per connection; close() is carried out after what was queued before it.
class SignalingOutput {
public:
    virtual ~SignalingOutput() = default;
    virtual void send(ConnectionId connection, std::string text) = 0;
    virtual void close(ConnectionId connection, std::uint16_t code, const std::string& reason) = 0;
};

struct SignalingLimits {
    std::size_t maxMessageBytes = 65536;
    int messagesPerSecond = 50;
    int violationsBeforeClose = 3;
    std::size_t maxParticipantsPerRoom = 5;
    std::size_t maxChatChars = 4000;
    bool storeChat = true;
};

/// WebSocket close codes the rooms use.
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kClosePolicy = 1008;
inline constexpr std::uint16_t kCloseTooBig = 1009;
inline constexpr std::uint16_t kCloseUnavailable = 1011;

class SignalingRooms {
public:
    using TokenVerifier = std::function<std::optional<SignalingClaims>(const std::string& token, TokenProblem& problem)>;
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    SignalingRooms(SignalingBackend& backend, SignalingOutput& output, TokenVerifier verifier, SignalingLimits limits,
                   Clock clock = [] { return std::chrono::steady_clock::now(); });

    /// One complete text message from a connection.
    void onMessage(ConnectionId connection, const std::string& text);
    /// The hub refused a frame above maxMessageBytes: error, then close 1009.
    void onOversizedMessage(ConnectionId connection);
    /// The connection is gone (closed by either side): its participant leaves
    /// unless a newer connection has resumed it.
    void onDisconnected(ConnectionId connection);
    /// The session changed state (observer of SessionService): active/waiting
    /// is announced; ended/cancelled/failed sends `ended` and closes the room.
    void onSessionStatus(const std::string& sessionId, const std::string& status);

    /// An in-process participant (the daemon's recorder) instead of a socket:
    /// what the room sends it goes to `deliver` (called with the rooms' mutex
    /// held: it must only queue the text, never call back into the rooms);
    /// `closed` replaces the WebSocket close. It joins the session's room
    /// (made if nobody is in it yet) like a token-bearing client and is
    /// announced to the others by participant-joined / participant-left, but
    /// needs no token, is not in the session's participant list and its join
    /// and leave are not stored as participant events (the recording service
    /// stores its own). Its messages (sendFromLocal) are not rate-limited. Returns the
    /// connection id and the `joined` message text, or std::nullopt when the
    /// session is closed, unknown or the room is full (`problem` says which).
    struct LocalJoin {
        ConnectionId connection = 0;
        std::string joinedText;
    };
    std::optional<LocalJoin> joinLocal(const std::string& sessionId, const RoomParticipant& who,
                                       std::function<void(const std::string& text)> deliver,
                                       std::function<void(std::uint16_t code, const std::string& reason)> closed,
                                       std::string& problem);
    /// A message from an in-process participant (as onMessage for a socket).
    void sendFromLocal(ConnectionId connection, const std::string& text);
    /// The in-process participant leaves (participant-left to the others).
    void leaveLocal(ConnectionId connection);

    /// Whether the connection has joined a room (the hub closes connections that never do).
    bool joined(ConnectionId connection) const;

    /// Every open room's session id and the status the room knows.
    std::vector<std::pair<std::string, std::string>> roomStatuses() const;

    struct Stats {
        std::size_t rooms = 0;
        std::size_t participants = 0;
    };
    Stats stats() const;

private:
    struct Member {
        RoomParticipant who;
        ConnectionId connection = 0;
        bool audio = false;
        bool video = false;
        bool screen = false;
        bool local = false;  // in-process (the recorder): its join/leave are not participant events
    };
    struct Room {
        std::string status;
        std::map<std::string, Member> members;  // by participant id
    };
    struct ConnectionState {
        std::string sessionId;      // empty until joined
        std::string participantId;
        bool closing = false;
        std::chrono::steady_clock::time_point windowStart{};
        int messagesInWindow = 0;
        int violations = 0;
        bool local = false;         // an in-process participant (joinLocal)
    };
    struct LocalEndpoint {
        std::function<void(const std::string&)> deliver;
        std::function<void(std::uint16_t, const std::string&)> closed;
    };
    struct Event {
        std::string sessionId, type, participantId, dataJson;
    };
    /// What must happen after the mutex is released.
    struct Deferred {
        std::vector<Event> events;
        std::optional<std::pair<std::string, std::string>> endSession;  // session, host
        ConnectionId endRequester = 0;
    };

    void handleJoin(ConnectionId connection, const std::string& token, const std::string& sessionHint,
                    Deferred& deferred);
    void relay(ConnectionId connection, ConnectionState& state, Room& room, const std::string& type,
               const std::string& text, Deferred& deferred);
    void sendError(ConnectionId connection, const std::string& code, const std::string& message);
    void refuse(ConnectionId connection, ConnectionState& state, const std::string& code, const std::string& message,
                std::uint16_t closeCode);
    void violation(ConnectionId connection, ConnectionState& state, const std::string& code, const std::string& message);
    void removeMember(const std::string& sessionId, const std::string& participantId, const std::string& reason,
                      Deferred& deferred);
    void broadcast(const Room& room, const std::string& except, const std::string& text);
    /// output_.send/close, or the in-process participant's callbacks.
    void sendTo(ConnectionId connection, std::string text);
    void closeConnection(ConnectionId connection, std::uint16_t code, const std::string& reason);
    void runDeferred(Deferred& deferred);
    void rememberClosed(const std::string& sessionId);

    SignalingBackend& backend_;
    SignalingOutput& output_;
    TokenVerifier verifier_;
    SignalingLimits limits_;
    Clock clock_;

    mutable std::mutex mutex_;
    std::unordered_map<ConnectionId, ConnectionState> connections_;
    std::unordered_map<ConnectionId, LocalEndpoint> localEndpoints_;
    ConnectionId nextLocalConnection_ = ConnectionId{1} << 62;  // far from the hub's ids
    std::unordered_map<std::string, Room> rooms_;
    std::set<std::string> closedSessions_;     // rooms that must not be re-opened
    std::deque<std::string> closedOrder_;      // bounds closedSessions_
};

}  // namespace consultd::signal
