#include "recording/RecordingService.h"

#include "recording/RecordingRepair.h"

#include "core/ApiError.h"
#include "util/Crypto.h"
#include "util/Time.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace consultd::recording {
namespace fs = std::filesystem;
using core::ApiError;

namespace {

Poco::Logger& log() { return Poco::Logger::get("recording"); }

std::string stringify(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

bool closedStatus(const std::string& status) {
    return status == "ended" || status == "cancelled" || status == "failed";
}

store::AuditRecord auditOf(const core::Actor& actor, const std::string& action, const std::string& target,
                           const Poco::JSON::Object& details) {
    store::AuditRecord audit;
    audit.actor = actor.name;
    audit.requestId = actor.requestId;
    audit.action = action;
    audit.target = target;
    audit.detailsJson = stringify(details);
    return audit;
}

const core::Actor kSystem{"system", ""};

/// The key file: the configured one, or <state_dir>/recording.key, made
/// (32 random bytes as hex, mode 0600) when the default one is absent.
std::shared_ptr<const RecordingKey> loadKey(const config::Config& config, std::string& problem) {
    const std::string path = recordingKeyPathFrom(config);
    const bool isDefault = config.getPath("recording.key_file").empty();
    try {
        std::error_code ec;
        if (isDefault && !fs::exists(path, ec)) {
            const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
            const std::string hex = util::hexEncode(util::randomBytes(32)) + "\n";
            const bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
            ::close(fd);
            if (!ok) throw std::runtime_error("cannot write " + path);
            log().notice("created the recording key " + path + " (mode 0600): back it up separately from the "
                                                                  "recordings; losing it loses them");
        }
        bool tooOpen = false;
        auto key = std::make_shared<const RecordingKey>(RecordingKey::loadFromFile(path, &tooOpen));
        if (tooOpen) log().warning("recording key " + path + " is readable by others or by a group that is not consultd's; chmod 0600, or 0640 root:consultd");
        return key;
    } catch (const std::exception& e) {
        problem = std::string("no usable recording key: ") + e.what();
        log().error(problem + "; recording is disabled until this is fixed");
        return nullptr;
    }
}

}  // namespace

fs::path recordingDirFrom(const config::Config& config) {
    const std::string dir = config.getPath("recording.dir");
    if (!dir.empty()) return dir;
    return fs::path(config.getPath("storage.state_dir")) / "recordings";
}

std::string recordingKeyPathFrom(const config::Config& config) {
    const std::string path = config.getPath("recording.key_file");
    if (!path.empty()) return path;
    return (fs::path(config.getPath("storage.state_dir")) / "recording.key").string();
}

/// One session being recorded.
struct RecordingService::Active {
    std::string sessionId;
    std::string mode;  // native | provider
    std::int64_t startedAt = 0;
    std::unique_ptr<LiveRecording> live;
    std::mutex filesMutex;
    std::map<std::string, std::string> recordingByPath;  // final path -> recording id; guarded by filesMutex
    std::map<std::string, std::vector<std::string>> openByParticipant;  // participant -> ids not finished yet
};

RecordingService::RecordingService(store::Store& store, core::ConfigSource config, core::Metrics& metrics)
    : store_(store), config_(std::move(config)), metrics_(metrics) {
    const auto cfg = config_();
    auto key = loadKey(*cfg, keyProblem_);
    catalog_ = std::make_unique<RecordingCatalog>(store_, recordingDirFrom(*cfg), std::move(key));
    if (!catalog_->ensureDir()) {
        log().error("recording.dir " + catalog_->dir().string() + " cannot be created; recordings will fail");
    }
    worker_ = std::thread([this] { workerMain(); });
    metrics_.addCollector([this](std::string& out) {
        out += "# HELP consultd_recordings_active Sessions being recorded now.\n"
               "# TYPE consultd_recordings_active gauge\nconsultd_recordings_active " +
               std::to_string(activeCount()) + "\n";
        out += "# HELP consultd_recordings Recordings by status.\n# TYPE consultd_recordings gauge\n";
        try {
            for (const auto& row : catalog_->rows().countByStatus()) {
                out += "consultd_recordings{status=\"" + row.status + "\"} " + std::to_string(row.count) + "\n";
            }
        } catch (const std::exception& e) {
            log().warning(std::string("recordings by status unavailable: ") + e.what());
        }
    });
}

RecordingService::~RecordingService() {
    detach("daemon stopping");
    {
        std::lock_guard lock(workMutex_);
        workStopping_ = true;
    }
    workChanged_.notify_all();
    if (worker_.joinable()) worker_.join();
}

// ---- worker ------------------------------------------------------------------------

void RecordingService::post(std::function<void()> task) {
    {
        std::lock_guard lock(workMutex_);
        if (workStopping_) return;
        work_.push_back(std::move(task));
    }
    workChanged_.notify_one();
}

void RecordingService::workerMain() {
    std::unique_lock lock(workMutex_);
    for (;;) {
        workChanged_.wait(lock, [this] { return workStopping_ || !work_.empty(); });
        if (work_.empty()) return;  // stopping and drained
        auto task = std::move(work_.front());
        work_.pop_front();
        lock.unlock();
        try {
            task();
        } catch (const std::exception& e) {
            log().error(std::string("recording task failed: ") + e.what());
        }
        lock.lock();
    }
}

// ---- events ------------------------------------------------------------------------

void RecordingService::event(const std::string& sessionId, const std::string& type, const std::string& severity,
                             const std::string& dataJson) {
    if (sessions_ == nullptr) return;
    store::EventRecord e;
    e.type = type;
    e.severity = severity;
    e.source = "system";
    e.dataJson = dataJson;
    try {
        sessions_->addEvent(sessionId, std::move(e));
    } catch (const std::exception& error) {
        log().warning("session " + sessionId + ": event " + type + " not stored: " + error.what());
    }
}

// ---- attach / detach -----------------------------------------------------------------

RecoveryReport RecordingService::recoverInterrupted() {
    RecoveryReport report;
    if (!catalog_->hasKey()) {
        // Without the key nothing can be repaired: mark them failed rather than leave them "recording".
        for (const auto& row : catalog_->rows().listByStatus("recording", 10000)) {
            Poco::JSON::Object details;
            details.set("reason", "interrupted; " + keyProblem_);
            if (auto changed = catalog_->fail(row.id, "interrupted; " + keyProblem_,
                                              auditOf(kSystem, "recording.failed", row.id, details))) {
                ++report.failed;
                report.rows.push_back(*changed);
            }
        }
    } else {
        report = catalog_->recoverInterrupted();
    }
    for (const auto& row : report.rows) {
        store::EventRecord e;
        e.sessionId = row.sessionId;
        e.type = row.status == "available" ? "recording_recovered" : "recording_failed";
        e.severity = row.status == "available" ? "warning" : "error";
        e.source = "system";
        Poco::JSON::Object data;
        data.set("recording_id", row.id);
        data.set("participant_id", row.participantId);
        data.set("reason", row.reason);
        e.dataJson = stringify(data);
        try {
            store_.appendEvent(e);  // SessionService does not exist yet at this point
        } catch (const std::exception& error) {
            log().warning("recording " + row.id + ": event not stored: " + error.what());
        }
        log().warning("recording " + row.id + " of session " + row.sessionId + " was interrupted: now " + row.status +
                      " (" + row.reason + ")");
    }
    return report;
}

void RecordingService::attach(core::SessionService& sessions, plugins::PluginHost& plugins,
                              signal::SignalingRooms* rooms, plugins::IceServerSource iceServers,
                              std::unique_ptr<LiveRecorderFactory> factory) {
    sessions_ = &sessions;
    plugins_ = &plugins;
    rooms_ = rooms;
    iceServers_ = std::move(iceServers);
    factory_ = std::move(factory);
    sessions.addStatusObserver([this](const store::SessionRecord& session) { observe(session); });
}

void RecordingService::detach(const std::string& reason) {
    std::vector<std::string> sessions;
    {
        std::lock_guard lock(mutex_);
        if (detached_) return;
        detached_ = true;
        for (const auto& [id, active] : active_) sessions.push_back(id);
    }
    for (const auto& id : sessions) {
        try {
            stopActive(id, reason, kSystem);
        } catch (const std::exception& e) {
            log().error("session " + id + ": recording not stopped cleanly: " + e.what());
        }
    }
    // Work queued meanwhile (a stop at session end) runs now, then no more:
    // sessions and signaling go away after this.
    {
        std::lock_guard lock(workMutex_);
        workStopping_ = true;
    }
    workChanged_.notify_all();
    if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

void RecordingService::observe(const store::SessionRecord& session) {
    // Called on the thread that changed the session: hand the work over.
    if (session.status == "active" && session.record) {
        const auto cfg = config_();
        if (!cfg->getBool("recording.auto_start")) return;
        const std::string id = session.id;
        post([this, id] {
            try {
                start(id, core::Actor{"system", "auto-start"});
            } catch (const ApiError& e) {
                if (e.code() == "RECORDING_ALREADY_ACTIVE") return;
                log().warning("session " + id + ": automatic recording did not start: " + e.what());
                Poco::JSON::Object data;
                data.set("reason", e.what());
                data.set("automatic", true);
                event(id, "recording_failed", "error", stringify(data));
            }
        });
    } else if (closedStatus(session.status)) {
        const std::string id = session.id;
        const std::string reason = "session " + session.status;
        if (!active(id)) return;
        post([this, id, reason] {
            try {
                stopActive(id, reason, kSystem);
            } catch (const std::exception& e) {
                log().error("session " + id + ": recording not stopped cleanly: " + e.what());
            }
        });
    }
}

// ---- start / stop ---------------------------------------------------------------------

Provider& RecordingService::providerOf(const store::SessionRecord& session) const {
    Provider* provider = plugins_ ? plugins_->find(session.provider) : nullptr;
    if (provider == nullptr) {
        throw ApiError(503, "PROVIDER_UNAVAILABLE", "provider " + session.provider + " is not loaded")
            .withRetryAfter(30);
    }
    return *provider;
}

SessionView RecordingService::viewOf(const store::SessionRecord& session) {
    SessionView view;
    view.id = session.id;
    view.consultationId = session.consultationId;
    view.mode = parseMode(session.mode).value_or(Mode::Video);
    view.roomName = session.roomName;
    view.providerRoomId = session.providerRoomId;
    view.record = session.record;
    return view;
}

std::string RecordingService::unavailableReason() const {
    if (!keyProblem_.empty()) return keyProblem_;
    if (!factory_) return "this consultd was built without GStreamer (native recording unavailable)";
    return {};
}

bool RecordingService::active(const std::string& sessionId) const {
    std::lock_guard lock(mutex_);
    return active_.count(sessionId) != 0;
}

std::size_t RecordingService::activeCount() const {
    std::lock_guard lock(mutex_);
    return active_.size();
}

SessionRecordingState RecordingService::stateOf(const std::string& sessionId, const Active* active) const {
    SessionRecordingState state;
    state.sessionId = sessionId;
    if (active) {
        state.recording = true;
        state.mode = active->mode;
        state.startedAt = active->startedAt;
    }
    store::RecordingFilter filter;
    filter.sessionId = sessionId;
    filter.limit = 200;
    state.recordings = catalog_->rows().list(filter);
    return state;
}

SessionRecordingState RecordingService::start(const std::string& sessionId, const core::Actor& actor) {
    if (sessions_ == nullptr) {
        throw ApiError(503, "RECORDING_UNAVAILABLE", "recording is not ready yet").withRetryAfter(5);
    }
    const auto session = sessions_->get(sessionId);  // 404 SESSION_NOT_FOUND
    std::shared_ptr<std::mutex> sessionLock;
    {
        std::lock_guard lock(mutex_);
        if (detached_) throw ApiError(503, "RECORDING_UNAVAILABLE", "the daemon is stopping").withRetryAfter(30);
        auto& slot = sessionLocks_[sessionId];
        if (!slot) slot = std::make_shared<std::mutex>();
        sessionLock = slot;
    }
    std::lock_guard serial(*sessionLock);
    {
        std::lock_guard lock(mutex_);
        if (active_.count(sessionId) != 0) {
            throw ApiError(409, "RECORDING_ALREADY_ACTIVE", "this session is being recorded already");
        }
    }
    if (session.status != "active") {
        throw ApiError(409, "SESSION_NOT_ACTIVE",
                       "recording starts once the session is active (it is " + session.status + ")");
    }
    const auto cfg = config_();
    auto active = std::make_shared<Active>();
    active->sessionId = sessionId;
    active->startedAt = util::nowMillis();
    if (session.provider == "webrtc") {
        const std::string problem = unavailableReason();
        if (!problem.empty()) throw ApiError(503, "RECORDING_UNAVAILABLE", problem).withRetryAfter(60);
        if (activeCount() >= static_cast<std::size_t>(cfg->getInt("recording.max_concurrent"))) {
            throw ApiError(503, "RECORDING_CAPACITY",
                           "the appliance records " + std::to_string(cfg->getInt("recording.max_concurrent")) +
                               " sessions at once (recording.max_concurrent)")
                .withRetryAfter(30);
        }
        active = startNative(session, actor);
    } else {
        // Provider-side recording (Jitsi/JaaS/Vonage archives): the plugin's job.
        Provider& provider = providerOf(session);
        if (!provider.capabilities().recording) {
            throw ApiError(422, "RECORDING_NOT_SUPPORTED",
                           "provider " + session.provider + " cannot record; only webrtc records on the appliance")
                .withDetail("provider", session.provider);
        }
        const SessionView view = viewOf(session);
        sessions_->callProvider(session.provider, "startRecording", [&] { provider.startRecording(view); });
        active->mode = "provider";
    }
    {
        std::lock_guard lock(mutex_);
        active_[sessionId] = active;
    }
    Poco::JSON::Object data;
    data.set("mode", active->mode);
    data.set("by", actor.name);
    event(sessionId, "recording_started", "info", stringify(data));
    Poco::JSON::Object details;
    details.set("mode", active->mode);
    try {
        store_.appendAudit(auditOf(actor, "recording.started", sessionId, details));
    } catch (const std::exception& e) {
        log().warning(std::string("audit of recording.started failed: ") + e.what());
    }
    log().information("session " + sessionId + ": recording started (" + active->mode + ") by " + actor.name);
    return stateOf(sessionId, active.get());
}

SessionRecordingState RecordingService::stop(const std::string& sessionId, const core::Actor& actor) {
    if (sessions_ == nullptr) {
        throw ApiError(503, "RECORDING_UNAVAILABLE", "recording is not ready yet").withRetryAfter(5);
    }
    sessions_->get(sessionId);  // 404 SESSION_NOT_FOUND
    if (!active(sessionId)) throw ApiError(409, "RECORDING_NOT_ACTIVE", "this session is not being recorded");
    stopActive(sessionId, "stopped", actor);
    return stateOf(sessionId, nullptr);
}

void RecordingService::stopActive(const std::string& sessionId, const std::string& reason, const core::Actor& actor) {
    std::shared_ptr<std::mutex> sessionLock;
    {
        std::lock_guard lock(mutex_);
        auto& slot = sessionLocks_[sessionId];
        if (!slot) slot = std::make_shared<std::mutex>();
        sessionLock = slot;
    }
    std::lock_guard serial(*sessionLock);
    std::shared_ptr<Active> active;
    {
        std::lock_guard lock(mutex_);
        const auto it = active_.find(sessionId);
        if (it == active_.end()) return;  // stopped meanwhile
        active = it->second;
    }
    if (active->mode == "native") {
        if (active->live) active->live->stop();  // finalises every file (fileFinished for each)
    } else {
        try {
            const auto session = sessions_->get(sessionId);
            Provider& provider = providerOf(session);
            const SessionView view = viewOf(session);
            sessions_->callProvider(session.provider, "stopRecording", [&] { provider.stopRecording(view); });
        } catch (const std::exception& e) {
            log().warning("session " + sessionId + ": provider recording stop failed: " + e.what());
        }
    }
    {
        std::lock_guard lock(mutex_);
        active_.erase(sessionId);
        sessionLocks_.erase(sessionId);
    }
    Poco::JSON::Object data;
    data.set("mode", active->mode);
    data.set("reason", reason);
    data.set("by", actor.name);
    Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
    {
        store::RecordingFilter filter;
        filter.sessionId = sessionId;
        filter.limit = 200;
        for (const auto& row : catalog_->rows().list(filter)) {
            if (row.createdAt + 1000 < active->startedAt) continue;  // earlier recordings of this session
            files->add(row.id);
        }
    }
    data.set("recording_ids", files);
    event(sessionId, "recording_stopped", "info", stringify(data));
    Poco::JSON::Object details;
    details.set("reason", reason);
    try {
        store_.appendAudit(auditOf(actor, "recording.stopped", sessionId, details));
    } catch (const std::exception& e) {
        log().warning(std::string("audit of recording.stopped failed: ") + e.what());
    }
    log().information("session " + sessionId + ": recording stopped (" + reason + ")");
}

std::shared_ptr<RecordingService::Active> RecordingService::startNative(const store::SessionRecord& session,
                                                                        const core::Actor&) {
    const auto cfg = config_();
    auto active = std::make_shared<Active>();
    active->sessionId = session.id;
    active->mode = "native";
    active->startedAt = util::nowMillis();
    catalog_->ensureDir();  // removed meanwhile? made again, or the recorder reports why not

    LiveRecordingRequest request;
    request.sessionId = session.id;
    request.dir = catalog_->dir();
    request.key = catalog_->sharedKey();
    if (iceServers_) request.iceServers = iceServers_(session.id, request.participantId);
    request.relayOnly = cfg->getString("recording.ice_transport_policy") == "relay";
    request.localAddresses = cfg->getStringList("recording.local_addresses");
    request.rooms = rooms_;

    std::weak_ptr<Active> weak = active;
    const std::string sessionId = session.id;
    LiveRecordingEvents events;
    events.beginFile = [this, weak, sessionId](const std::string& participantId, const std::string& container,
                                               const std::vector<std::string>& tracks) {
        auto self = weak.lock();
        NewRecording what;
        what.sessionId = sessionId;
        what.participantId = participantId;
        what.source = "native";
        what.container = container;
        what.tracks = tracks;
        Poco::JSON::Object details;
        details.set("session_id", sessionId);
        details.set("participant_id", participantId);
        const auto row = catalog_->begin(what, auditOf(kSystem, "recording.file_started", "", details));
        const fs::path path = catalog_->finalPath(row);
        if (self) {
            std::lock_guard lock(self->filesMutex);
            self->recordingByPath[path.string()] = row.id;
            self->openByParticipant[participantId].push_back(row.id);
        }
        return path;
    };
    events.fileFinished = [this, weak, sessionId](const LiveFileResult& result) {
        auto self = weak.lock();
        std::string id;
        if (self) {
            std::string key = result.file.string();
            for (const char* suffix : {kPartialSuffix, kFailedSuffix}) {
                const std::string s = suffix;
                if (key.size() > s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0) {
                    key.resize(key.size() - s.size());
                }
            }
            std::lock_guard lock(self->filesMutex);
            const auto it = self->recordingByPath.find(key);
            if (it != self->recordingByPath.end()) {
                id = it->second;
                auto& open = self->openByParticipant[result.participantId];
                open.erase(std::remove(open.begin(), open.end(), id), open.end());
            }
        }
        if (id.empty()) {
            if (!result.ok) {
                log().warning("session " + sessionId + ": participant " + result.participantId +
                              " not recorded: " + result.reason);
            }
            return;
        }
        Poco::JSON::Object data;
        data.set("recording_id", id);
        data.set("participant_id", result.participantId);
        data.set("reason", result.reason);
        try {
            if (result.ok) {
                CompletedRecording done;
                done.bytes = result.bytes;
                done.durationMs = result.duration.count();
                done.tracks = result.tracks;
                done.reason = result.reason;
                Poco::JSON::Object details;
                details.set("bytes", static_cast<Poco::Int64>(result.bytes));
                details.set("duration_ms", static_cast<Poco::Int64>(result.duration.count()));
                catalog_->complete(id, done, auditOf(kSystem, "recording.file_finished", id, details));
                data.set("bytes", static_cast<Poco::Int64>(result.bytes));
                data.set("duration_seconds", static_cast<double>(result.duration.count()) / 1000.0);
                event(sessionId, "recording_available", "info", stringify(data));
            } else {
                log().warning("session " + sessionId + ": recording " + id + " of " + result.participantId +
                              " failed: " + result.reason + " (the call goes on)");
                Poco::JSON::Object details;
                details.set("reason", result.reason);
                catalog_->fail(id, result.reason, auditOf(kSystem, "recording.failed", id, details));
                event(sessionId, "recording_failed", "error", stringify(data));
            }
        } catch (const std::exception& e) {
            log().error("recording " + id + ": cannot update its state: " + e.what());
        }
    };
    events.participantFailed = [this, weak, sessionId](const std::string& participantId, const std::string& reason) {
        std::vector<std::string> open;
        if (auto self = weak.lock()) {
            std::lock_guard lock(self->filesMutex);
            open = std::move(self->openByParticipant[participantId]);
            self->openByParticipant.erase(participantId);
        }
        for (const auto& id : open) {
            Poco::JSON::Object details;
            details.set("reason", reason);
            try {
                catalog_->fail(id, reason, auditOf(kSystem, "recording.failed", id, details));
            } catch (const std::exception& e) {
                log().error("recording " + id + ": cannot mark it failed: " + e.what());
            }
        }
        Poco::JSON::Object data;
        data.set("participant_id", participantId);
        data.set("reason", reason);
        if (!open.empty()) data.set("recording_id", open.front());
        event(sessionId, "recording_failed", "error", stringify(data));
    };
    events.detached = [this, sessionId](const std::string& reason) {
        // The room closed under the recorder (session ended elsewhere): finalise.
        post([this, sessionId, reason] { stopActive(sessionId, reason, kSystem); });
    };
    events.log = [sessionId](const std::string& participantId, const std::string& line) {
        log().information("session " + sessionId + " recorder/" + participantId + ": " + line);
    };
    try {
        active->live = factory_->start(request, std::move(events));
    } catch (const std::exception& e) {
        Poco::JSON::Object data;
        data.set("reason", e.what());
        event(session.id, "recording_failed", "error", stringify(data));
        throw ApiError(503, "RECORDING_UNAVAILABLE", std::string("the recorder could not start: ") + e.what())
            .withRetryAfter(10);
    }
    return active;
}

// ---- catalog -------------------------------------------------------------------------

std::vector<store::RecordingRecord> RecordingService::list(const store::RecordingFilter& filter) const {
    return catalog_->rows().list(filter);
}

store::RecordingRecord RecordingService::get(const std::string& id) const {
    auto row = catalog_->rows().find(id);
    if (!row) throw ApiError(404, "RECORDING_NOT_FOUND", "no recording with this id");
    return *row;
}

MediaAccess RecordingService::openMedia(const std::string& id) const {
    MediaAccess access;
    access.row = get(id);
    if (access.row.status != "available") {
        throw ApiError(409, "RECORDING_NOT_AVAILABLE", "the recording is " + access.row.status)
            .withDetail("status", access.row.status);
    }
    if (!catalog_->hasKey()) throw ApiError(503, "RECORDING_UNAVAILABLE", keyProblem_).withRetryAfter(60);
    try {
        access.reader = catalog_->openReader(access.row);
    } catch (const RecordingError& e) {
        log().error("recording " + id + " cannot be read (" + toString(e.kind()) + "): " + e.what());
        throw ApiError(409, "RECORDING_DAMAGED", std::string("the recording cannot be read: ") + toString(e.kind()))
            .withDetail("problem", toString(e.kind()));
    }
    access.contentType = RecordingCatalog::contentType(access.row.container);
    return access;
}

void RecordingService::auditAccess(const store::RecordingRecord& row, const core::Actor& actor,
                                   const std::string& range, int status) const {
    Poco::JSON::Object details;
    details.set("session_id", row.sessionId);
    details.set("range", range);
    details.set("status", status);
    store_.appendAudit(auditOf(actor, "recording.accessed", row.id, details));
}

store::RecordingRecord RecordingService::remove(const std::string& id, const core::Actor& actor) {
    const auto row = get(id);
    if (row.status == "recording") {
        throw ApiError(409, "RECORDING_IN_PROGRESS", "the recording is still being written; stop it first");
    }
    if (row.status == "deleted") throw ApiError(404, "RECORDING_NOT_FOUND", "the recording was deleted");
    Poco::JSON::Object details;
    details.set("session_id", row.sessionId);
    details.set("bytes", static_cast<Poco::Int64>(row.bytes));
    try {
        auto deleted = catalog_->remove(id, "deleted by " + actor.name, auditOf(actor, "recording.deleted", id, details));
        if (!deleted) throw ApiError(404, "RECORDING_NOT_FOUND", "the recording was deleted");
        Poco::JSON::Object data;
        data.set("recording_id", id);
        data.set("by", actor.name);
        event(row.sessionId, "recording_deleted", "info", stringify(data));
        return *deleted;
    } catch (const RecordingError& e) {
        throw ApiError(503, "RECORDING_UNAVAILABLE", std::string("the file could not be deleted: ") + e.what())
            .withRetryAfter(30);
    }
}

int RecordingService::sweepExpired(std::int64_t nowMillis) {
    const auto days = config_()->getInt("recording.retention_days");
    if (days <= 0) return 0;
    const std::int64_t cutoff = nowMillis - days * 86400LL * 1000LL;
    int deleted = 0;
    for (const auto& row : catalog_->rows().listExpired(cutoff, 500)) {
        Poco::JSON::Object details;
        details.set("session_id", row.sessionId);
        details.set("retention_days", static_cast<Poco::Int64>(days));
        details.set("created_at", util::formatRfc3339(row.createdAt));
        try {
            if (catalog_->remove(row.id, "expired (retention " + std::to_string(days) + " days)",
                                 auditOf(kSystem, "recording.expired", row.id, details))) {
                ++deleted;
                log().information("recording " + row.id + " deleted by retention (" + std::to_string(days) + " days)");
            }
        } catch (const std::exception& e) {
            log().error("retention: recording " + row.id + " not deleted: " + e.what());
        }
    }
    return deleted;
}

}  // namespace consultd::recording
