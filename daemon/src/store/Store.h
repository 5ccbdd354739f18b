#pragma once
// The persistent store: SQLite in WAL mode, versioned migrations, one writer
// thread doing group commit, a small pool of read connections.
//
// Thread-safety: Store is thread-safe. Every write method returns only after
// its transaction is durably committed (synchronous=FULL), so anything the API
// acknowledges survives kill -9 and power loss. Concurrent writes from many
// HTTP threads are batched into one transaction by the writer thread (group
// commit); a failing write is isolated with a SAVEPOINT and does not affect
// the other writes of its batch.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace consultd::store {

class Writer;
class ReadPool;

/// The schema version this binary knows (highest migration).
int binarySchemaVersion();

/// Any store failure (I/O, corruption, SQLite error). Maps to HTTP 503.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The database was written by a newer consultd (schema version too high).
class SchemaTooNew : public StoreError {
public:
    using StoreError::StoreError;
};

/// A uniqueness rule was violated (e.g. second open session of a consultation).
class Conflict : public StoreError {
public:
    using StoreError::StoreError;
};

// ---- records ---------------------------------------------------------------
// Times are Unix milliseconds (UTC); 0 means "not set".

struct ParticipantRecord {
    std::string sessionId;
    std::string participantId;
    std::string name;
    std::string email;
    std::string role;          // host | patient | guest | device
    std::int64_t firstJoinedAt = 0;
    std::int64_t lastLeftAt = 0;
};

struct SessionRecord {
    std::string id;                // "ses_" + 24 random base32 chars
    std::int64_t seq = 0;          // insertion order (assigned by the store), used for cursor paging
    std::string consultationId;
    std::string provider;
    std::string mode;              // video | voice | chat
    std::string status;            // scheduled | waiting | active | ended | cancelled | failed
    std::string roomName;
    std::string providerRoomId;
    std::string providerStatus;    // ok | pending | unavailable
    std::string deviceId;          // may be empty
    bool record = false;
    std::string metadataJson = "{}";
    std::int64_t scheduledAt = 0;
    std::int64_t createdAt = 0;
    std::int64_t updatedAt = 0;
    std::int64_t startedAt = 0;
    std::int64_t endedAt = 0;
    std::int64_t durationSeconds = -1;  // -1 = not ended
    std::string endReason;
    std::string quality;
    std::vector<ParticipantRecord> participants;  // filled by get/list
};

struct EventRecord {
    std::int64_t id = 0;           // assigned by the store
    std::string sessionId;
    std::string type;              // participant_joined, video_muted, session_started, ...
    std::string participantId;     // may be empty
    std::string severity = "info"; // debug | info | warning | error | critical
    std::string source = "client"; // client | provider | system
    std::string dataJson = "{}";
    std::string idempotencyKey;    // empty = none; a duplicate key is silently ignored
    std::int64_t createdAt = 0;
};

struct ApiKeyRecord {
    std::string id;                // public key id, e.g. "key_ab12cd34ef56"
    std::string name;
    std::vector<std::string> scopes;
    std::string secretHash;        // hex SHA-256 of the secret part
    std::int64_t createdAt = 0;
    std::int64_t revokedAt = 0;
    std::int64_t lastUsedAt = 0;
};

struct AuditRecord {
    std::int64_t seq = 0;          // assigned by the store
    std::int64_t at = 0;
    std::string actor;             // "apikey:key_..", "cli", "system", "admin:alice"
    std::string action;            // token.issued, apikey.created, session.started, ...
    std::string target;            // e.g. session id
    std::string detailsJson = "{}";// never secrets or tokens
    std::string requestId;
    std::string prevHash;          // hex SHA-256 of the previous entry ("" for the first)
    std::string hash;              // hex SHA-256(prevHash | seq | at | actor | action | target | details | requestId)
};

struct SessionFilter {
    std::string status;            // empty = any
    std::string consultationId;    // empty = any
    std::int64_t from = 0;         // createdAt >= from (0 = no bound)
    std::int64_t to = 0;           // createdAt < to (0 = no bound)
    int limit = 50;                // 1..201 (a page of 200 plus one row that tells whether more follow)
    std::int64_t afterSeq = 0;     // cursor: only seq > afterSeq
};

/// Per-status session counts for /metrics.
struct StatusCount {
    std::string status;
    std::int64_t count = 0;
};

struct StoreOptions {
    std::string path;              // database file; parent dir must exist
    int busyTimeoutMs = 5000;
    int readConnections = 4;
    int maxBatch = 256;            // writes per group commit
    int maxQueuedWrites = 8192;    // writes waiting for the writer; beyond it a write fails fast with StoreError
};

/// Writer counters for /metrics (monotonic since open, except queuedWrites).
struct StoreStats {
    std::uint64_t transactions = 0;     // group commits (one fsync each)
    std::uint64_t committedWrites = 0;  // write calls that returned normally
    std::uint64_t failedWrites = 0;     // write calls that threw (Conflict included)
    std::uint64_t rejectedWrites = 0;   // queue full or store closing
    std::uint64_t largestBatch = 0;
    std::uint64_t queuedWrites = 0;     // waiting right now
};

class Store {
public:
    /// Opens (creating if needed) the database, sets WAL, foreign_keys,
    /// busy_timeout, synchronous=FULL, applies pending migrations in one
    /// transaction each, starts the writer thread.
    /// Throws SchemaTooNew ("database schema version N is newer than this
    /// consultd (M); upgrade consultd or restore a backup") or StoreError.
    static std::unique_ptr<Store> open(const StoreOptions& options);
    ~Store();  // drains pending writes, stops the writer, closes connections

    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    int schemaVersion() const;
    /// Runs `SELECT 1` on a read connection; false when the DB is unusable.
    bool healthy() const;

