#include "store/Migrations.h"

#include "store/Database.h"
#include "store/Store.h"

#include <string>

namespace consultd::store {
namespace {

// Times are Unix milliseconds (UTC), 0 = not set, as in Store.h. Text columns
// are NOT NULL DEFAULT '' so "absent" has one spelling; the only nullable
// column is events.idempotency_key, because a partial UNIQUE index must not
// treat every "no key" as the same key.
constexpr const char* kV1Core = R"sql(
PRAGMA application_id = 1129206596;

CREATE TABLE sessions (
    -- rowid alias; AUTOINCREMENT so a seq is never reused, even after the
    -- newest row is deleted by retention: list cursors rely on it.
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT    NOT NULL UNIQUE,
    consultation_id   TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    mode              TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN
                          ('scheduled', 'waiting', 'active', 'ended', 'cancelled', 'failed')),
    room_name         TEXT    NOT NULL DEFAULT '',
    provider_room_id  TEXT    NOT NULL DEFAULT '',
    provider_status   TEXT    NOT NULL DEFAULT '',
    device_id         TEXT    NOT NULL DEFAULT '',
    record            INTEGER NOT NULL DEFAULT 0 CHECK (record IN (0, 1)),
    metadata_json     TEXT    NOT NULL DEFAULT '{}',
    scheduled_at      INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    started_at        INTEGER NOT NULL DEFAULT 0,
    ended_at          INTEGER NOT NULL DEFAULT 0,
    duration_seconds  INTEGER NOT NULL DEFAULT -1,
    end_reason        TEXT    NOT NULL DEFAULT '',
    quality           TEXT    NOT NULL DEFAULT ''
);
-- List filters page by seq, so each filter index ends in seq.
CREATE INDEX sessions_by_status       ON sessions (status, seq);
CREATE INDEX sessions_by_consultation ON sessions (consultation_id, seq);
CREATE INDEX sessions_by_created_at   ON sessions (created_at);
-- The rule "one open session per consultation", enforced by the database
-- itself so no code path (or race) can break it.
CREATE UNIQUE INDEX sessions_one_open_per_consultation ON sessions (consultation_id)
    WHERE status IN ('scheduled', 'waiting', 'active');

CREATE TABLE participants (
    session_id       TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    participant_id   TEXT    NOT NULL,
    name             TEXT    NOT NULL DEFAULT '',
    email            TEXT    NOT NULL DEFAULT '',
    role             TEXT    NOT NULL,
    first_joined_at  INTEGER NOT NULL DEFAULT 0,
    last_left_at     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, participant_id)
);

CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id       TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    type             TEXT    NOT NULL,
    participant_id   TEXT    NOT NULL DEFAULT '',
    severity         TEXT    NOT NULL DEFAULT 'info',
    source           TEXT    NOT NULL DEFAULT 'client',
    data_json        TEXT    NOT NULL DEFAULT '{}',
    idempotency_key  TEXT,
    created_at       INTEGER NOT NULL
);
CREATE INDEX events_by_session ON events (session_id, id);
-- Scoped to the session: a client's key must never return another
-- session's event.
CREATE UNIQUE INDEX events_idempotency ON events (session_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE api_keys (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL DEFAULT '',
    scopes        TEXT    NOT NULL DEFAULT '',   -- space-separated
    secret_hash   TEXT    NOT NULL,              -- hex SHA-256 of the secret
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER NOT NULL DEFAULT 0,
    last_used_at  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,           -- assigned by the writer: 1, 2, 3, ...
    at            INTEGER NOT NULL,
    actor         TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    target        TEXT    NOT NULL DEFAULT '',
    details_json  TEXT    NOT NULL DEFAULT '{}',
    request_id    TEXT    NOT NULL DEFAULT '',
    prev_hash     TEXT    NOT NULL,
    hash          TEXT    NOT NULL
);
CREATE INDEX audit_log_by_target ON audit_log (target, seq);
-- Append-only for ordinary SQL. Someone with the file can drop these; the
-- hash chain is what detects that.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
)sql";

