#include "recording/RecordingImporter.h"

#include "recording/ProviderDownload.h"
#include "util/Time.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>

#include <filesystem>
#include <sstream>

namespace fs = std::filesystem;

namespace consultd::recording {

namespace {

constexpr std::size_t kMaxQueued = 100;

std::string json(const Poco::JSON::Object& object) {
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

store::AuditRecord systemAudit(const std::string& action, const std::string& target, const Poco::JSON::Object& details) {
    store::AuditRecord audit;
    audit.at = util::nowMillis();
    audit.actor = "system";
    audit.action = action;
    audit.target = target;
    audit.detailsJson = json(details);
    return audit;
}

/// The allowed host patterns of `provider` from "provider:host" entries.
std::vector<std::string> hostsFor(const std::string& provider, const std::vector<std::string>& entries) {
    std::vector<std::string> hosts;
    const std::string prefix = provider + ":";
    for (const auto& entry : entries) {
        if (entry.rfind(prefix, 0) == 0 && entry.size() > prefix.size()) hosts.push_back(entry.substr(prefix.size()));
    }
    return hosts;
}

/// Writes the download encrypted, and starts over when the server does.
class EncryptedSink final : public DownloadSink {
public:
    EncryptedSink(std::string path, const RecordingKey& key) : path_(std::move(path)), key_(key) { open(); }
    ~EncryptedSink() override = default;

    void append(const char* data, std::size_t size) override {
        writer_->write(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data), size));
    }
    std::uint64_t size() const override { return writer_->size(); }
    void restart() override {
        writer_.reset();
        discard();
        open();
    }
    void finish() { writer_->finish(); }
    void close() { writer_.reset(); }
    void discard() noexcept {
        std::error_code ignored;
        fs::remove(path_, ignored);
    }
    const std::string& path() const noexcept { return path_; }

private:
    void open() { writer_ = std::make_unique<EncryptedRecordingWriter>(path_, key_); }

    std::string path_;
    const RecordingKey& key_;
    std::unique_ptr<EncryptedRecordingWriter> writer_;
};

}  // namespace

std::optional<ImportJob> RecordingImporter::jobFromEvent(const std::string& provider, const store::EventRecord& stored,
                                                         const ProviderEvent& original) {
    if (stored.type != "recording_available") return std::nullopt;
    try {
        Poco::JSON::Parser parser;
        const auto parsed = parser.parse(original.dataJson);
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return std::nullopt;
        const auto data = parsed.extract<Poco::JSON::Object::Ptr>();
        ImportJob job;
        job.provider = provider;
        job.sessionId = stored.sessionId;
        job.url = data->optValue<std::string>("download_url", "");
        job.providerRecordingId = data->optValue<std::string>("provider_recording_id", "");
        if (data->has("size_bytes")) job.expectedBytes = data->getValue<Poco::UInt64>("size_bytes");
        if (job.url.empty() || job.providerRecordingId.empty()) return std::nullopt;
        return job;
    } catch (const Poco::Exception&) {
        return std::nullopt;
    }
}

RecordingImporter::RecordingImporter(RecordingCatalog& catalog, store::Store& store, plugins::PluginHost& plugins,
                                     core::Metrics& metrics, core::ConfigSource config)
    : catalog_(catalog), store_(store), plugins_(plugins), metrics_(metrics), config_(std::move(config)) {}

RecordingImporter::~RecordingImporter() { stop(); }

void RecordingImporter::start() {
    std::lock_guard lock(mutex_);
    if (worker_.joinable()) return;
    // Downloads a crash cut short: their rows were marked failed by the
    // catalog's recovery (no ".partial" to repair); the encrypted leftovers go.
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(catalog_.dir(), error)) {
        if (entry.path().extension() == ".download") {
            std::error_code ignored;
            fs::remove(entry.path(), ignored);
            Poco::Logger::get("recordings").notice("removed the unfinished download " + entry.path().filename().string());
        }
    }
    stopping_ = false;
    worker_ = std::thread([this] { workerMain(); });
}

