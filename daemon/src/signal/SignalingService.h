#pragma once
// The daemon's signaling: rooms, hub and the link to SessionService, built
// from the `signaling` config group. The HTTP route hands it upgraded
// WebSockets; SessionService's status observer feeds it session changes.
//
// Thread-safety: thread-safe after start(); start()/stop() from one thread.

#include "config/Config.h"
#include "core/SessionService.h"
#include "signal/SignalingHub.h"
#include "signal/SignalingRooms.h"
#include "signal/SignalingTokens.h"

#include <array>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <string>

namespace consultd::signal {

/// SignalingBackend over SessionService (events and ending go through it, so
/// the store, audit and analytics see them like any other). Events are
/// stored by recorder threads of their own, not by the hub's frame-I/O
/// workers: a relay never waits for a database commit. One session's events
/// always go to the same recorder thread, so they keep their order; the queue
/// is bounded (a full queue makes the caller wait: back-pressure, not loss).
class SessionBackend final : public SignalingBackend {
public:
    explicit SessionBackend(core::SessionService& sessions);
    ~SessionBackend() override;
    SessionBackend(const SessionBackend&) = delete;
    SessionBackend& operator=(const SessionBackend&) = delete;

    std::optional<SessionSnapshot> findSession(const std::string& sessionId) override;
    void recordEvent(const std::string& sessionId, const std::string& type, const std::string& participantId,
                     const std::string& dataJson) override;
    void endSession(const std::string& sessionId, const std::string& hostParticipantId) override;

    /// Stores what is queued, then stops the recorder threads.
    void stop();

private:
    struct PendingEvent {
        std::string sessionId, type, participantId, dataJson;
    };
    struct Recorder {
        std::mutex mutex;
        std::condition_variable changed;
        std::deque<PendingEvent> queue;
        bool stopping = false;
        std::thread thread;
    };
    void run(Recorder& recorder);
    void store(const PendingEvent& event);

    static constexpr std::size_t kRecorders = 2;
    static constexpr std::size_t kMaxQueued = 20000;  // per recorder
    core::SessionService& sessions_;
    std::array<Recorder, kRecorders> recorders_;
};

/// Limits and pool sizes from the `signaling` group.
SignalingLimits limitsFrom(const config::Config& config);
HubOptions hubOptionsFrom(const config::Config& config);

/// Whether a browser's Origin header may open a signaling WebSocket for
/// `publicUrl`: scheme, host and port must match. An absent Origin (a
/// non-browser client) is allowed; "null" is not.
bool originAllowed(const std::string& origin, const std::string& publicUrl);

/// Besides SessionService's observer (changes made in this process), a
/// reconciler thread compares every open room with the store every few
/// seconds, so a session ended by another process (`consultd session end`)
/// closes its room too.
class SignalingService {
public:
    SignalingService(const config::Config& config, core::SessionService& sessions, const SignalingTokens& tokens);
    ~SignalingService();
    SignalingService(const SignalingService&) = delete;
    SignalingService& operator=(const SignalingService&) = delete;

    void start();
    void stop();

    SignalingHub& hub() { return hub_; }
    SignalingRooms& rooms() { return rooms_; }

    /// The public URL the Origin check compares against (set once the listener is bound).
    void setPublicUrl(std::string url);
    std::string publicUrl() const;

private:
    void reconcile();

    SessionBackend backend_;
    SignalingHub hub_;
    SignalingRooms rooms_;
    std::mutex reconcileMutex_;
    std::condition_variable reconcileWake_;
    bool stopping_ = false;
    std::thread reconciler_;
    mutable std::mutex urlMutex_;
    std::string publicUrl_;
};

}  // namespace consultd::signal
