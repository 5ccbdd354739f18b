#include "TestDir.h"

#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace consultd::store::test {
namespace {

struct RawDb {
    explicit RawDb(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
            sqlite3_close_v2(db);
            throw std::runtime_error("raw open " + path + ": " + message);
        }
        sqlite3_busy_timeout(db, 5000);
    }
    ~RawDb() { sqlite3_close_v2(db); }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;
    sqlite3* db = nullptr;
};

}  // namespace

TestDir::TestDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/consultd-store-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    path_ = buffer.data();
}

TestDir::~TestDir() {
    std::error_code ignored;  // best effort: a leftover temp dir must not fail a test
    std::filesystem::remove_all(path_, ignored);
}

std::unique_ptr<Store> openStore(const std::string& path, int maxBatch) {
    StoreOptions options;
    options.path = path;
    options.readConnections = 3;
    options.maxBatch = maxBatch;
    return Store::open(options);
}

void rawExec(const std::string& dbPath, const std::string& sql) {
    RawDb raw(dbPath);
    char* error = nullptr;
    if (sqlite3_exec(raw.db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        const std::string message = error != nullptr ? error : "unknown error";
        sqlite3_free(error);
        throw std::runtime_error("raw exec \"" + sql + "\": " + message);
    }
}

std::string rawQuery(const std::string& dbPath, const std::string& sql) {
    RawDb raw(dbPath);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(raw.db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
        throw std::runtime_error("raw prepare \"" + sql + "\": " + sqlite3_errmsg(raw.db));
    }
    std::string value;
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
        value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        throw std::runtime_error("raw step \"" + sql + "\": " + sqlite3_errmsg(raw.db));
    }
    return value;
}

SessionRecord sampleSession(const std::string& id, const std::string& consultationId, const std::string& status) {
    SessionRecord s;
    s.id = id;
    s.consultationId = consultationId;
    s.provider = "jitsi";
    s.mode = "video";
    s.status = status;
    s.roomName = "room-" + id;
    s.providerStatus = "ok";
    s.metadataJson = R"({"ward":"3B"})";
    s.scheduledAt = 1'700'000'000'000;
    ParticipantRecord host;
    host.participantId = "dr-1";
    host.name = "Dr. One";
    host.email = "one@example.org";
    host.role = "host";
    ParticipantRecord patient;
    patient.participantId = "pt-1";
    patient.name = "Pat";
    patient.role = "patient";
    s.participants = {host, patient};
    return s;
}

AuditRecord sampleAudit(const std::string& action, const std::string& target) {
    AuditRecord a;
    a.actor = "apikey:key_test";
    a.action = action;
    a.target = target;
    a.detailsJson = R"({"k":1})";
    a.requestId = "req-1";
    return a;
}

}  // namespace consultd::store::test
