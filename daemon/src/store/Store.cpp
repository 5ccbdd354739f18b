#include "store/Store.h"

#include "store/AuditChain.h"
#include "store/Database.h"
#include "store/Migrations.h"
#include "store/ReadPool.h"
#include "store/StoreClock.h"
#include "store/Writer.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <filesystem>
#include <sstream>
#include <thread>

namespace consultd::store {
namespace {

constexpr const char* kOpenStatuses = "('scheduled', 'waiting', 'active')";

constexpr const char* kSessionColumns =
    "seq, id, consultation_id, provider, mode, status, room_name, provider_room_id, "
    "provider_status, device_id, record, metadata_json, scheduled_at, created_at, updated_at, "
    "started_at, ended_at, duration_seconds, end_reason, quality";

constexpr const char* kEventColumns =
    "id, session_id, type, participant_id, severity, source, data_json, idempotency_key, created_at";

constexpr const char* kApiKeyColumns =
    "id, name, scopes, secret_hash, created_at, revoked_at, last_used_at";

int clampLimit(int limit, int max) {
    return std::clamp(limit, 1, max);
}

std::string orDefault(const std::string& value, const char* fallback) {
    return value.empty() ? std::string(fallback) : value;
}

// ---- rows -> records -----------------------------------------------------------

SessionRecord readSessionRow(const sql::Statement& row) {
    SessionRecord s;
    s.seq = row.columnInt(0);
    s.id = row.columnText(1);
    s.consultationId = row.columnText(2);
    s.provider = row.columnText(3);
    s.mode = row.columnText(4);
    s.status = row.columnText(5);
    s.roomName = row.columnText(6);
    s.providerRoomId = row.columnText(7);
    s.providerStatus = row.columnText(8);
    s.deviceId = row.columnText(9);
    s.record = row.columnInt(10) != 0;
    s.metadataJson = row.columnText(11);
    s.scheduledAt = row.columnInt(12);
    s.createdAt = row.columnInt(13);
    s.updatedAt = row.columnInt(14);
    s.startedAt = row.columnInt(15);
    s.endedAt = row.columnInt(16);
    s.durationSeconds = row.columnInt(17);
    s.endReason = row.columnText(18);
    s.quality = row.columnText(19);
    return s;
}

EventRecord readEventRow(const sql::Statement& row) {
    EventRecord e;
    e.id = row.columnInt(0);
    e.sessionId = row.columnText(1);
    e.type = row.columnText(2);
    e.participantId = row.columnText(3);
    e.severity = row.columnText(4);
    e.source = row.columnText(5);
    e.dataJson = row.columnText(6);
    e.idempotencyKey = row.columnText(7);
    e.createdAt = row.columnInt(8);
    return e;
}

std::vector<std::string> splitScopes(const std::string& joined) {
    std::vector<std::string> scopes;
    std::istringstream in(joined);
    for (std::string scope; in >> scope;) {
        scopes.push_back(scope);
    }
    return scopes;
}

std::string joinScopes(const std::vector<std::string>& scopes) {
    std::string joined;
    for (const auto& scope : scopes) {
        const bool invalid = scope.empty() || std::any_of(scope.begin(), scope.end(), [](char c) {
                                 return c == ' ' || c == '\t' || c == '\n' || c == '\r';
                             });
        if (invalid) {
            // Stored space-separated, so a scope must be one non-empty word.
            throw StoreError("invalid API key scope \"" + scope + "\"");
        }
        if (!joined.empty()) {
            joined += ' ';
        }
        joined += scope;
    }
    return joined;
}

ApiKeyRecord readApiKeyRow(const sql::Statement& row) {
    ApiKeyRecord k;
    k.id = row.columnText(0);
    k.name = row.columnText(1);
    k.scopes = splitScopes(row.columnText(2));
    k.secretHash = row.columnText(3);
    k.createdAt = row.columnInt(4);
    k.revokedAt = row.columnInt(5);
    k.lastUsedAt = row.columnInt(6);
    return k;
}

// ---- queries shared by readers and the writer ------------------------------------------

std::vector<ParticipantRecord> loadParticipants(sql::Connection& db, const std::string& sessionId) {
    // rowid order = the order the participants were given at creation.
    auto query = db.prepare(
        "SELECT session_id, participant_id, name, email, role, first_joined_at, last_left_at "
        "FROM participants WHERE session_id = ? ORDER BY rowid");
    query->bindAll(sessionId);
    std::vector<ParticipantRecord> participants;
    while (query->step()) {
        ParticipantRecord p;
        p.sessionId = query->columnText(0);
        p.participantId = query->columnText(1);
        p.name = query->columnText(2);
        p.email = query->columnText(3);
        p.role = query->columnText(4);
        p.firstJoinedAt = query->columnInt(5);
        p.lastLeftAt = query->columnInt(6);
        participants.push_back(std::move(p));
    }
    return participants;
}

/// Runs a query returning session rows and attaches each session's participants.
std::vector<SessionRecord> collectSessions(sql::Connection& db, sql::Statement& query) {
    std::vector<SessionRecord> sessions;
    while (query.step()) {
        sessions.push_back(readSessionRow(query));
    }
    for (auto& session : sessions) {
        session.participants = loadParticipants(db, session.id);
    }
    return sessions;
}

std::optional<SessionRecord> loadSession(sql::Connection& db, const std::string& id) {
    auto query = db.prepare(std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE id = ?");
    query->bindAll(id);
    auto sessions = collectSessions(db, *query);
    if (sessions.empty()) {
        return std::nullopt;
    }
    return std::move(sessions.front());
}

// ---- writes (run on the writer thread, inside the batch transaction) -----------------

EventRecord insertEvent(sql::Connection& db, EventRecord event) {
    if (!event.idempotencyKey.empty()) {
        // Race-free without an upsert: the writer is the only writer.
        auto existing = db.prepare(std::string("SELECT ") + kEventColumns +
                                   " FROM events WHERE session_id = ? AND idempotency_key = ?");
        existing->bindAll(event.sessionId, event.idempotencyKey);
        if (existing->step()) {
            return readEventRow(*existing);
        }
    }
    if (event.createdAt == 0) {
        event.createdAt = nowMillis();
    }
    event.severity = orDefault(event.severity, "info");
    event.source = orDefault(event.source, "client");
    event.dataJson = orDefault(event.dataJson, "{}");
    auto insert = db.prepare(
        "INSERT INTO events (session_id, type, participant_id, severity, source, data_json, "
        "idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert->bindAll(event.sessionId, event.type, event.participantId, event.severity, event.source,
                    event.dataJson);
    insert->bindTextOrNull(7, event.idempotencyKey);
    insert->bindInt(8, event.createdAt);
    insert->run();
    event.id = db.lastInsertRowid();
    return event;
}

void appendAuditIfAny(WriteTransaction& txn, const AuditRecord& audit) {
    // An empty action means the caller has nothing to audit for this write;
    // an entry without an action would only be noise in the trail.
    if (!audit.action.empty()) {
        txn.appendAudit(audit);
    }
}

}  // namespace

// ---- Impl ----------------------------------------------------------------------------

/// Runs WAL checkpoints on its own connection and thread, so the fsync of the
/// database file never happens inside the writer's COMMIT (which would add
/// to the latency of every write waiting in that batch). PASSIVE: it never
/// blocks the writer or readers; what it cannot copy now it copies next time.
class Checkpointer {
public:
    Checkpointer(const std::string& path, int busyTimeoutMs)
        : db_(path, SQLITE_OPEN_READWRITE, busyTimeoutMs), thread_([this] { run(); }) {}
    ~Checkpointer() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            wake_.wait_for(lock, std::chrono::milliseconds(500));
            if (stopping_) break;
            lock.unlock();
            int walFrames = 0;
            int copied = 0;
            // Errors (SQLITE_BUSY while another checkpoint runs) are retried next round.
            sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &walFrames, &copied);
            lock.lock();
        }
    }

    sql::Connection db_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;  // last: started once everything above exists
};

