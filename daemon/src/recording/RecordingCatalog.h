#pragma once
// The recordings the daemon keeps: rows of the `recordings` table
// (store::RecordingStore) together with their encrypted files under
// recording.dir. Every producer uses it the same way, the native recorder as
// well as a provider archive import:
//
//   auto row = catalog.begin({sessionId, participantId, "import", "webm"}, audit);
//   {   // write the file: EncryptedRecordingWriter on catalog.partialPath(row)
//       auto writer = catalog.openWriter(row);
//       writer->write(...); writer->finish();
//   }
//   catalog.complete(row.id, {bytes, durationMs, tracks}, audit);   // or fail(row.id, reason, audit)
//
// begin() inserts the row in state "recording" before a byte is written, so a
// crash always leaves a row that recoverInterrupted() repairs (RecordingRepair
// on the ".partial") or marks failed at the next start: never a silent loss.
//
// Thread-safety: thread-safe (the store is; files are per recording and each
// recording is written by one producer).

#include "recording/EncryptedRecordingReader.h"
#include "recording/EncryptedRecordingWriter.h"
#include "recording/RecordingCrypto.h"
#include "store/RecordingStore.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace consultd::recording {

/// What a producer is about to record.
struct NewRecording {
    std::string sessionId;
    std::string participantId;        ///< may be empty (an imported mixed archive)
    std::string source = "native";    ///< native | import
    std::string container = "webm";   ///< webm | matroska (decides the file extension and Content-Type)
    std::vector<std::string> tracks;  ///< known so far, e.g. {"video/VP8", "audio/OPUS"}; complete() may replace
    std::string externalId;           ///< provider archive id of an import ("" for native)
};

/// What a producer reports when its file is finalised.
struct CompletedRecording {
    std::uint64_t bytes = 0;          ///< 0 = take the plaintext size from the file
    std::int64_t durationMs = 0;
    std::vector<std::string> tracks;  ///< empty = keep the row's
    std::string reason;               ///< optional note ("stopped", "participant left", ...)
};

/// What recoverInterrupted() did at start.
struct RecoveryReport {
    int repaired = 0;      ///< ".partial" recovered by RecordingRepair: now available
    int completed = 0;     ///< the file was finalised but the row not updated: now available
    int failed = 0;        ///< nothing recoverable: marked failed with the reason
    std::vector<store::RecordingRecord> rows;  ///< every row changed, as stored
};

class RecordingCatalog {
public:
    /// `store` must outlive the catalog. `dir` is recording.dir (see
    /// ensureDir()). `key` may be null when no key is configured:
    /// then listing, deleting and failing work, and writing, reading and
    /// repairing throw RecordingError(Usage, "no recording key configured").
    RecordingCatalog(store::Store& store, std::filesystem::path dir, std::shared_ptr<const RecordingKey> key);

    /// A fresh recording id: "rec_" + 24 base32 characters.
    static std::string newId();
    /// "video/webm" for webm, "video/x-matroska" otherwise.
    static std::string contentType(const std::string& container);

    const std::filesystem::path& dir() const noexcept { return dir_; }
    /// Creates recording.dir (mode 0750) when missing; false when it cannot
    /// (an unwritable or missing folder is reported when a recording starts:
    /// the call goes on, the recording fails with the reason). Only the
    /// daemon calls it, so the folder belongs to the service user.
    bool ensureDir() const;
    bool hasKey() const noexcept { return key_ != nullptr; }
    /// The key; throws RecordingError(Usage) when none is configured.
    const RecordingKey& key() const;
    std::shared_ptr<const RecordingKey> sharedKey() const { return key_; }
    store::RecordingStore& rows() noexcept { return rows_; }
    const store::RecordingStore& rows() const noexcept { return rows_; }

    /// Inserts the row (status "recording", file name "<id>.webm|.mkv") and
    /// `audit` if its action is non-empty. Throws store::Conflict when the
    /// session already has an import with that externalId.
    store::RecordingRecord begin(const NewRecording& recording, const store::AuditRecord& audit);
    /// recording.dir / fileName, and the same + ".partial" (where it is written).
    std::filesystem::path finalPath(const store::RecordingRecord& row) const;
    std::filesystem::path partialPath(const store::RecordingRecord& row) const;
    /// A writer on partialPath(row) with the configured key.
    std::unique_ptr<EncryptedRecordingWriter> openWriter(const store::RecordingRecord& row) const;

    /// Marks a "recording" row available: renames the ".partial" to the final
    /// name if the producer did not, takes the size from the file when
    /// `done.bytes` is 0. Throws RecordingError(Io) when neither file exists.
    /// std::nullopt if the row is not in state "recording".
    std::optional<store::RecordingRecord> complete(const std::string& id, const CompletedRecording& done,
                                                   const store::AuditRecord& audit);
    /// Marks a "recording" row failed with `reason` (the file, if any, is kept
    /// as evidence under its ".partial"/".failed" name until deleted).
    std::optional<store::RecordingRecord> fail(const std::string& id, const std::string& reason,
                                               const store::AuditRecord& audit);
    /// Deletes the file (final, ".partial" and ".failed" names) and marks the
    /// row deleted with `reason`; `audit` is written in the same transaction.
    /// std::nullopt for an unknown or already deleted id. A still "recording"
    /// row is refused with RecordingError(Usage) (stop it first).
    std::optional<store::RecordingRecord> remove(const std::string& id, const std::string& reason,
                                                 const store::AuditRecord& audit);
    /// Opens an available recording for reading (decrypting on the fly).
    std::unique_ptr<EncryptedRecordingReader> openReader(const store::RecordingRecord& row) const;

    /// At start, before anything records: every row still "recording" was cut
    /// by a crash. Repairs its ".partial" (available, reason "recovered after
    /// an interruption: ...") or marks it failed with the reason. Each change
    /// is audited as actor "system".
    RecoveryReport recoverInterrupted();

private:
    store::RecordingStore rows_;
    std::filesystem::path dir_;
    std::shared_ptr<const RecordingKey> key_;
};

}  // namespace consultd::recording
