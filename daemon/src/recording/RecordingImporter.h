#pragma once
// Imports a provider's finished recording into the local encrypted store,
// exactly like a native recording (RecordingCatalog: a row in state
// "recording" first, the file, then "available" or "failed").
//
// Fed by `recording_available` provider events (webhooks). One worker thread
// downloads one recording at a time through RecordingDownloader (configured
// hosts only, verified TLS, bounded size, timeouts, retries with backoff,
// Range resume). The bytes go straight into an EncryptedRecordingWriter on
// "<file>.download" (nothing unencrypted touches the disk); only when the
// transfer is complete, the file finished and read back with the announced
// size is it renamed to its final name and the row marked available. A
// download cut by a crash leaves no ".partial", so the catalog's recovery at
// the next start marks the row failed instead of repairing half a file.
//
// Thread-safety: enqueue() from any thread; start()/stop() from one.

#include "core/ConfigSource.h"
#include "core/Metrics.h"
#include "plugins/PluginHost.h"
#include "recording/RecordingCatalog.h"
#include "store/Store.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace consultd::recording {

/// One recording to import.
struct ImportJob {
    std::string provider;
    std::string sessionId;
    std::string providerRecordingId;  ///< the archive id: the row's externalId
    std::string url;                  ///< never logged (pre-signed URLs are credentials)
    std::uint64_t expectedBytes = 0;  ///< from the event; 0 = unknown
};

class RecordingImporter {
public:
    /// Every reference must outlive the importer.
    RecordingImporter(RecordingCatalog& catalog, store::Store& store, plugins::PluginHost& plugins,
                      core::Metrics& metrics, core::ConfigSource config);
    ~RecordingImporter();
    RecordingImporter(const RecordingImporter&) = delete;
    RecordingImporter& operator=(const RecordingImporter&) = delete;

    /// Removes downloads a crash left behind (*.download), then starts the worker.
    void start();
    /// Stops the worker; a download in progress is abandoned (its row failed).
    void stop();

    /// Queues an import. False (and a warning) when imports are disabled or
    /// the queue is full.
    bool enqueue(ImportJob job);

    /// The import a `recording_available` provider event asks for (the
    /// original event's data: download_url, provider_recording_id,
    /// size_bytes; the session from the stored record); std::nullopt
    /// for any other event or one without a URL.
    static std::optional<ImportJob> jobFromEvent(const std::string& provider, const store::EventRecord& stored,
                                                 const ProviderEvent& original);

    /// Runs one import on the calling thread (the worker and tests).
    void runImport(const ImportJob& job);

private:
    void workerMain();
    bool sleepFor(std::chrono::milliseconds delay);
    void sessionEvent(const std::string& sessionId, const std::string& type, const std::string& severity,
                      const std::string& dataJson);

    RecordingCatalog& catalog_;
    store::Store& store_;
    plugins::PluginHost& plugins_;
    core::Metrics& metrics_;
    core::ConfigSource config_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<ImportJob> queue_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace consultd::recording
