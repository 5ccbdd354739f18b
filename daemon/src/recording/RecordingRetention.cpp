#include "recording/RecordingRetention.h"

#include "recording/RecordingService.h"
#include "util/Time.h"

#include <Poco/Logger.h>

namespace consultd::recording {

RecordingRetention::RecordingRetention(RecordingService& service, std::chrono::seconds interval)
    : service_(service), interval_(interval) {}

RecordingRetention::~RecordingRetention() { stop(); }

void RecordingRetention::start() {
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void RecordingRetention::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void RecordingRetention::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        try {
            const int deleted = service_.sweepExpired(util::nowMillis());
            if (deleted > 0) {
                Poco::Logger::get("recording").notice("retention: deleted " + std::to_string(deleted) +
                                                      " expired recording(s)");
            }
        } catch (const std::exception& e) {
            // The database may be briefly unavailable: try again next round.
            Poco::Logger::get("recording").error(std::string("retention sweep failed: ") + e.what());
        }
        lock.lock();
        wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
}

}  // namespace consultd::recording
