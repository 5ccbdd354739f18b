#include "consultd/media/SignalingRecorder.h"

#include "consultd/media/RecorderPeer.h"
#include "signal/SignalingRooms.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace consultd::media {
namespace {

using Poco::JSON::Object;

std::string stringify(const Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

std::vector<IceServer> toMediaIceServers(const std::vector<consultd::IceServer>& servers) {
    std::vector<IceServer> out;
    for (const auto& server : servers) {
        for (const auto& url : server.urls) out.push_back({url, server.username, server.credential});
    }
    return out;
}

class SignalingRecording final : public recording::LiveRecording {
public:
    SignalingRecording(const recording::LiveRecordingRequest& request, recording::LiveRecordingEvents events)
        : request_(request), events_(std::move(events)) {
        if (request_.rooms == nullptr) throw std::runtime_error("signaling is not running");
        RecorderConfig config;
        config.sessionId = request_.sessionId;
        config.outputDir = request_.dir;
        config.key = request_.key;
        config.iceServers = toMediaIceServers(request_.iceServers);
        config.icePolicy = request_.relayOnly ? IceTransportPolicy::RelayOnly : IceTransportPolicy::All;
        config.localAddresses = request_.localAddresses;
        config.fileFor = events_.beginFile;
        RecorderCallbacks callbacks;
        callbacks.onLocalDescription = [this](const std::string& to, const std::string& type, const std::string& sdp) {
            Object m(Poco::JSON_PRESERVE_KEY_ORDER);
            m.set("type", type);
            m.set("to", to);
            m.set("sdp", sdp);
            send(stringify(m));
        };
        callbacks.onLocalCandidate = [this](const std::string& to, unsigned mline, const std::string& candidate) {
            if (candidate.empty()) return;  // gathering complete: nothing to relay
            Object m(Poco::JSON_PRESERVE_KEY_ORDER);
            m.set("type", "ice-candidate");
            m.set("to", to);
            Object::Ptr c = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
            c->set("candidate", candidate);
            c->set("sdpMLineIndex", mline);
            m.set("candidate", c);
            send(stringify(m));
        };
        callbacks.onRecordingFinished = [this](const RecordingResult& result) {
            recording::LiveFileResult out;
            out.participantId = result.participantId;
            out.file = result.file;
            out.ok = result.ok;
            out.reason = result.reason;
            out.bytes = result.bytes;
            out.duration = std::chrono::duration_cast<std::chrono::milliseconds>(result.duration);
            out.tracks = result.tracks;
            if (events_.fileFinished) events_.fileFinished(out);
        };
        callbacks.onLog = [this](const std::string& who, const std::string& line) {
            if (events_.log) events_.log(who, line);
        };
        peer_ = std::make_unique<RecorderPeer>(std::move(config), std::move(callbacks));
        worker_ = std::thread([this] { run(); });

        signal::RoomParticipant self{request_.participantId, "Recorder", "recorder"};
        std::string problem;
        auto joined = request_.rooms->joinLocal(
            request_.sessionId, self, [this](const std::string& text) { enqueue(text); },
            [this](std::uint16_t, const std::string& reason) { enqueue(std::nullopt, reason); }, problem);
        if (!joined) {
            shutdownWorker();
            peer_.reset();
            throw std::runtime_error("the recorder cannot join the room: " + problem);
        }
        connection_ = joined->connection;
        joinedConnection_ = true;
        enqueue(joined->joinedText);
    }

    ~SignalingRecording() override { stop(); }

    void stop() override {
        std::lock_guard stopLock(stopMutex_);
        if (stopped_) return;
        // Finalise first (EOS, duration, cues, rename): media may still flow
        // while we do; then leave the room and stop handling its messages.
        stopping_ = true;
        if (peer_) peer_->stop();
        if (joinedConnection_) request_.rooms->leaveLocal(connection_);
        shutdownWorker();
        peer_.reset();
        stopped_ = true;
    }

private:
    struct Inbound {
        std::optional<std::string> text;  // nullopt: the room closed our connection
        std::string reason;
    };

    void send(const std::string& text) {
        if (joinedConnection_ && !stopping_) request_.rooms->sendFromLocal(connection_, text);
    }

    void enqueue(std::optional<std::string> text, std::string reason = {}) {
        {
            std::lock_guard lock(mutex_);
            if (workerStopping_) return;
            inbox_.push_back({std::move(text), std::move(reason)});
        }
        changed_.notify_one();
    }

    void shutdownWorker() {
        {
            std::lock_guard lock(mutex_);
            workerStopping_ = true;
            inbox_.clear();
        }
        changed_.notify_all();
        if (worker_.joinable()) worker_.join();
    }

    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            changed_.wait(lock, [this] { return workerStopping_ || !inbox_.empty(); });
            if (workerStopping_) return;
            Inbound next = std::move(inbox_.front());
            inbox_.pop_front();
            lock.unlock();
            try {
                handle(next);
            } catch (const std::exception& e) {
                if (events_.log) events_.log("", std::string("signaling message not handled: ") + e.what());
            }
            lock.lock();
        }
    }

