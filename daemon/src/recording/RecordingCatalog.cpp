#include "recording/RecordingCatalog.h"

#include "recording/RecordingRepair.h"
#include "store/StoreClock.h"
#include "util/Crypto.h"

#include <sys/stat.h>

#include <system_error>

namespace consultd::recording {
namespace fs = std::filesystem;

namespace {

std::string extensionFor(const std::string& container) {
    if (container == "mp4") return ".mp4";  // imported provider archives
    return container == "webm" ? ".webm" : ".mkv";
}

bool fileExists(const fs::path& path) {
    std::error_code ec;
    return fs::exists(path, ec);
}

store::AuditRecord systemAudit(const std::string& action, const std::string& target, const std::string& details) {
    store::AuditRecord audit;
    audit.actor = "system";
    audit.action = action;
    audit.target = target;
    audit.detailsJson = details;
    return audit;
}

std::string jsonString(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            static const char* kHex = "0123456789abcdef";
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

}  // namespace

RecordingCatalog::RecordingCatalog(store::Store& store, fs::path dir, std::shared_ptr<const RecordingKey> key)
    : rows_(store), dir_(std::move(dir)), key_(std::move(key)) {}

bool RecordingCatalog::ensureDir() const {
    std::error_code ec;
    if (dir_.empty()) return false;
    if (fs::is_directory(dir_, ec)) return true;
    fs::create_directories(dir_, ec);
    if (ec) return false;
    ::chmod(dir_.c_str(), 0750);
    return true;
}

std::string RecordingCatalog::newId() {
    return "rec_" + util::randomBase32(15);
}

std::string RecordingCatalog::contentType(const std::string& container) {
    if (container == "mp4") return "video/mp4";
    return container == "webm" ? "video/webm" : "video/x-matroska";
}

const RecordingKey& RecordingCatalog::key() const {
    if (!key_) throw RecordingError(RecordingErrorKind::Usage, "no recording key configured (recording.key_file)");
    return *key_;
}

store::RecordingRecord RecordingCatalog::begin(const NewRecording& recording, const store::AuditRecord& audit) {
    store::RecordingRecord row;
    row.id = newId();
    row.sessionId = recording.sessionId;
    row.participantId = recording.participantId;
    row.source = recording.source;
    row.status = "recording";
    row.container = recording.container == "webm" || recording.container == "mp4" ? recording.container : "matroska";
    row.fileName = row.id + extensionFor(row.container);
    row.tracks = recording.tracks;
    row.externalId = recording.externalId;
    store::AuditRecord entry = audit;
    if (!entry.action.empty() && entry.target.empty()) entry.target = row.id;
    return rows_.insert(row, entry);
}

fs::path RecordingCatalog::finalPath(const store::RecordingRecord& row) const {
    // The name comes from our own id; never from a client.
    return dir_ / fs::path(row.fileName).filename();
}

fs::path RecordingCatalog::partialPath(const store::RecordingRecord& row) const {
    return fs::path(finalPath(row).string() + kPartialSuffix);
}

std::unique_ptr<EncryptedRecordingWriter> RecordingCatalog::openWriter(const store::RecordingRecord& row) const {
    return std::make_unique<EncryptedRecordingWriter>(partialPath(row).string(), key());
}

std::optional<store::RecordingRecord> RecordingCatalog::complete(const std::string& id,
                                                                 const CompletedRecording& done,
                                                                 const store::AuditRecord& audit) {
    auto row = rows_.find(id);
    if (!row || row->status != "recording") return std::nullopt;
    const fs::path final = finalPath(*row);
    const fs::path partial = partialPath(*row);
    if (!fileExists(final)) {
        if (!fileExists(partial)) {
            throw RecordingError(RecordingErrorKind::Io, "recording " + id + ": neither " + final.string() +
                                                             " nor its .partial exists");
        }
        std::error_code ec;
        fs::rename(partial, final, ec);
        if (ec) {
            throw RecordingError(RecordingErrorKind::Io,
                                 "renaming " + partial.string() + " to " + final.string() + ": " + ec.message());
        }
    }
    store::RecordingRecord updated = *row;
    updated.status = "available";
    updated.reason = done.reason;
    if (!done.tracks.empty()) updated.tracks = done.tracks;
    updated.durationMs = done.durationMs;
    updated.bytes = static_cast<std::int64_t>(done.bytes);
    if (done.bytes == 0) {
        try {
            updated.bytes = static_cast<std::int64_t>(EncryptedRecordingReader(final.string(), key()).size());
        } catch (const RecordingError&) {
            std::error_code ec;
            const auto onDisk = fs::file_size(final, ec);
            updated.bytes = ec ? 0 : static_cast<std::int64_t>(onDisk);
        }
    }
    updated.finishedAt = store::nowMillis();
    store::AuditRecord entry = audit;
    if (!entry.action.empty() && entry.target.empty()) entry.target = id;
    return rows_.transition(id, {"recording"}, updated, entry);
}

std::optional<store::RecordingRecord> RecordingCatalog::fail(const std::string& id, const std::string& reason,
                                                             const store::AuditRecord& audit) {
    auto row = rows_.find(id);
    if (!row || row->status != "recording") return std::nullopt;
    store::RecordingRecord updated = *row;
    updated.status = "failed";
    updated.reason = reason.empty() ? "failed" : reason;
    updated.finishedAt = store::nowMillis();
    // Whatever reached the disk stays as evidence; its size is what we know.
    for (const fs::path& path : {partialPath(*row), fs::path(finalPath(*row).string() + kFailedSuffix)}) {
        std::error_code ec;
        const auto size = fs::file_size(path, ec);
        if (!ec) {
            updated.bytes = static_cast<std::int64_t>(size);
            break;
        }
    }
    store::AuditRecord entry = audit;
    if (!entry.action.empty() && entry.target.empty()) entry.target = id;
    return rows_.transition(id, {"recording"}, updated, entry);
}

std::optional<store::RecordingRecord> RecordingCatalog::remove(const std::string& id, const std::string& reason,
                                                               const store::AuditRecord& audit) {
    auto row = rows_.find(id);
    if (!row || row->status == "deleted") return std::nullopt;
    if (row->status == "recording") {
        throw RecordingError(RecordingErrorKind::Usage, "recording " + id + " is still being written; stop it first");
    }
    const fs::path final = finalPath(*row);
    for (const fs::path& path :
         {final, partialPath(*row), fs::path(final.string() + kFailedSuffix)}) {
        std::error_code ec;
        fs::remove(path, ec);
        if (ec) {
            throw RecordingError(RecordingErrorKind::Io, "deleting " + path.string() + ": " + ec.message());
        }
    }
    store::RecordingRecord updated = *row;
    updated.status = "deleted";
    updated.reason = reason;
    if (updated.finishedAt == 0) updated.finishedAt = store::nowMillis();
    store::AuditRecord entry = audit;
    if (!entry.action.empty() && entry.target.empty()) entry.target = id;
    return rows_.transition(id, {"available", "failed"}, updated, entry);
}

std::unique_ptr<EncryptedRecordingReader> RecordingCatalog::openReader(const store::RecordingRecord& row) const {
    return std::make_unique<EncryptedRecordingReader>(finalPath(row).string(), key());
}

RecoveryReport RecordingCatalog::recoverInterrupted() {
    RecoveryReport report;
    for (;;) {
        auto interrupted = rows_.listByStatus("recording", 100);
        if (interrupted.empty()) break;
        for (const auto& row : interrupted) {
            const fs::path final = finalPath(row);
            const fs::path partial = partialPath(row);
            std::optional<store::RecordingRecord> changed;
            std::string reason;
            try {
                if (fileExists(final)) {
                    // The recorder renamed it but the daemon stopped before the row was updated.
                    EncryptedRecordingReader reader(final.string(), key());
                    CompletedRecording done;
                    done.bytes = reader.size();
                    done.tracks = row.tracks;
                    done.reason = "finalised before an interruption";
                    changed = complete(row.id, done,
                                       systemAudit("recording.recovered", row.id, R"({"outcome":"complete"})"));
                    if (changed) ++report.completed;
                } else if (fileExists(partial)) {
                    const RepairReport repair = repairEncryptedRecording(partial.string(), key());
                    if (repair.outcome == RepairReport::Outcome::Unrecoverable) {
                        reason = "interrupted and unrecoverable: " + repair.detail;
                        std::error_code ec;
                        fs::rename(partial, fs::path(final.string() + kFailedSuffix), ec);
                    } else {
                        CompletedRecording done;
                        done.bytes = repair.plaintextBytes;
                        done.tracks = row.tracks;
                        done.reason = "recovered after an interruption: " + repair.detail;
                        changed = complete(row.id, done,
                                           systemAudit("recording.recovered", row.id,
                                                       "{\"outcome\":\"repaired\",\"detail\":" +
                                                           jsonString(repair.detail) + "}"));
                        if (changed) ++report.repaired;
                    }
                } else {
                    reason = "interrupted before any media was written (no file)";
                }
            } catch (const RecordingError& error) {
                reason = std::string("interrupted; recovery failed (") + toString(error.kind()) + "): " + error.what();
            }
            if (!changed) {
                changed = fail(row.id, reason.empty() ? "interrupted" : reason,
                               systemAudit("recording.failed", row.id,
                                           "{\"reason\":" + jsonString(reason.empty() ? "interrupted" : reason) +
                                               "}"));
                if (changed) ++report.failed;
            }
            if (changed) {
                report.rows.push_back(*changed);
            } else {
                // Someone else moved it meanwhile: not ours to count, but do
                // not loop on it either.
                store::RecordingRecord gone = row;
                gone.status = "?";
                report.rows.push_back(gone);
            }
        }
        if (interrupted.size() < 100) break;
    }
    return report;
}

}  // namespace consultd::recording
