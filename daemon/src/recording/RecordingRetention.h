#pragma once
// The retention sweeper: a thread that deletes recordings older than
// recording.retention_days (RecordingService::sweepExpired, each deletion
// audited as recording.expired) once at start and then every
// recording.retention_interval_seconds.
//
// Thread-safety: start()/stop() from one thread; the sweep runs on its own.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace consultd::recording {

class RecordingService;

class RecordingRetention {
public:
    RecordingRetention(RecordingService& service, std::chrono::seconds interval);
    ~RecordingRetention();  // stops
    RecordingRetention(const RecordingRetention&) = delete;
    RecordingRetention& operator=(const RecordingRetention&) = delete;

    void start();
    void stop();

private:
    void run();

    RecordingService& service_;
    std::chrono::seconds interval_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace consultd::recording