// Local recordings (issue 4): one row per recorded file, native (the daemon's
// recorder, one file per sending participant) or imported from a provider's
// archive. No foreign key to sessions: a recording row (and its audit trail)
// must outlive whatever happens to the session row, and deleting a file is
// the recording service's job, never a cascade. Status "deleted" keeps the
// row so the audit entries keep pointing at something.
constexpr const char* kV2Recordings = R"sql(
CREATE TABLE recordings (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    session_id      TEXT    NOT NULL,
    participant_id  TEXT    NOT NULL DEFAULT '',
    source          TEXT    NOT NULL CHECK (source IN ('native', 'import')),
    status          TEXT    NOT NULL CHECK (status IN ('recording', 'available', 'failed', 'deleted')),
    reason          TEXT    NOT NULL DEFAULT '',
    file_name       TEXT    NOT NULL DEFAULT '',
    container       TEXT    NOT NULL DEFAULT '',
    tracks          TEXT    NOT NULL DEFAULT '',
    bytes           INTEGER NOT NULL DEFAULT 0,
    duration_ms     INTEGER NOT NULL DEFAULT 0,
    external_id     TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX recordings_by_session    ON recordings (session_id, seq);
CREATE INDEX recordings_by_status     ON recordings (status, seq);
CREATE INDEX recordings_by_created_at ON recordings (created_at);
-- One import per provider archive: an import retried after a crash finds its row.
CREATE UNIQUE INDEX recordings_one_per_external_id ON recordings (session_id, external_id)
    WHERE external_id != '';
)sql";

// Invite links to the join page and exam-room devices (kiosks). Secrets are
// stored only as hex SHA-256: the invite id of a link, the rejoin credential
// bound to the first browser that redeemed it, a device's enrollment code and
// its long-lived credential.
constexpr const char* kV3InvitesDevices = R"sql(
CREATE TABLE invites (
    id_hash          TEXT    PRIMARY KEY,          -- SHA-256 of the invite id in the link
    session_id       TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    participant_id   TEXT    NOT NULL,
    created_by       TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    redeemed_at      INTEGER NOT NULL DEFAULT 0,
    rejoin_hash      TEXT    NOT NULL DEFAULT '',  -- SHA-256 of the bound browser's rejoin credential
    last_used_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX invites_by_session ON invites (session_id);
CREATE INDEX invites_by_expiry  ON invites (expires_at);

CREATE TABLE devices (
    id                     TEXT    PRIMARY KEY,    -- "dev_" + random; the device's participant id
    name                   TEXT    NOT NULL,
    room_name              TEXT    NOT NULL DEFAULT '',
    status                 TEXT    NOT NULL CHECK (status IN ('pending', 'enrolled', 'revoked')),
    enrollment_code_hash   TEXT    NOT NULL DEFAULT '',
    enrollment_expires_at  INTEGER NOT NULL DEFAULT 0,
    credential_hash        TEXT    NOT NULL DEFAULT '',
    enrolled_at            INTEGER NOT NULL DEFAULT 0,
    last_seen_at           INTEGER NOT NULL DEFAULT 0,
    created_at             INTEGER NOT NULL,
    revoked_at             INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX devices_by_enrollment_code ON devices (enrollment_code_hash)
    WHERE enrollment_code_hash != '';
-- A kiosk asks for its next and active sessions every few seconds.
CREATE INDEX sessions_by_device ON sessions (device_id, status) WHERE device_id != '';
)sql";

// Provider webhooks: replay ids of verified callbacks (kept until they
// expire, so a replay after a restart is still refused), and the lookup of a
// session by the room id a provider names in its callbacks.
constexpr const char* kWebhookReplay = R"sql(
CREATE TABLE webhook_replay (
    provider    TEXT    NOT NULL,
    replay_id   TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, replay_id)
);
CREATE INDEX webhook_replay_by_expiry ON webhook_replay (expires_at);
CREATE INDEX sessions_by_provider_room ON sessions (provider, provider_room_id, seq)
    WHERE provider_room_id != '';
)sql";

