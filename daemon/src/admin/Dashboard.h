#pragma once
// The admin dashboard's picture of the appliance right now: open sessions
// with their participants, providers and their health, the TURN relay's
// allocations and bandwidth, signaling rooms and recordings in progress.
// GET /api/v1/admin/dashboard answers it once; GET /api/v1/admin/events
// streams it (Server-Sent Events) whenever it changes.
//
// Thread-safety: thread-safe. snapshot() may run on many HTTP threads at once
// (bandwidth is derived from the relay's byte counters under a mutex); the
// stream bookkeeping is guarded by the same mutex.

#include "plugins/PluginHost.h"
#include "store/Store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace consultd::admin {

/// Parts of the daemon the dashboard reads, each optional (empty = not running).
struct DashboardSources {
    /// TURN relay counters: allocations_active, tcp_connections_active,
    /// bytes_relayed (monotonic total); nullptr when no embedded relay runs.
    std::function<Poco::JSON::Object::Ptr()> turn;
    /// Signaling: connections, rooms, participants.
    std::function<Poco::JSON::Object::Ptr()> signaling;
    /// Recordings in progress (each an object with id, session_id, ...).
    std::function<Poco::JSON::Array::Ptr()> recordings;
};

class Dashboard {
public:
    Dashboard(store::Store& store, plugins::PluginHost& plugins, DashboardSources sources);

    /// The current picture. Keys: sessions {active, waiting, upcoming},
    /// session_counts, providers, turn, signaling, recordings. No timestamp
    /// of its own, so two snapshots of an unchanged appliance compare equal.
    Poco::JSON::Object::Ptr snapshot();
    /// snapshot() as JSON text, shared by every event stream: a text younger
    /// than `maxAge` is returned as is, so N open dashboards cost one
    /// snapshot per period instead of N.
    std::string snapshotText(std::chrono::milliseconds maxAge);

    /// Takes one of `max` stream slots; false when all are held or stopping.
    bool openStream(int max);
    void closeStream();
    /// Waits up to `period`; true when the daemon is stopping (streams end).
    bool waitOrStop(std::chrono::milliseconds period);
    /// Ends every stream (called before the HTTP server stops, which would
    /// otherwise wait for them).
    void stop();

private:
    store::Store& store_;
    plugins::PluginHost& plugins_;
    DashboardSources sources_;

    std::mutex mutex_;
    std::condition_variable wake_;
    int streams_ = 0;                   // guarded by mutex_
    bool stopping_ = false;             // guarded by mutex_
    std::uint64_t lastRelayed_ = 0;     // guarded by mutex_
    std::chrono::steady_clock::time_point lastSample_{};  // guarded by mutex_
    std::int64_t bandwidth_ = 0;        // guarded by mutex_
    std::string cachedText_;            // guarded by mutex_
    std::chrono::steady_clock::time_point cachedAt_{};  // guarded by mutex_
};

}  // namespace consultd::admin
