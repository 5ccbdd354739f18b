#pragma once
// Rows of the `recordings` table (migration 2): one per recorded file, native
// (the daemon's recorder) or imported from a provider archive. Only rows: the
// files, the key and the directory belong to recording::RecordingCatalog,
// which is what the recorder and the provider import use.
//
// Thread-safety: thread-safe (writes go through the Store's single writer,
// reads use its read pool). Every write returns once durable.

#include "store/Store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace consultd::store {

/// One recording. Times are Unix milliseconds (UTC), 0 = not set.
struct RecordingRecord {
    std::string id;                  ///< "rec_" + 24 base32 chars (assigned by the caller)
    std::int64_t seq = 0;            ///< insertion order, assigned by the store; cursor paging
    std::string sessionId;
    std::string participantId;       ///< whose media (native); may be empty for an import of a mixed archive
    std::string source = "native";   ///< native | import
    std::string status = "recording";///< recording | available | failed | deleted
    std::string reason;              ///< why it failed / ended / was deleted; may be empty
    std::string fileName;            ///< final name inside recording.dir (the writer uses fileName + ".partial")
    std::string container;           ///< webm | matroska
    std::vector<std::string> tracks; ///< e.g. {"video/VP8", "audio/OPUS"}
    std::int64_t bytes = 0;          ///< plaintext (container) bytes
    std::int64_t durationMs = 0;
    std::string externalId;          ///< provider archive id of an import (unique per session); "" for native
    std::int64_t createdAt = 0;
    std::int64_t finishedAt = 0;
};

/// Filter and page of RecordingStore::list (ordered by seq ascending).
struct RecordingFilter {
    std::string sessionId;           ///< empty = any
    std::string status;              ///< empty = any
    int limit = 50;                  ///< 1..201
    std::int64_t afterSeq = 0;       ///< cursor: only seq > afterSeq
};

class RecordingStore {
public:
    /// Uses `store`, which must outlive this object.
    explicit RecordingStore(Store& store) : store_(store) {}

    /// Inserts a row (createdAt 0 = now) and the audit entry (if its action is
    /// non-empty) in one transaction; returns it with seq. Throws Conflict if
    /// the id, or the session's externalId, is taken; StoreError if id,
    /// sessionId, source or status is empty.
    RecordingRecord insert(const RecordingRecord& recording, const AuditRecord& audit);
    std::optional<RecordingRecord> find(const std::string& id) const;
    /// The import of provider archive `externalId` for the session, if any.
    std::optional<RecordingRecord> findByExternalId(const std::string& sessionId,
                                                    const std::string& externalId) const;
    /// At most filter.limit rows ordered by seq.
    std::vector<RecordingRecord> list(const RecordingFilter& filter) const;
    /// Rows whose status is `status`, oldest first, at most `limit` (1..10000).
    std::vector<RecordingRecord> listByStatus(const std::string& status, int limit) const;
    /// available|failed rows created before `createdBefore`, oldest first, at
    /// most `limit` (1..10000): the retention candidates.
    std::vector<RecordingRecord> listExpired(std::int64_t createdBefore, int limit) const;

    /// Atomically: if the row's status is one of `fromStatuses`, replace its
    /// mutable columns (status, reason, file name, container, tracks, bytes,
    /// duration, finished_at) with `updated`'s and append `audit` (if its
    /// action is non-empty); returns the stored row. std::nullopt (nothing
    /// written) for an unknown id or another status.
    std::optional<RecordingRecord> transition(const std::string& id, const std::vector<std::string>& fromStatuses,
                                              const RecordingRecord& updated, const AuditRecord& audit);

    /// Counts per status, for /metrics.
    std::vector<StatusCount> countByStatus() const;

private:
    Store& store_;
};

}  // namespace consultd::store