// Admin console accounts (issue 5): local users created with the CLI and the
// sessions of their browser logins. A password is stored only as the
// self-describing KDF string of admin/PasswordHasher.h (algorithm, parameters,
// salt, hash); a session only as the SHA-256 of its cookie value and of its
// CSRF token, so a copy of the database logs nobody in.
constexpr const char* kV5AdminUsers = R"sql(
CREATE TABLE admin_users (
    username        TEXT    PRIMARY KEY,
    password_hash   TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    disabled_at     INTEGER NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,   -- consecutive, reset by a good login
    locked_until    INTEGER NOT NULL DEFAULT 0,
    last_login_at   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE admin_sessions (
    id_hash         TEXT    PRIMARY KEY,          -- hex SHA-256 of the cookie value
    username        TEXT    NOT NULL REFERENCES admin_users (username) ON DELETE CASCADE,
    csrf_hash       TEXT    NOT NULL,             -- hex SHA-256 of the CSRF token
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,             -- absolute lifetime
    client_address  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX admin_sessions_by_user   ON admin_sessions (username);
CREATE INDEX admin_sessions_by_expiry ON admin_sessions (expires_at);
-- The audit view filters by actor and action, newest first.
CREATE INDEX audit_log_by_actor  ON audit_log (actor, seq);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
)sql";

constexpr Migration kMigrations[] = {
    {1, "sessions, participants, events, api keys, audit log", kV1Core},
    {2, "recordings", kV2Recordings},
    {3, "invites, devices", kV3InvitesDevices},
    {4, "webhook replay ids, sessions by provider room", kWebhookReplay},
    {5, "admin users and admin sessions", kV5AdminUsers},
    // Append new steps here: {2, "...", R"sql(...)sql"}, ...
};

static_assert(kApplicationId == 1129206596, "kV1Core spells the application id in decimal");

}  // namespace

std::span<const Migration> migrations() {
    return kMigrations;
}

int binarySchemaVersion() {
    return migrations().back().version;
}

int checkSchemaCompatible(sql::Connection& db, std::span<const Migration> steps) {
    const int target = steps.empty() ? 0 : steps.back().version;
    const auto applicationId = db.queryInt("PRAGMA application_id");
    const auto current = static_cast<int>(db.queryInt("PRAGMA user_version"));
    if (applicationId != 0 && applicationId != kApplicationId) {
        throw StoreError("database " + db.path() + " is not a consultd database (application_id " +
                         std::to_string(applicationId) + ")");
    }
    if (current == 0 && db.queryInt("SELECT count(*) FROM sqlite_schema") != 0) {
        throw StoreError("database " + db.path() +
                         " has tables but no consultd schema version; refusing to migrate it");
    }
    if (current > target) {
        throw SchemaTooNew("database schema version " + std::to_string(current) +
                           " is newer than this consultd (" + std::to_string(target) +
                           "); upgrade consultd or restore a backup");
    }
    return current;
}

int applyMigrations(sql::Connection& db, std::span<const Migration> steps) {
    const int current = checkSchemaCompatible(db, steps);
    int expected = 1;
    for (const Migration& step : steps) {
        if (step.version != expected++) {
            throw StoreError("migration list is not contiguous at version " +
                             std::to_string(step.version));
        }
        if (step.version <= current) {
            continue;
        }
        // IMMEDIATE: take the write lock up front, so two daemons started at
        // once cannot both apply a step.
        db.exec("BEGIN IMMEDIATE");
        try {
            if (static_cast<int>(db.queryInt("PRAGMA user_version")) >= step.version) {
                db.exec("COMMIT");  // someone else applied it meanwhile
                continue;
            }
            db.exec(step.sql);
            // PRAGMA takes no parameters; the version is our own constant.
            db.exec("PRAGMA user_version = " + std::to_string(step.version));
            db.exec("COMMIT");
        } catch (const StoreError& error) {
            if (db.inTransaction()) {
                db.exec("ROLLBACK");
            }
            throw StoreError("migration to schema version " + std::to_string(step.version) + " (" +
                             step.description + ") failed: " + error.what());
        }
    }
    return static_cast<int>(db.queryInt("PRAGMA user_version"));
}

}  // namespace consultd::store
