#include "store/Database.h"

#include "store/Store.h"

#include <string>

namespace consultd::store::sql {

void throwError(sqlite3* db, int rc, std::string_view what) {
    std::string message(what);
    message += ": ";
    // sqlite3_errmsg describes the most recent failure on this connection,
    // which is this one: each connection is used by a single thread at a time.
    message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
    if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
        throw Conflict(message);
    }
    throw StoreError(message);
}

// ---- Statement ---------------------------------------------------------------

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db), sql_(sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql_.data(), static_cast<int>(sql_.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    stmt_.reset(raw);
    if (rc != SQLITE_OK) {
        throwError(db, rc, "preparing SQL");
    }
}

void Statement::bindInt(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
    if (rc != SQLITE_OK) {
        throwError(db_, rc, "binding parameter");
    }
}

void Statement::bindText(int index, std::string_view value) {
    // SQLITE_TRANSIENT: SQLite copies, so a temporary argument cannot dangle.
    const int rc = sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(),
                                       SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        throwError(db_, rc, "binding parameter");
    }
}

void Statement::bindNull(int index) {
    const int rc = sqlite3_bind_null(stmt_.get(), index);
    if (rc != SQLITE_OK) {
        throwError(db_, rc, "binding parameter");
    }
}

void Statement::bindTextOrNull(int index, std::string_view value) {
    if (value.empty()) {
        bindNull(index);
    } else {
        bindText(index, value);
    }
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    throwError(db_, rc, "executing SQL");
}

void Statement::run() {
    while (step()) {
    }
}

void Statement::reset() noexcept {
    // The return value of sqlite3_reset repeats the last step's error, which
    // step() already reported.
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::columnInt(int column) const {
    return sqlite3_column_int64(stmt_.get(), column);
}

std::string Statement::columnText(int column) const {
    const auto* text = sqlite3_column_text(stmt_.get(), column);
    if (text == nullptr) {
        return {};
    }
    const int size = sqlite3_column_bytes(stmt_.get(), column);
    return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

bool Statement::columnIsNull(int column) const {
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

// ---- CachedStatement ------------------------------------------------------------

CachedStatement::CachedStatement(Connection& connection, std::unique_ptr<Statement> statement)
    : connection_(connection), statement_(std::move(statement)) {}

CachedStatement::~CachedStatement() {
    statement_->reset();
    connection_.giveBack(std::move(statement_));
}

// ---- Connection -------------------------------------------------------------------

Connection::Connection(const std::string& path, int flags, int busyTimeoutMs) : path_(path) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                   flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
    // sqlite3_open_v2 allocates a handle even on failure; it must be closed.
    db_.reset(raw);
    if (rc != SQLITE_OK) {
        throwError(raw, rc, "opening database " + path);
    }
    sqlite3_extended_result_codes(raw, 1);
    const int timeoutRc = sqlite3_busy_timeout(raw, busyTimeoutMs);
    if (timeoutRc != SQLITE_OK) {
        throwError(raw, timeoutRc, "setting busy_timeout");
    }
}

Connection::~Connection() {
    // Statements go first (cache_ is declared after db_), then sqlite3_close_v2.
    cache_.clear();
}

void Connection::exec(const std::string& sql) {
    const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        throwError(db_.get(), rc, "executing \"" + sql.substr(0, 60) + "\"");
    }
}

void Connection::execCached(std::string_view sql) {
    // Prepared once per connection and kept in the cache: the writer runs
    // BEGIN/SAVEPOINT/RELEASE/COMMIT for every job and readers BEGIN for every
    // read (bench/api found re-parsing them on the hot path).
    auto statement = prepare(sql);
    while (statement->step()) {
    }
}

std::string Connection::queryText(const std::string& sql) {
    Statement statement(db_.get(), sql);
    if (!statement.step()) {
        return {};
    }
    return statement.columnText(0);
}

std::int64_t Connection::queryInt(const std::string& sql) {
    Statement statement(db_.get(), sql);
    if (!statement.step()) {
        return 0;
    }
    return statement.columnInt(0);
}

CachedStatement Connection::prepare(std::string_view sql) {
    auto found = cache_.find(std::string(sql));
    if (found != cache_.end() && !found->second.empty()) {
        auto statement = std::move(found->second.back());
        found->second.pop_back();
        return CachedStatement(*this, std::move(statement));
    }
    return CachedStatement(*this, std::make_unique<Statement>(db_.get(), sql));
}

void Connection::giveBack(std::unique_ptr<Statement> statement) noexcept {
    auto& slot = cache_[statement->sql()];
    // Two spares of one SQL are enough for the nesting the store does; more
    // would only be kept alive for nothing.
    if (slot.size() < 2) {
        slot.push_back(std::move(statement));
    }
}

// ---- ReadTransaction ------------------------------------------------------------------

ReadTransaction::ReadTransaction(Connection& connection) : connection_(connection) {
    connection_.execCached("BEGIN");
}

ReadTransaction::~ReadTransaction() {
    // A read transaction has nothing to lose: when COMMIT fails (it should
    // not), ROLLBACK ends it so the pooled connection is reusable.
    if (sqlite3_exec(connection_.handle(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

}  // namespace consultd::store::sql