void RecordingImporter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
}

bool RecordingImporter::enqueue(ImportJob job) {
    if (!config_()->getBool("recording_import.enabled")) {
        Poco::Logger::get("recordings").information("session " + job.sessionId + ": provider " + job.provider +
                                                    " reports a recording; recording_import.enabled is false");
        return false;
    }
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= kMaxQueued) {
            Poco::Logger::get("recordings").warning("session " + job.sessionId +
                                                    ": recording import queue full; import dropped");
            metrics_.countRecordingImport(job.provider, "dropped");
            return false;
        }
        queue_.push_back(std::move(job));
    }
    wake_.notify_all();
    return true;
}

bool RecordingImporter::sleepFor(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, delay, [this] { return stopping_; });
    return !stopping_;
}

void RecordingImporter::workerMain() {
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        ImportJob job = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        try {
            runImport(job);
        } catch (const std::exception& e) {
            Poco::Logger::get("recordings").error("session " + job.sessionId + ": recording import failed: " + e.what());
        }
        lock.lock();
    }
}

void RecordingImporter::sessionEvent(const std::string& sessionId, const std::string& type,
                                     const std::string& severity, const std::string& dataJson) {
    store::EventRecord event;
    event.sessionId = sessionId;
    event.type = type;
    event.source = "system";
    event.severity = severity;
    event.dataJson = dataJson;
    event.createdAt = util::nowMillis();
    try {
        store_.appendEvent(event);
    } catch (const store::StoreError& e) {
        Poco::Logger::get("recordings").warning("session " + sessionId + ": event " + type + " not stored: " + e.what());
    }
}