struct Store::Impl {
    StoreOptions options;
    int schemaVersion = 0;
    std::unique_ptr<ReadPool> readers;
    std::unique_ptr<Checkpointer> checkpointer;
    // Declared last so it is destroyed first: the queue drains while the
    // read pool still exists.
    std::unique_ptr<Writer> writer;
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() = default;

std::unique_ptr<Store> Store::open(const StoreOptions& options) {
    if (options.path.empty()) {
        throw StoreError("store path is empty");
    }
    auto impl = std::make_unique<Impl>();
    impl->options = options;

    auto db = std::make_unique<sql::Connection>(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                                options.busyTimeoutMs);
    // Refuse a foreign or newer database before changing anything in it.
    checkSchemaCompatible(*db, migrations());

    // WAL: readers see a snapshot while the writer commits. The PRAGMA answers
    // with the mode in effect, which is not WAL on filesystems without shared
    // memory support; durability and concurrency assumptions fail there.
    const std::string journalMode = db->queryText("PRAGMA journal_mode = WAL");
    if (journalMode != "wal") {
        throw StoreError("database " + options.path + " cannot use WAL (journal_mode is \"" +
                         journalMode + "\")");
    }
    // FULL: every commit fsyncs the WAL, so an acknowledged write survives a
    // power loss, not just a crash of the process.
    db->exec("PRAGMA synchronous = FULL");
    db->exec("PRAGMA foreign_keys = ON");
    // After a checkpoint, truncate a WAL that grew under a burst of writes
    // instead of keeping its high-water size on disk forever.
    db->exec("PRAGMA journal_size_limit = 67108864");
    // The writer never checkpoints; the Checkpointer thread does.
    db->exec("PRAGMA wal_autocheckpoint = 0");
    if (db->queryInt("PRAGMA foreign_keys") != 1) {
        throw StoreError("SQLite refused PRAGMA foreign_keys = ON");
    }

    impl->schemaVersion = applyMigrations(*db, migrations());
    AuditChainTip tip = loadAuditChainTip(*db);

    impl->readers = std::make_unique<ReadPool>(options.path, options.readConnections, options.busyTimeoutMs);
    Writer::Options writerOptions;
    writerOptions.maxBatch = static_cast<std::size_t>(std::max(options.maxBatch, 1));
    writerOptions.maxQueued = static_cast<std::size_t>(std::max(options.maxQueuedWrites, 1));
    impl->writer = std::make_unique<Writer>(std::move(db), std::move(tip), writerOptions);
    impl->checkpointer = std::make_unique<Checkpointer>(options.path, options.busyTimeoutMs);
    return std::unique_ptr<Store>(new Store(std::move(impl)));
}

int Store::schemaVersion() const {
    return impl_->schemaVersion;
}

bool Store::healthy() const {
    try {
        auto db = impl_->readers->acquire();
        return db->queryInt("SELECT 1") == 1;
    } catch (const StoreError&) {
        return false;
    }
}

StoreStats Store::stats() const {
    const Writer::Stats writer = impl_->writer->stats();
    StoreStats stats;
    stats.transactions = writer.transactions;
    stats.committedWrites = writer.committedJobs;
    stats.failedWrites = writer.failedJobs;
    stats.rejectedWrites = writer.rejectedJobs;
    stats.largestBatch = writer.largestBatch;
    stats.queuedWrites = impl_->writer->queuedJobs();
    return stats;
}

Writer& Store::writer() const {
    return *impl_->writer;
}

ReadPool& Store::readPool() const {
    return *impl_->readers;
}

// ---- sessions ------------------------------------------------------------------------

SessionRecord Store::insertSession(const SessionRecord& session, const AuditRecord& audit) {
    if (session.id.empty() || session.consultationId.empty() || session.status.empty()) {
        throw StoreError("insertSession: id, consultationId and status are required");
    }
    return impl_->writer->run([&](WriteTransaction& txn) {
        auto& db = txn.db;
        {
            // The UNIQUE partial index enforces the rule; asking first gives
            // the caller a message that names the session in the way.
            auto open = db.prepare(std::string("SELECT id FROM sessions WHERE consultation_id = ? AND status IN ") +
                                   kOpenStatuses + " LIMIT 1");
            open->bindAll(session.consultationId);
            if (open->step()) {
                throw Conflict("consultation " + session.consultationId + " already has an open session " +
                               open->columnText(0));
            }
        }
        const std::int64_t createdAt = session.createdAt != 0 ? session.createdAt : nowMillis();
        const std::int64_t updatedAt = session.updatedAt != 0 ? session.updatedAt : createdAt;
        {
            auto insert = db.prepare(
                "INSERT INTO sessions (id, consultation_id, provider, mode, status, room_name, "
                "provider_room_id, provider_status, device_id, record, metadata_json, scheduled_at, "
                "created_at, updated_at, started_at, ended_at, duration_seconds, end_reason, quality) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
            insert->bindAll(session.id, session.consultationId, session.provider, session.mode, session.status,
                            session.roomName, session.providerRoomId, session.providerStatus, session.deviceId,
                            session.record, orDefault(session.metadataJson, "{}"), session.scheduledAt, createdAt,
                            updatedAt, session.startedAt, session.endedAt, session.durationSeconds,
                            session.endReason, session.quality);
            try {
                insert->run();
            } catch (const Conflict& error) {
                throw Conflict("session " + session.id + " not inserted: " + error.what());
            }
        }
        for (const auto& p : session.participants) {
            auto insert = db.prepare(
                "INSERT INTO participants (session_id, participant_id, name, email, role, "
                "first_joined_at, last_left_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
            insert->bindAll(session.id, p.participantId, p.name, p.email, p.role, p.firstJoinedAt, p.lastLeftAt);
            insert->run();
        }
        appendAuditIfAny(txn, audit);
        auto stored = loadSession(db, session.id);
        if (!stored) {
            throw StoreError("session " + session.id + " vanished right after its insert");
        }
        return std::move(*stored);
    });
}

std::optional<SessionRecord> Store::findSession(const std::string& id) const {
    auto db = impl_->readers->acquire();
    sql::ReadTransaction snapshot(*db);
    return loadSession(*db, id);
}

std::optional<SessionRecord> Store::findOpenSessionByConsultation(const std::string& consultationId) const {
    auto db = impl_->readers->acquire();
    sql::ReadTransaction snapshot(*db);
    auto query = db->prepare(std::string("SELECT ") + kSessionColumns +
                             " FROM sessions WHERE consultation_id = ? AND status IN " + kOpenStatuses +
                             " LIMIT 1");
    query->bindAll(consultationId);
    auto sessions = collectSessions(*db, *query);
    if (sessions.empty()) {
        return std::nullopt;
    }
    return std::move(sessions.front());
}

std::vector<SessionRecord> Store::listSessions(const SessionFilter& filter) const {
    // Fixed fragments picked by which filters are set; values are bound.
    std::string sqlText = std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE seq > ?";
    if (!filter.status.empty()) {
        sqlText += " AND status = ?";
    }
    if (!filter.consultationId.empty()) {
        sqlText += " AND consultation_id = ?";
    }
    if (filter.from != 0) {
        sqlText += " AND created_at >= ?";
    }
    if (filter.to != 0) {
        sqlText += " AND created_at < ?";
    }
    sqlText += " ORDER BY seq LIMIT ?";

    auto db = impl_->readers->acquire();
    sql::ReadTransaction snapshot(*db);
    auto query = db->prepare(sqlText);
    int index = 0;
    query->bindInt(++index, filter.afterSeq);
    if (!filter.status.empty()) {
        query->bindText(++index, filter.status);
    }
    if (!filter.consultationId.empty()) {
        query->bindText(++index, filter.consultationId);
    }
    if (filter.from != 0) {
        query->bindInt(++index, filter.from);
    }
    if (filter.to != 0) {
        query->bindInt(++index, filter.to);
    }
    query->bindInt(++index, clampLimit(filter.limit, 201));  // 200 per page + 1 to detect a next page
    return collectSessions(*db, *query);
}

std::optional<SessionRecord> Store::transitionSession(const std::string& id,
                                                      const std::vector<std::string>& fromStatuses,
                                                      const SessionRecord& updated, const EventRecord& event,
                                                      const AuditRecord& audit) {
    return impl_->writer->run([&](WriteTransaction& txn) -> std::optional<SessionRecord> {
        auto& db = txn.db;
        {
            auto current = db.prepare("SELECT status FROM sessions WHERE id = ?");
            current->bindAll(id);
            if (!current->step()) {
                return std::nullopt;
            }
            const std::string status = current->columnText(0);
            if (std::find(fromStatuses.begin(), fromStatuses.end(), status) == fromStatuses.end()) {
                return std::nullopt;
            }
        }
        {
            // id, seq, consultation_id and created_at identify the session and
            // never change; everything else is taken from `updated`.
            auto update = db.prepare(
                "UPDATE sessions SET provider = ?, mode = ?, status = ?, room_name = ?, provider_room_id = ?, "
                "provider_status = ?, device_id = ?, record = ?, metadata_json = ?, scheduled_at = ?, "
                "updated_at = ?, started_at = ?, ended_at = ?, duration_seconds = ?, end_reason = ?, "
                "quality = ? WHERE id = ?");
            update->bindAll(updated.provider, updated.mode, updated.status, updated.roomName,
                            updated.providerRoomId, updated.providerStatus, updated.deviceId, updated.record,
                            orDefault(updated.metadataJson, "{}"), updated.scheduledAt,
                            updated.updatedAt != 0 ? updated.updatedAt : nowMillis(), updated.startedAt,
                            updated.endedAt, updated.durationSeconds, updated.endReason, updated.quality, id);
            update->run();
        }
        if (!event.type.empty()) {
            EventRecord sessionEvent = event;
            sessionEvent.sessionId = id;
            insertEvent(db, std::move(sessionEvent));
        }
        appendAuditIfAny(txn, audit);
        return loadSession(db, id);
    });
}

void Store::setProviderRoom(const std::string& sessionId, const std::string& providerRoomId,
                            const std::string& providerStatus) {
    impl_->writer->run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare(
            "UPDATE sessions SET provider_room_id = ?, provider_status = ?, updated_at = ? WHERE id = ?");
        update->bindAll(providerRoomId, providerStatus, nowMillis(), sessionId);
        update->run();
    });
}

std::string Store::claimProviderRoom(const std::string& sessionId, const std::string& providerRoomId) {
    return impl_->writer->run([&](WriteTransaction& txn) -> std::string {
        auto update = txn.db.prepare(
            "UPDATE sessions SET provider_room_id = ?, provider_status = 'ok', updated_at = ? "
            "WHERE id = ? AND provider_status != 'ok'");
        update->bindAll(providerRoomId, nowMillis(), sessionId);
        update->run();
        auto current = txn.db.prepare("SELECT provider_room_id FROM sessions WHERE id = ?");
        current->bindAll(sessionId);
        return current->step() ? current->columnText(0) : std::string();
    });
}

std::optional<SessionRecord> Store::findSessionByProviderRoom(const std::string& provider,
                                                              const std::string& providerRoomId) const {
    if (providerRoomId.empty()) return std::nullopt;
    auto db = impl_->readers->acquire();
    sql::ReadTransaction snapshot(*db);
    auto query = db->prepare(std::string("SELECT ") + kSessionColumns +
                             " FROM sessions WHERE provider = ? AND provider_room_id = ? AND provider_room_id != '' "
                             "ORDER BY seq DESC LIMIT 1");
    query->bindAll(provider, providerRoomId);
    auto sessions = collectSessions(*db, *query);
    if (sessions.empty()) return std::nullopt;
    return std::move(sessions.front());
}

std::vector<SessionRecord> Store::sessionsNeedingProviderRoom(int limit) const {
    auto db = impl_->readers->acquire();
    sql::ReadTransaction snapshot(*db);
    auto query = db->prepare(std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE status IN " +
                             kOpenStatuses +
                             " AND provider_status IN ('pending', 'unavailable') ORDER BY seq LIMIT ?");
    query->bindAll(clampLimit(limit, 1000));
    return collectSessions(*db, *query);
}

std::vector<StatusCount> Store::countSessionsByStatus() const {
    auto db = impl_->readers->acquire();
    auto query = db->prepare("SELECT status, count(*) FROM sessions GROUP BY status ORDER BY status");
    std::vector<StatusCount> counts;
    while (query->step()) {
        counts.push_back(StatusCount{query->columnText(0), query->columnInt(1)});
    }
    return counts;
}

// ---- participants ------------------------------------------------------------------

void Store::markParticipantJoined(const std::string& sessionId, const std::string& participantId,
                                  std::int64_t at) {
    impl_->writer->run([&](WriteTransaction& txn) {
        // Only the first join counts; a rejoin after a drop keeps the original time.
        auto update = txn.db.prepare(
            "UPDATE participants SET first_joined_at = ? "
            "WHERE session_id = ? AND participant_id = ? AND first_joined_at = 0");
        update->bindAll(at, sessionId, participantId);
        update->run();
    });
}

void Store::markParticipantLeft(const std::string& sessionId, const std::string& participantId,
                                std::int64_t at) {
    impl_->writer->run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare(
            "UPDATE participants SET last_left_at = ? WHERE session_id = ? AND participant_id = ?");
        update->bindAll(at, sessionId, participantId);
        update->run();
    });
}

