#include "signal/SignalingService.h"

#include "core/ApiError.h"

#include <Poco/Logger.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>

namespace consultd::signal {

std::optional<SessionSnapshot> SessionBackend::findSession(const std::string& sessionId) {
    try {
        const auto record = sessions_.get(sessionId);
        SessionSnapshot snapshot;
        snapshot.id = record.id;
        snapshot.status = record.status;
        for (const auto& p : record.participants) snapshot.participants.push_back({p.participantId, p.name, p.role});
        return snapshot;
    } catch (const core::ApiError&) {
        return std::nullopt;  // not found
    }
}

SessionBackend::SessionBackend(core::SessionService& sessions) : sessions_(sessions) {
    for (auto& recorder : recorders_) recorder.thread = std::thread([this, &recorder] { run(recorder); });
}

SessionBackend::~SessionBackend() { stop(); }

void SessionBackend::stop() {
    for (auto& recorder : recorders_) {
        {
            std::lock_guard lock(recorder.mutex);
            recorder.stopping = true;
        }
        recorder.changed.notify_all();
    }
    for (auto& recorder : recorders_) {
        if (recorder.thread.joinable()) recorder.thread.join();
    }
}

void SessionBackend::recordEvent(const std::string& sessionId, const std::string& type,
                                 const std::string& participantId, const std::string& dataJson) {
    Recorder& recorder = recorders_[std::hash<std::string>{}(sessionId) % kRecorders];
    std::unique_lock lock(recorder.mutex);
    if (recorder.stopping) {
        lock.unlock();
        store({sessionId, type, participantId, dataJson});  // shutting down: store inline
        return;
    }
    recorder.changed.wait(lock, [&] { return recorder.queue.size() < kMaxQueued || recorder.stopping; });
    recorder.queue.push_back({sessionId, type, participantId, dataJson});
    lock.unlock();
    recorder.changed.notify_all();
}

void SessionBackend::run(Recorder& recorder) {
    for (;;) {
        PendingEvent event;
        {
            std::unique_lock lock(recorder.mutex);
            recorder.changed.wait(lock, [&] { return recorder.stopping || !recorder.queue.empty(); });
            if (recorder.queue.empty()) return;  // stopping and drained
            event = std::move(recorder.queue.front());
            recorder.queue.pop_front();
        }
        recorder.changed.notify_all();  // room for a waiting producer
        store(event);
    }
}

void SessionBackend::store(const PendingEvent& pending) {
    store::EventRecord event;
    event.type = pending.type;
    event.participantId = pending.participantId;
    event.source = "system";
    event.dataJson = pending.dataJson;
    try {
        sessions_.addEvent(pending.sessionId, std::move(event));
    } catch (const std::exception& e) {
        Poco::Logger::get("signal").warning("session " + pending.sessionId + ": event " + pending.type +
                                            " not stored: " + e.what());
    }
}

void SessionBackend::endSession(const std::string& sessionId, const std::string& hostParticipantId) {
    sessions_.end(sessionId, "ended_by_host", "", {"participant:" + hostParticipantId, "signal"});
}

SignalingLimits limitsFrom(const config::Config& config) {
    SignalingLimits limits;
    limits.maxMessageBytes = static_cast<std::size_t>(config.getInt("signaling.max_message_bytes"));
    limits.messagesPerSecond = static_cast<int>(config.getInt("signaling.messages_per_second"));
    limits.violationsBeforeClose = static_cast<int>(config.getInt("signaling.violations_before_close"));
    limits.maxParticipantsPerRoom = static_cast<std::size_t>(config.getInt("signaling.max_participants_per_room"));
    limits.maxChatChars = static_cast<std::size_t>(config.getInt("signaling.max_chat_bytes"));
    limits.storeChat = config.getBool("signaling.store_chat");
    return limits;
}

HubOptions hubOptionsFrom(const config::Config& config) {
    HubOptions options;
    options.maxConnections = static_cast<std::size_t>(config.getInt("signaling.max_connections"));
    options.maxConnectionsPerAddress =
        static_cast<std::size_t>(config.getInt("signaling.max_connections_per_address"));
    options.workerThreads = static_cast<int>(config.getInt("signaling.worker_threads"));
    options.sendQueueMessages = static_cast<std::size_t>(config.getInt("signaling.send_queue_messages"));
    options.maxMessageBytes = static_cast<std::size_t>(config.getInt("signaling.max_message_bytes"));
    options.frameTimeout = std::chrono::milliseconds(config.getInt("signaling.frame_timeout_ms"));
    options.joinTimeout = std::chrono::seconds(config.getInt("signaling.join_timeout_seconds"));
    return options;
}

namespace {
std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}
}  // namespace

bool originAllowed(const std::string& origin, const std::string& publicUrl) {
    if (origin.empty()) return true;
    try {
        const Poco::URI got(origin);
        const Poco::URI want(publicUrl);
        return lower(got.getScheme()) == lower(want.getScheme()) && lower(got.getHost()) == lower(want.getHost()) &&
               got.getPort() == want.getPort() && (got.getPath().empty() || got.getPath() == "/");
    } catch (const Poco::Exception&) {
        return false;  // "null" and anything unparsable
    }
}

SignalingService::SignalingService(const config::Config& config, core::SessionService& sessions,
                                   const SignalingTokens& tokens)
    : backend_(sessions),
      hub_(hubOptionsFrom(config)),
      rooms_(backend_, hub_,
             [&tokens](const std::string& token, TokenProblem& problem) {
                 const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
                 return tokens.verify(token, now, problem);
             },
             limitsFrom(config)) {
    hub_.attach(rooms_);
}

SignalingService::~SignalingService() { stop(); }

void SignalingService::start() {
    hub_.start();
    reconciler_ = std::thread([this] { reconcile(); });
}

namespace {
/// Sessions only move forward; a status read from the store just before a
/// concurrent transition must not move a room back.
int statusRank(const std::string& status) {
    if (status == "scheduled") return 0;
    if (status == "waiting") return 1;
    if (status == "active") return 2;
    return 3;  // ended, cancelled, failed
}
}  // namespace

void SignalingService::reconcile() {
    constexpr auto kInterval = std::chrono::seconds(5);
    std::unique_lock lock(reconcileMutex_);
    while (!reconcileWake_.wait_for(lock, kInterval, [this] { return stopping_; })) {
        lock.unlock();
        for (const auto& [sessionId, known] : rooms_.roomStatuses()) {
            try {
                const auto session = backend_.findSession(sessionId);
                const std::string now = session ? session->status : "ended";  // deleted: treat as ended
                if (statusRank(now) > statusRank(known)) rooms_.onSessionStatus(sessionId, now);
            } catch (const std::exception& e) {
                Poco::Logger::get("signal").warning("session " + sessionId + ": status check failed: " + e.what());
            }
        }
        lock.lock();
    }
}

void SignalingService::stop() {
    {
        std::lock_guard lock(reconcileMutex_);
        stopping_ = true;
    }
    reconcileWake_.notify_all();
    if (reconciler_.joinable()) reconciler_.join();
    hub_.stop();
    backend_.stop();  // after the hub: nothing queues events any more
}

void SignalingService::setPublicUrl(std::string url) {
    std::lock_guard lock(urlMutex_);
    publicUrl_ = std::move(url);
}

std::string SignalingService::publicUrl() const {
    std::lock_guard lock(urlMutex_);
    return publicUrl_;
}

}  // namespace consultd::signal