    // ---- sessions ----
    /// Inserts a session with its participants; assigns seq. Throws Conflict
    /// if the consultation already has an open (scheduled|waiting|active) session
    /// (the message names that session) or the id is taken.
    /// createdAt/updatedAt of 0 become "now". In this and every write method
    /// taking an AuditRecord, the entry is appended in the same transaction
    /// when audit.action is non-empty (pass {} for "nothing to audit").
    SessionRecord insertSession(const SessionRecord& session, const AuditRecord& audit);
    std::optional<SessionRecord> findSession(const std::string& id) const;
    std::optional<SessionRecord> findOpenSessionByConsultation(const std::string& consultationId) const;
    /// Ordered by seq ascending; returns at most filter.limit rows.
    std::vector<SessionRecord> listSessions(const SessionFilter& filter) const;
    /// Atomically: if the session's status is one of `fromStatuses`, replace the
    /// session row with `updated` (all mutable columns), append `event` (if its
    /// type is non-empty) and `audit`; returns the stored record. Returns
    /// std::nullopt (and writes nothing) if the status did not match.
    std::optional<SessionRecord> transitionSession(const std::string& id,
                                                   const std::vector<std::string>& fromStatuses,
                                                   const SessionRecord& updated,
                                                   const EventRecord& event,
                                                   const AuditRecord& audit);
    /// Updates providerRoomId/providerStatus only (and updatedAt).
    void setProviderRoom(const std::string& sessionId, const std::string& providerRoomId,
                         const std::string& providerStatus);
    /// Sets the provider room of a session that has none yet (providerStatus
    /// not "ok"), marking it "ok". Returns the room id in effect afterwards:
    /// `providerRoomId`, or the one another caller stored first (a concurrent
    /// retry), so every grant of a session names the same room. Returns ""
    /// for an unknown session.
    std::string claimProviderRoom(const std::string& sessionId, const std::string& providerRoomId);
    /// The newest session of `provider` whose provider room id is `providerRoomId`.
    std::optional<SessionRecord> findSessionByProviderRoom(const std::string& provider,
                                                           const std::string& providerRoomId) const;
    /// Sessions whose providerStatus is "pending" or "unavailable" and status open.
    std::vector<SessionRecord> sessionsNeedingProviderRoom(int limit) const;
    std::vector<StatusCount> countSessionsByStatus() const;

    // ---- participants ----
    /// Sets firstJoinedAt (only if 0) / lastLeftAt for a participant. An
    /// unknown session/participant pair is ignored.
    void markParticipantJoined(const std::string& sessionId, const std::string& participantId, std::int64_t at);
    void markParticipantLeft(const std::string& sessionId, const std::string& participantId, std::int64_t at);

    // ---- events ----
    /// Appends an event; returns it with id. With a duplicate idempotencyKey
    /// returns the existing event and writes nothing. Keys are scoped to the
    /// session (another session's event is never returned). Throws StoreError
    /// for an unknown session (foreign key).
    EventRecord appendEvent(const EventRecord& event);
    /// Events of a session ordered by id, id > afterId, at most limit (1..1000).
    std::vector<EventRecord> listEvents(const std::string& sessionId, std::int64_t afterId, int limit) const;

    // ---- webhook replay protection ----
    /// Records (provider, replayId) until expiresAt (Unix ms). Returns false
    /// when it is already recorded with an expiry after `now` (a replay).
    /// Also deletes a bounded number of expired ids, so the table stays as
    /// small as the traffic of one replay window.
    bool claimWebhookId(const std::string& provider, const std::string& replayId, std::int64_t expiresAt,
                        std::int64_t now);

    // ---- api keys ----
    void insertApiKey(const ApiKeyRecord& key, const AuditRecord& audit);
    std::optional<ApiKeyRecord> findApiKey(const std::string& id) const;
    std::vector<ApiKeyRecord> listApiKeys() const;
    /// Sets revokedAt; false if unknown or already revoked.
    bool revokeApiKey(const std::string& id, std::int64_t at, const AuditRecord& audit);

    // ---- audit ----
    /// Appends one entry (computing seq, prevHash and hash inside the write
    /// transaction); returns once durable. at = 0 becomes "now"; an empty
    /// action is refused with StoreError.
    AuditRecord appendAudit(const AuditRecord& entry);
    /// Entries with seq > afterSeq in seq order, at most limit (1..10000).
    std::vector<AuditRecord> listAudit(std::int64_t afterSeq, int limit) const;
    /// Recomputes the chain; returns the seq of the first bad entry, or 0 if intact.
    std::int64_t verifyAuditChain() const;

    /// Copies the database to `path` with the SQLite online backup API
    /// (consistent while writes continue: one snapshot, copied in steps into
    /// `path`.partial, renamed to `path` when complete).
    void backupTo(const std::string& path) const;

    /// Writer counters, cheap enough for every /metrics scrape.
    StoreStats stats() const;

    /// The single writer and the read pool, for the table-specific store
    /// classes of this folder (RecordingStore) so each table keeps its SQL in
    /// its own file. Valid as long as the Store lives.
    Writer& writer() const;
    ReadPool& readPool() const;

private:
    struct Impl;
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace consultd::store
