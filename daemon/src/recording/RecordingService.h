#pragma once
// Local recordings in the running daemon: starting and stopping a session's
// recording (native: the GStreamer recorder joins the signaling room; other
// providers: the plugin's startRecording), the catalog of files, downloads,
// deletion and retention. Routes and the CLI call it; SessionService's status
// observer feeds it (auto-start on record:true, stop when a session ends).
//
// Every state change of a session's recording is a session event
// (recording_started, recording_stopped, recording_failed with a reason) and
// every access, deletion and expiry an audit entry.
//
// Thread-safety: thread-safe. Starting and stopping one session's recording
// are serialised; different sessions do not wait for each other. Work the
// status observer triggers (auto-start, stop at session end) runs on the
// service's own worker thread, never on the caller's.

#include "config/Config.h"
#include "core/ConfigSource.h"
#include "core/SessionService.h"
#include "recording/LiveRecorder.h"
#include "recording/RecordingCatalog.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace consultd::recording {

/// recording.dir, or "recordings" in storage.state_dir.
std::filesystem::path recordingDirFrom(const config::Config& config);
/// recording.key_file, or "recording.key" in storage.state_dir.
std::string recordingKeyPathFrom(const config::Config& config);

/// A session's recording as the API shows it after start/stop.
struct SessionRecordingState {
    std::string sessionId;
    bool recording = false;
    std::string mode;                    ///< "native" | "provider"
    std::int64_t startedAt = 0;          ///< Unix ms; 0 when not recording
    std::vector<store::RecordingRecord> recordings;  ///< this session's rows (native)
};

/// A decrypting, range-capable view of one available recording.
struct MediaAccess {
    store::RecordingRecord row;
    std::unique_ptr<EncryptedRecordingReader> reader;
    std::string contentType;
};

class RecordingService {
public:
    /// Makes the catalog from the `recording` config group: the key file is
    /// read (created with 32 random bytes, mode 0600, when the default path is
    /// absent); without a usable key the service still lists and deletes but
    /// refuses to record (503 RECORDING_UNAVAILABLE, reason logged once).
    RecordingService(store::Store& store, core::ConfigSource config, core::Metrics& metrics);
    ~RecordingService();
    RecordingService(const RecordingService&) = delete;
    RecordingService& operator=(const RecordingService&) = delete;

    /// At start, before anything records: rows a crash left "recording" are
    /// repaired or marked failed (RecordingCatalog::recoverInterrupted), each
    /// with a session event.
    RecoveryReport recoverInterrupted();

    /// Connects the live side once sessions and signaling exist. `factory`
    /// may be null (built without GStreamer). Registers the status observer.
    void attach(core::SessionService& sessions, plugins::PluginHost& plugins, signal::SignalingRooms* rooms,
                plugins::IceServerSource iceServers, std::unique_ptr<LiveRecorderFactory> factory);
    /// Stops (finalises) every live recording and the worker; after it,
    /// start() answers 503. Called by the recorder subsystem at shutdown,
    /// while signaling and the store still run. Idempotent.
    void detach(const std::string& reason);

    /// POST /sessions/{id}/recording/start. Throws core::ApiError: 404, 409
    /// SESSION_NOT_ACTIVE / RECORDING_ALREADY_ACTIVE, 422
    /// RECORDING_NOT_SUPPORTED, 503 RECORDING_UNAVAILABLE / RECORDING_CAPACITY.
    SessionRecordingState start(const std::string& sessionId, const core::Actor& actor);
    /// POST /sessions/{id}/recording/stop: finalises the files (blocks a few
    /// seconds at most). 409 RECORDING_NOT_ACTIVE when nothing records.
    SessionRecordingState stop(const std::string& sessionId, const core::Actor& actor);
    /// Whether the session is being recorded now.
    bool active(const std::string& sessionId) const;
    std::size_t activeCount() const;

    // ---- the catalog -------------------------------------------------------
    std::vector<store::RecordingRecord> list(const store::RecordingFilter& filter) const;
    /// 404 RECORDING_NOT_FOUND for an unknown id.
    store::RecordingRecord get(const std::string& id) const;
    /// Opens an available recording for download. 404 RECORDING_NOT_FOUND,
    /// 409 RECORDING_NOT_AVAILABLE (recording/failed/deleted), 503
    /// RECORDING_UNAVAILABLE (no key), 500-free: a damaged file is 409
    /// RECORDING_DAMAGED with the reason.
    MediaAccess openMedia(const std::string& id) const;
    /// Audits one access (`range` "bytes=a-b" or "full").
    void auditAccess(const store::RecordingRecord& row, const core::Actor& actor, const std::string& range,
                     int status) const;
    /// DELETE: file removed, row "deleted", audited. 404 / 409 RECORDING_IN_PROGRESS.
    store::RecordingRecord remove(const std::string& id, const core::Actor& actor);
    /// Deletes available/failed recordings created before now - retention_days
    /// (no-op when retention_days is 0), each audited as actor "system"
    /// (action recording.expired). Returns how many were deleted.
    int sweepExpired(std::int64_t nowMillis);

    RecordingCatalog& catalog() { return *catalog_; }

private:
    struct Active;
    void observe(const store::SessionRecord& session);
    void post(std::function<void()> task);
    void workerMain();
    void event(const std::string& sessionId, const std::string& type, const std::string& severity,
               const std::string& dataJson);
    SessionRecordingState stateOf(const std::string& sessionId, const Active* active) const;
    void stopActive(const std::string& sessionId, const std::string& reason, const core::Actor& actor);
    std::shared_ptr<Active> startNative(const store::SessionRecord& session, const core::Actor& actor);
    std::string unavailableReason() const;
    Provider& providerOf(const store::SessionRecord& session) const;
    static SessionView viewOf(const store::SessionRecord& session);

    store::Store& store_;
    core::ConfigSource config_;
    core::Metrics& metrics_;
    std::unique_ptr<RecordingCatalog> catalog_;
    std::string keyProblem_;  // why there is no key ("" when there is one)

    // Set by attach(), read-only afterwards (until detach()).
    core::SessionService* sessions_ = nullptr;
    plugins::PluginHost* plugins_ = nullptr;
    signal::SignalingRooms* rooms_ = nullptr;
    plugins::IceServerSource iceServers_;
    std::unique_ptr<LiveRecorderFactory> factory_;

    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Active>> active_;  // by session id; guarded by mutex_
    std::map<std::string, std::shared_ptr<std::mutex>> sessionLocks_;  // serialise start/stop per session
    bool detached_ = false;                                   // guarded by mutex_

    std::mutex workMutex_;
    std::condition_variable workChanged_;
    std::deque<std::function<void()>> work_;  // guarded by workMutex_
    bool workStopping_ = false;               // guarded by workMutex_
    std::thread worker_;
};

}  // namespace consultd::recording