// ---- events ----------------------------------------------------------------------

EventRecord Store::appendEvent(const EventRecord& event) {
    if (event.sessionId.empty() || event.type.empty()) {
        throw StoreError("appendEvent: sessionId and type are required");
    }
    return impl_->writer->run([&](WriteTransaction& txn) { return insertEvent(txn.db, event); });
}

std::vector<EventRecord> Store::listEvents(const std::string& sessionId, std::int64_t afterId, int limit) const {
    auto db = impl_->readers->acquire();
    auto query = db->prepare(std::string("SELECT ") + kEventColumns +
                             " FROM events WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?");
    query->bindAll(sessionId, afterId, clampLimit(limit, 1000));
    std::vector<EventRecord> events;
    while (query->step()) {
        events.push_back(readEventRow(*query));
    }
    return events;
}

// ---- webhook replay protection ------------------------------------------------------

bool Store::claimWebhookId(const std::string& provider, const std::string& replayId, std::int64_t expiresAt,
                           std::int64_t now) {
    if (provider.empty() || replayId.empty()) {
        throw StoreError("claimWebhookId: provider and replayId are required");
    }
    return impl_->writer->run([&](WriteTransaction& txn) {
        auto& db = txn.db;
        {
            // Bounded clean-up per call: the table never needs a sweeper thread.
            auto purge = db.prepare(
                "DELETE FROM webhook_replay WHERE rowid IN "
                "(SELECT rowid FROM webhook_replay WHERE expires_at < ? ORDER BY expires_at LIMIT 64)");
            purge->bindAll(now);
            purge->run();
        }
        {
            auto existing = db.prepare(
                "SELECT expires_at FROM webhook_replay WHERE provider = ? AND replay_id = ?");
            existing->bindAll(provider, replayId);
            if (existing->step() && existing->columnInt(0) >= now) return false;
        }
        auto insert = db.prepare(
            "INSERT OR REPLACE INTO webhook_replay (provider, replay_id, expires_at) VALUES (?, ?, ?)");
        insert->bindAll(provider, replayId, expiresAt);
        insert->run();
        return true;
    });
}