void RecordingImporter::runImport(const ImportJob& job) {
    auto& log = Poco::Logger::get("recordings");
    const auto cfg = config_();
    if (auto existing = catalog_.rows().findByExternalId(job.sessionId, job.providerRecordingId)) {
        // A redelivered event, or an import already made: one row per archive.
        log.information("session " + job.sessionId + ": provider recording " + job.providerRecordingId +
                        " already imported (" + existing->id + ", " + existing->status + ")");
        return;
    }
    Poco::JSON::Object details;
    details.set("provider", job.provider);
    details.set("provider_recording_id", job.providerRecordingId);
    details.set("session_id", job.sessionId);

    NewRecording fresh;
    fresh.sessionId = job.sessionId;
    fresh.source = "import";
    fresh.container = "mp4";
    fresh.externalId = job.providerRecordingId;
    store::RecordingRecord row;
    try {
        row = catalog_.begin(fresh, systemAudit("recording.import_started", job.sessionId, details));
    } catch (const store::Conflict&) {
        return;  // a concurrent import of the same archive
    }
    details.set("recording_id", row.id);

    const auto fail = [&](const std::string& kind, const std::string& reason) {
        Poco::JSON::Object failure(details);
        failure.set("reason", reason);
        failure.set("kind", kind);
        catalog_.fail(row.id, "import failed: " + reason, systemAudit("recording.import_failed", row.id, failure));
        sessionEvent(job.sessionId, "recording_import_failed", "error", json(failure));
        metrics_.countRecordingImport(job.provider, kind);
        log.warning("session " + job.sessionId + ": import of provider recording " + job.providerRecordingId +
                    " as " + row.id + " failed (" + kind + "): " + reason);
    };

    DownloadPolicy policy;
    policy.allowedHosts = hostsFor(job.provider, cfg->getStringList("recording_import.allowed_hosts"));
    policy.caFile = cfg->getPath("recording_import.ca_file");
    policy.maxBytes = static_cast<std::uint64_t>(cfg->getInt("recording_import.max_bytes"));
    policy.timeout = std::chrono::seconds(cfg->getInt("recording_import.timeout_seconds"));
    policy.maxAttempts = static_cast<int>(cfg->getInt("recording_import.max_attempts"));
    policy.retryInitial = std::chrono::seconds(cfg->getInt("recording_import.retry_initial_seconds"));
    policy.retryMax = std::chrono::seconds(cfg->getInt("recording_import.retry_max_seconds"));
    if (job.expectedBytes > policy.maxBytes) {
        fail("too_large", "the provider reports " + std::to_string(job.expectedBytes) +
                              " bytes, above recording_import.max_bytes");
        return;
    }
    std::unique_ptr<RecordingDownloader> downloader;
    std::unique_ptr<EncryptedSink> sink;
    try {
        downloader = std::make_unique<RecordingDownloader>(policy);
        downloader->checkUrl(job.url);
        sink = std::make_unique<EncryptedSink>(catalog_.finalPath(row).string() + ".download", catalog_.key());
    } catch (const DownloadError& e) {
        fail(DownloadError::kindName(e.kind()), e.what());
        return;
    } catch (const std::exception& e) {
        fail("failed", e.what());
        return;
    }

    try {
        const DownloadResult result =
            downloader->download(job.url, *sink, [this](std::chrono::milliseconds d) { return sleepFor(d); });
        if (job.expectedBytes != 0 && result.bytes != job.expectedBytes) {
            throw DownloadError(DownloadError::Kind::Failed, "downloaded " + std::to_string(result.bytes) +
                                                                 " bytes, the provider reported " +
                                                                 std::to_string(job.expectedBytes));
        }
        sink->finish();
        sink->close();
        {
            // Verified: the file decrypts and holds exactly what arrived.
            EncryptedRecordingReader check(sink->path(), catalog_.key());
            if (check.size() != result.bytes) {
                throw DownloadError(DownloadError::Kind::Failed, "the stored file holds " + std::to_string(check.size()) +
                                                                     " bytes, " + std::to_string(result.bytes) +
                                                                     " arrived");
            }
        }
        fs::rename(sink->path(), catalog_.finalPath(row));
        CompletedRecording done;
        done.bytes = result.bytes;
        done.reason = "imported from " + job.provider + (result.resumed ? " (resumed)" : "");
        Poco::JSON::Object ok(details);
        ok.set("bytes", static_cast<Poco::UInt64>(result.bytes));
        ok.set("attempts", result.attempts);
        ok.set("resumed", result.resumed);
        catalog_.complete(row.id, done, systemAudit("recording.imported", row.id, ok));
        sessionEvent(job.sessionId, "recording_imported", "info", json(ok));
        metrics_.countRecordingImport(job.provider, "imported");
        log.information("session " + job.sessionId + ": provider recording imported as " + row.id + " (" +
                        std::to_string(result.bytes) + " bytes, " + std::to_string(result.attempts) + " attempt(s))");
    } catch (const DownloadError& e) {
        sink->close();
        sink->discard();
        fail(DownloadError::kindName(e.kind()), e.what());
        return;
    } catch (const std::exception& e) {
        sink->close();
        sink->discard();
        fail("failed", e.what());
        return;
    }

    if (cfg->getBool("recording_import.delete_provider_copy")) {
        Provider* provider = plugins_.find(job.provider);
        SessionView view;
        view.id = job.sessionId;
        if (auto session = store_.findSession(job.sessionId)) {
            view.roomName = session->roomName;
            view.providerRoomId = session->providerRoomId;
        }
        try {
            if (provider == nullptr) throw ProviderUnavailable("provider not loaded");
            provider->deleteRecording(view, job.providerRecordingId);
            log.information("session " + job.sessionId + ": provider copy " + job.providerRecordingId + " deleted");
        } catch (const std::exception& e) {
            // The local copy is safe; the provider's expires by its own retention.
            log.warning("session " + job.sessionId + ": the provider copy " + job.providerRecordingId +
                        " was not deleted: " + e.what());
        }
    }
}

}  // namespace consultd::recording
