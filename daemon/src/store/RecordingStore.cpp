#include "store/RecordingStore.h"

#include "store/Database.h"
#include "store/ReadPool.h"
#include "store/StoreClock.h"
#include "store/Writer.h"

#include <algorithm>
#include <sstream>

namespace consultd::store {
namespace {

constexpr const char* kColumns =
    "seq, id, session_id, participant_id, source, status, reason, file_name, container, tracks, bytes, "
    "duration_ms, external_id, created_at, finished_at";

std::string joinTracks(const std::vector<std::string>& tracks) {
    std::string joined;
    for (const auto& track : tracks) {
        if (track.empty() || track.find_first_of(" \t\r\n") != std::string::npos) {
            // Stored space-separated, so a track name must be one non-empty word.
            throw StoreError("invalid recording track name \"" + track + "\"");
        }
        if (!joined.empty()) joined += ' ';
        joined += track;
    }
    return joined;
}

std::vector<std::string> splitTracks(const std::string& joined) {
    std::vector<std::string> tracks;
    std::istringstream in(joined);
    for (std::string track; in >> track;) tracks.push_back(track);
    return tracks;
}

RecordingRecord readRow(const sql::Statement& row) {
    RecordingRecord r;
    r.seq = row.columnInt(0);
    r.id = row.columnText(1);
    r.sessionId = row.columnText(2);
    r.participantId = row.columnText(3);
    r.source = row.columnText(4);
    r.status = row.columnText(5);
    r.reason = row.columnText(6);
    r.fileName = row.columnText(7);
    r.container = row.columnText(8);
    r.tracks = splitTracks(row.columnText(9));
    r.bytes = row.columnInt(10);
    r.durationMs = row.columnInt(11);
    r.externalId = row.columnText(12);
    r.createdAt = row.columnInt(13);
    r.finishedAt = row.columnInt(14);
    return r;
}

std::optional<RecordingRecord> loadOne(sql::Connection& db, const std::string& id) {
    auto query = db.prepare(std::string("SELECT ") + kColumns + " FROM recordings WHERE id = ?");
    query->bindAll(id);
    if (!query->step()) return std::nullopt;
    return readRow(*query);
}

std::vector<RecordingRecord> collect(sql::Statement& query) {
    std::vector<RecordingRecord> rows;
    while (query.step()) rows.push_back(readRow(query));
    return rows;
}

}  // namespace

RecordingRecord RecordingStore::insert(const RecordingRecord& recording, const AuditRecord& audit) {
    if (recording.id.empty() || recording.sessionId.empty() || recording.source.empty() ||
        recording.status.empty()) {
        throw StoreError("RecordingStore::insert: id, sessionId, source and status are required");
    }
    const std::string tracks = joinTracks(recording.tracks);
    return store_.writer().run([&](WriteTransaction& txn) {
        auto insert = txn.db.prepare(
            "INSERT INTO recordings (id, session_id, participant_id, source, status, reason, file_name, "
            "container, tracks, bytes, duration_ms, external_id, created_at, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        insert->bindAll(recording.id, recording.sessionId, recording.participantId, recording.source,
                        recording.status, recording.reason, recording.fileName, recording.container, tracks,
                        recording.bytes, recording.durationMs, recording.externalId,
                        recording.createdAt != 0 ? recording.createdAt : nowMillis(), recording.finishedAt);
        try {
            insert->run();
        } catch (const Conflict& error) {
            throw Conflict("recording " + recording.id + " not inserted: " + error.what());
        }
        if (!audit.action.empty()) txn.appendAudit(audit);
        auto stored = loadOne(txn.db, recording.id);
        if (!stored) throw StoreError("recording " + recording.id + " vanished right after its insert");
        return std::move(*stored);
    });
}

std::optional<RecordingRecord> RecordingStore::find(const std::string& id) const {
    auto db = store_.readPool().acquire();
    return loadOne(*db, id);
}

std::optional<RecordingRecord> RecordingStore::findByExternalId(const std::string& sessionId,
                                                                const std::string& externalId) const {
    if (externalId.empty()) return std::nullopt;
    auto db = store_.readPool().acquire();
    auto query = db->prepare(std::string("SELECT ") + kColumns +
                             " FROM recordings WHERE session_id = ? AND external_id = ?");
    query->bindAll(sessionId, externalId);
    if (!query->step()) return std::nullopt;
    return readRow(*query);
}

std::vector<RecordingRecord> RecordingStore::list(const RecordingFilter& filter) const {
    // Fixed fragments picked by which filters are set; values are bound.
    std::string sqlText = std::string("SELECT ") + kColumns + " FROM recordings WHERE seq > ?";
    if (!filter.sessionId.empty()) sqlText += " AND session_id = ?";
    if (!filter.status.empty()) sqlText += " AND status = ?";
    sqlText += " ORDER BY seq LIMIT ?";
    auto db = store_.readPool().acquire();
    auto query = db->prepare(sqlText);
    int index = 0;
    query->bindInt(++index, filter.afterSeq);
    if (!filter.sessionId.empty()) query->bindText(++index, filter.sessionId);
    if (!filter.status.empty()) query->bindText(++index, filter.status);
    query->bindInt(++index, std::clamp(filter.limit, 1, 201));
    return collect(*query);
}

std::vector<RecordingRecord> RecordingStore::listByStatus(const std::string& status, int limit) const {
    auto db = store_.readPool().acquire();
    auto query = db->prepare(std::string("SELECT ") + kColumns +
                             " FROM recordings WHERE status = ? ORDER BY seq LIMIT ?");
    query->bindAll(status, std::clamp(limit, 1, 10000));
    return collect(*query);
}

std::vector<RecordingRecord> RecordingStore::listExpired(std::int64_t createdBefore, int limit) const {
    auto db = store_.readPool().acquire();
    auto query = db->prepare(std::string("SELECT ") + kColumns +
                             " FROM recordings WHERE created_at < ? AND status IN ('available', 'failed') "
                             "ORDER BY created_at LIMIT ?");
    query->bindAll(createdBefore, std::clamp(limit, 1, 10000));
    return collect(*query);
}

std::optional<RecordingRecord> RecordingStore::transition(const std::string& id,
                                                          const std::vector<std::string>& fromStatuses,
                                                          const RecordingRecord& updated, const AuditRecord& audit) {
    const std::string tracks = joinTracks(updated.tracks);
    return store_.writer().run([&](WriteTransaction& txn) -> std::optional<RecordingRecord> {
        auto current = loadOne(txn.db, id);
        if (!current ||
            std::find(fromStatuses.begin(), fromStatuses.end(), current->status) == fromStatuses.end()) {
            return std::nullopt;
        }
        auto update = txn.db.prepare(
            "UPDATE recordings SET status = ?, reason = ?, file_name = ?, container = ?, tracks = ?, bytes = ?, "
            "duration_ms = ?, finished_at = ? WHERE id = ?");
        update->bindAll(updated.status, updated.reason, updated.fileName, updated.container, tracks, updated.bytes,
                        updated.durationMs, updated.finishedAt, id);
        update->run();
        if (!audit.action.empty()) txn.appendAudit(audit);
        return loadOne(txn.db, id);
    });
}

std::vector<StatusCount> RecordingStore::countByStatus() const {
    auto db = store_.readPool().acquire();
    auto query = db->prepare("SELECT status, count(*) FROM recordings GROUP BY status ORDER BY status");
    std::vector<StatusCount> counts;
    while (query->step()) counts.push_back(StatusCount{query->columnText(0), query->columnInt(1)});
    return counts;
}

}  // namespace consultd::store