// ---- api keys ----------------------------------------------------------------------

void Store::insertApiKey(const ApiKeyRecord& key, const AuditRecord& audit) {
    if (key.id.empty() || key.secretHash.empty()) {
        throw StoreError("insertApiKey: id and secretHash are required");
    }
    const std::string scopes = joinScopes(key.scopes);
    impl_->writer->run([&](WriteTransaction& txn) {
        auto insert = txn.db.prepare(
            "INSERT INTO api_keys (id, name, scopes, secret_hash, created_at, revoked_at, last_used_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)");
        insert->bindAll(key.id, key.name, scopes, key.secretHash, key.createdAt != 0 ? key.createdAt : nowMillis(),
                        key.revokedAt, key.lastUsedAt);
        insert->run();
        appendAuditIfAny(txn, audit);
    });
}

std::optional<ApiKeyRecord> Store::findApiKey(const std::string& id) const {
    auto db = impl_->readers->acquire();
    auto query = db->prepare(std::string("SELECT ") + kApiKeyColumns + " FROM api_keys WHERE id = ?");
    query->bindAll(id);
    if (!query->step()) {
        return std::nullopt;
    }
    return readApiKeyRow(*query);
}

std::vector<ApiKeyRecord> Store::listApiKeys() const {
    auto db = impl_->readers->acquire();
    auto query = db->prepare(std::string("SELECT ") + kApiKeyColumns + " FROM api_keys ORDER BY created_at, id");
    std::vector<ApiKeyRecord> keys;
    while (query->step()) {
        keys.push_back(readApiKeyRow(*query));
    }
    return keys;
}

