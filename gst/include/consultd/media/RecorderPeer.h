#pragma once
// Receive-only WebRTC peer that records one session (issue 4, item 4).
//
// One webrtcbin (in its own pipeline) per sending participant: each sender
// negotiates, renegotiates, times out and leaves on its own, an error in one
// branch cannot stall the others, and a Matroska muxer must know all its
// tracks before it writes the header, which is only true per participant.
// So a session produces one file per participant, each holding that
// participant's audio and video tracks exactly as received (no re-encoding):
// VP8/VP9/Opus in WebM, H264 (with anything) in Matroska.
//
// Files are written through consultd::recording::EncryptedRecordingWriter
// (CDREC v1, AES-256-GCM) as "<name>.partial" and renamed to "<name>" when
// finalised; see docs/webrtc.md.
//
// Threading: every public method is thread-safe and may be called from any
// thread, including from inside a callback. All GStreamer signalling work
// runs on one GMainContext thread owned by the RecorderPeer; callbacks are
// invoked on that thread, one at a time, so they must not block for long.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace consultd::recording {
class RecordingKey;
}

namespace consultd::media {

/// One STUN or TURN server as handed to clients in a join grant.
struct IceServer {
    std::string url;         ///< "stun:host:port", "turn:host:port[?transport=tcp]", "turns:..."
    std::string username;    ///< TURN only; may contain ':' (time-limited credentials)
    std::string credential;  ///< TURN only; may contain '=', '/', '+'
};

/// Converts an ICE server to the URI form webrtcbin takes ("stun://h:p",
/// "turn://user:pass@h:p?transport=tcp"), percent-encoding the username and
/// credential (webrtcbin silently fails on a raw ':' or '='). Returns nullopt
/// for schemes webrtcbin cannot use.
std::optional<std::string> toWebrtcbinUri(const IceServer& server);

/// Which candidates ICE may use.
enum class IceTransportPolicy { All, RelayOnly };

/// How a participant's recording ended.
struct RecordingResult {
    std::string participantId;
    std::filesystem::path file;  ///< final path (".partial" stripped) or the ".partial"/".failed" left
    bool ok = false;             ///< finalised, encrypted and complete
    std::string reason;          ///< why it ended: "stopped", "participant left", "sender timed out", or the error
    std::uint64_t bytes = 0;     ///< plaintext (container) bytes written
    std::chrono::nanoseconds duration{0};  ///< media time muxed
    std::vector<std::string> tracks;       ///< e.g. {"video/VP8", "audio/OPUS"}
};

/// Configuration of one recording session.
struct RecorderConfig {
    std::string sessionId;              ///< used in file names (sanitised)
    std::filesystem::path outputDir;    ///< recording.dir; must exist and be writable
    std::shared_ptr<const recording::RecordingKey> key;  ///< encrypts every file
    std::vector<IceServer> iceServers;
    IceTransportPolicy icePolicy = IceTransportPolicy::All;
    /// Extra local addresses for ICE (tests in loopback-only setups: "127.0.0.1";
    /// libnice skips loopback interfaces otherwise).
    std::vector<std::string> localAddresses;
    unsigned jitterLatencyMs = 200;     ///< webrtcbin jitterbuffer latency
    /// How long stop()/removeParticipant() wait for a branch to finalise.
    std::chrono::milliseconds finaliseTimeout{5000};
    /// Optional: names a participant's file once its tracks are negotiated,
    /// from the container ("webm" or "matroska") and tracks ("video/VP8"...).
    /// The file is written as "<path>.partial" and renamed to "<path>". Called
    /// on the peer's thread; throwing fails that participant's branch. Unset:
    /// "<outputDir>/<session>-<participant>-<UTC start>.webm|.mkv".
    std::function<std::filesystem::path(const std::string& participantId, const std::string& container,
                                        const std::vector<std::string>& tracks)>
        fileFor;
};

/// Callbacks into the daemon's signaling and session events. All optional.
/// Invoked on the RecorderPeer's own thread.
struct RecorderCallbacks {
    /// A local SDP to send to `participantId`: type is "offer" or "answer".
    std::function<void(const std::string& participantId, const std::string& type, const std::string& sdp)>
        onLocalDescription;
    /// A local ICE candidate for `participantId` (empty candidate = gathering complete).
    std::function<void(const std::string& participantId, unsigned mlineIndex, const std::string& candidate)>
        onLocalCandidate;
    /// A participant's file was finalised or failed (exactly once per participant branch).
    std::function<void(const RecordingResult& result)> onRecordingFinished;
    /// Diagnostic lines (ICE gathering result, state changes, warnings).
    std::function<void(const std::string& participantId, const std::string& line)> onLog;
};

/// Records one session: one receive-only WebRTC branch per sending participant.
/// Thread-safe (see the file comment). Destruction stops (finalises) everything.
class RecorderPeer {
public:
    /// Starts the peer's GMainContext thread. Throws std::runtime_error when
    /// GStreamer or a needed plugin (webrtcbin, nicesrc, matroskamux...) is missing.
    RecorderPeer(RecorderConfig config, RecorderCallbacks callbacks);
    ~RecorderPeer();
    RecorderPeer(const RecorderPeer&) = delete;
    RecorderPeer& operator=(const RecorderPeer&) = delete;

    /// A sender's offer: the peer answers (via onLocalDescription) with
    /// recvonly media and the transport-cc header extension. Creates the
    /// participant's branch if needed. Throws std::invalid_argument on bad SDP.
    void handleOffer(const std::string& participantId, const std::string& sdp);
    /// Makes the peer the offerer towards `participantId`, asking to receive
    /// `audio` and/or `video` (recvonly transceivers); the offer arrives via
    /// onLocalDescription.
    void createOffer(const std::string& participantId, bool audio = true, bool video = true);
    /// The answer to an offer made by createOffer().
    void handleAnswer(const std::string& participantId, const std::string& sdp);
    /// A remote ICE candidate ("candidate:..." line) for m-line `mlineIndex`.
    void addRemoteCandidate(const std::string& participantId, unsigned mlineIndex, const std::string& candidate);
    /// Ends one participant's recording (they left): finalises the file and
    /// reports it. No-op for an unknown participant.
    void removeParticipant(const std::string& participantId);
    /// Finalises every branch and waits (up to finaliseTimeout each). Returns
    /// the results of the branches ended by this call. Idempotent.
    std::vector<RecordingResult> stop();
    /// Participants with a live branch.
    std::vector<std::string> participants() const;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace consultd::media