    void detach(const std::string& reason) {
        if (detachReported_.exchange(true)) return;
        if (!stopping_ && events_.detached) events_.detached(reason);
    }

    void failParticipant(const std::string& who, const std::string& reason) {
        if (events_.log) events_.log(who, "negotiation failed: " + reason);
        if (events_.participantFailed) events_.participantFailed(who, reason);
        peer_->removeParticipant(who);
    }

    void handle(const Inbound& in) {
        if (stopping_) return;
        if (!in.text) {
            detach(in.reason.empty() ? "the signaling room closed" : in.reason);
            return;
        }
        Poco::JSON::Parser parser;
        const auto m = parser.parse(*in.text).extract<Object::Ptr>();
        const std::string type = m->optValue<std::string>("type", "");
        const std::string from = m->optValue<std::string>("from", "");
        if (type == "joined") {
            // Already in the room: we joined later, so we offer (recvonly).
            const auto others = m->getArray("participants");
            for (std::size_t i = 0; others && i < others->size(); ++i) {
                const auto p = others->getObject(static_cast<unsigned>(i));
                const std::string id = p->optValue<std::string>("id", "");
                if (id.empty() || p->optValue<std::string>("role", "") == "recorder") continue;
                try {
                    peer_->createOffer(id, true, true);
                } catch (const std::exception& e) {
                    failParticipant(id, e.what());
                }
            }
        } else if (type == "offer" && !from.empty()) {
            // A new offer from someone we record is a new peer connection (a
            // reconnect renegotiates from scratch): close their file, start another.
            const auto current = peer_->participants();
            if (std::find(current.begin(), current.end(), from) != current.end()) peer_->removeParticipant(from);
            try {
                peer_->handleOffer(from, m->optValue<std::string>("sdp", ""));
            } catch (const std::exception& e) {
                failParticipant(from, e.what());
            }
        } else if (type == "answer" && !from.empty()) {
            try {
                peer_->handleAnswer(from, m->optValue<std::string>("sdp", ""));
            } catch (const std::exception& e) {
                failParticipant(from, e.what());
            }
        } else if (type == "ice-candidate" && !from.empty()) {
            const auto c = m->getObject("candidate");
            if (!c) return;
            const std::string candidate = c->optValue<std::string>("candidate", "");
            if (candidate.empty()) return;  // end of candidates
            const auto mline = c->optValue<unsigned>("sdpMLineIndex", 0);
            peer_->addRemoteCandidate(from, mline, candidate);
        } else if (type == "participant-left") {
            const std::string who = m->optValue<std::string>("participant_id", "");
            if (!who.empty()) peer_->removeParticipant(who);
        } else if (type == "ended") {
            detach("session " + m->optValue<std::string>("status", "ended"));
        } else if (type == "error") {
            if (events_.log) {
                events_.log("", "signaling error " + m->optValue<std::string>("code", "") + ": " +
                                    m->optValue<std::string>("message", ""));
            }
        }
        // participant-joined: the newcomer offers to us (it joined later); media-state, chat: not ours.
    }

    recording::LiveRecordingRequest request_;
    recording::LiveRecordingEvents events_;
    std::unique_ptr<RecorderPeer> peer_;
    signal::ConnectionId connection_ = 0;
    std::atomic<bool> joinedConnection_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> detachReported_{false};

    std::mutex stopMutex_;
    bool stopped_ = false;  // guarded by stopMutex_

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Inbound> inbox_;    // guarded by mutex_
    bool workerStopping_ = false;  // guarded by mutex_
    std::thread worker_;
};

class SignalingRecorderFactory final : public recording::LiveRecorderFactory {
public:
    std::unique_ptr<recording::LiveRecording> start(const recording::LiveRecordingRequest& request,
                                                    recording::LiveRecordingEvents events) override {
        return std::make_unique<SignalingRecording>(request, std::move(events));
    }
};

}  // namespace

std::unique_ptr<recording::LiveRecorderFactory> makeSignalingRecorderFactory() {
    return std::make_unique<SignalingRecorderFactory>();
}

}  // namespace consultd::media