bool Store::revokeApiKey(const std::string& id, std::int64_t at, const AuditRecord& audit) {
    return impl_->writer->run([&](WriteTransaction& txn) {
        auto update = txn.db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0");
        update->bindAll(at != 0 ? at : nowMillis(), id);
        update->run();
        if (txn.db.changes() != 1) {
            return false;  // unknown or already revoked: nothing happened, nothing to audit
        }
        appendAuditIfAny(txn, audit);
        return true;
    });
}

// ---- audit ------------------------------------------------------------------------

AuditRecord Store::appendAudit(const AuditRecord& entry) {
    if (entry.action.empty()) {
        throw StoreError("appendAudit: action is required");
    }
    return impl_->writer->run([&](WriteTransaction& txn) { return txn.appendAudit(entry); });
}

std::vector<AuditRecord> Store::listAudit(std::int64_t afterSeq, int limit) const {
    auto db = impl_->readers->acquire();
    return readAuditEntries(*db, afterSeq, clampLimit(limit, 10000));
}

std::int64_t Store::verifyAuditChain() const {
    auto db = impl_->readers->acquire();
    sql::ReadTransaction snapshot(*db);
    return consultd::store::verifyAuditChain(*db);
}

// ---- backup -------------------------------------------------------------------------

void Store::backupTo(const std::string& path) const {
    namespace fs = std::filesystem;
    if (path.empty()) {
        throw StoreError("backup path is empty");
    }
    const std::string partial = path + ".partial";
    std::error_code ignored;
    fs::remove(partial, ignored);  // a leftover from an interrupted backup
    {
        // A dedicated connection, so a long backup does not hold a pooled reader.
        sql::Connection source(impl_->options.path, SQLITE_OPEN_READONLY, impl_->options.busyTimeoutMs);
        // One read transaction across all steps pins one WAL snapshot: the
        // copy is consistent and is never restarted by commits made meanwhile.
        sql::ReadTransaction snapshot(source);
        source.queryInt("SELECT count(*) FROM sqlite_schema");

        sql::Connection target(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, impl_->options.busyTimeoutMs);
        struct BackupFinisher {
            void operator()(sqlite3_backup* backup) const noexcept { sqlite3_backup_finish(backup); }
        };
        std::unique_ptr<sqlite3_backup, BackupFinisher> backup(
            sqlite3_backup_init(target.handle(), "main", source.handle(), "main"));
        if (!backup) {
            sql::throwError(target.handle(), sqlite3_errcode(target.handle()), "starting backup to " + partial);
        }
        constexpr int kPagesPerStep = 256;
        for (;;) {
            const int rc = sqlite3_backup_step(backup.get(), kPagesPerStep);
            if (rc == SQLITE_DONE) {
                break;
            }
            if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                continue;
            }
            if (rc != SQLITE_OK) {
                sql::throwError(target.handle(), rc, "backup step to " + partial);
            }
        }
        const int rc = sqlite3_backup_finish(backup.release());
        if (rc != SQLITE_OK) {
            sql::throwError(target.handle(), rc, "finishing backup to " + partial);
        }
    }
    // Rename last, so `path` is never a half-written copy.
    std::error_code error;
    fs::rename(partial, path, error);
    if (error) {
        throw StoreError("backup: renaming " + partial + " to " + path + ": " + error.message());
    }
}

}  // namespace consultd::store
