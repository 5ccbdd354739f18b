#pragma once
// The seam between the daemon's recording service (consultd-core, no
// GStreamer) and the native recorder (consultd-gst: the recorder joins the
// session's signaling room and records each sender with webrtcbin). The
// `consultd` executable plugs the GStreamer implementation in when built with
// CONSULTD_WITH_GSTREAMER; without it native recording answers 503.

#include "consultd/provider.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace consultd::signal {
class SignalingRooms;
}

namespace consultd::recording {

class RecordingKey;

/// How one participant's file ended.
struct LiveFileResult {
    std::string participantId;
    std::filesystem::path file;  ///< where it is now (final, ".partial" or ".failed")
    bool ok = false;
    std::string reason;
    std::uint64_t bytes = 0;
    std::chrono::milliseconds duration{0};
    std::vector<std::string> tracks;
};

/// What the live recorder reports back. Every callback may be called from the
/// recorder's own threads, must be thread-safe and must not block for long.
struct LiveRecordingEvents {
    /// A participant's tracks are negotiated and its file is about to be
    /// created: returns the file's final path (the recorder writes
    /// "<path>.partial"). Throwing fails that participant's recording.
    std::function<std::filesystem::path(const std::string& participantId, const std::string& container,
                                        const std::vector<std::string>& tracks)>
        beginFile;
    /// A file was finalised (ok) or failed; exactly once per beginFile().
    std::function<void(const LiveFileResult& result)> fileFinished;
    /// A participant could not be recorded before any file existed (negotiation failed).
    std::function<void(const std::string& participantId, const std::string& reason)> participantFailed;
    /// The recorder was put out of the room (the session ended, the room closed).
    std::function<void(const std::string& reason)> detached;
    /// Diagnostics (ICE gathering results, state changes).
    std::function<void(const std::string& participantId, const std::string& line)> log;
};

/// What a live recording needs.
struct LiveRecordingRequest {
    std::string sessionId;
    std::filesystem::path dir;
    std::shared_ptr<const RecordingKey> key;
    std::vector<IceServer> iceServers;      ///< minted for the recorder (TURN credentials)
    bool relayOnly = false;                 ///< iceTransportPolicy relay
    std::vector<std::string> localAddresses;
    signal::SignalingRooms* rooms = nullptr;
    std::string participantId = "consultd-recorder";  ///< the recorder's id in the room
};

/// One session being recorded. Destroying it stops it (like stop()).
class LiveRecording {
public:
    virtual ~LiveRecording() = default;
    /// Leaves the room and finalises every file (waits for the muxers, a few
    /// seconds at most). Idempotent; fileFinished has been called for every
    /// file when it returns.
    virtual void stop() = 0;
};

/// Makes live recordings (one per session).
class LiveRecorderFactory {
public:
    virtual ~LiveRecorderFactory() = default;
    /// Joins the room and starts negotiating with everyone in it. Throws
    /// std::runtime_error (with a reason for the client) when it cannot.
    virtual std::unique_ptr<LiveRecording> start(const LiveRecordingRequest& request, LiveRecordingEvents events) = 0;
};

}  // namespace consultd::recording
