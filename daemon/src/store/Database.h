#pragma once
// Small owning wrappers over the sqlite3 C API, private to the store.
//
// Every value reaches SQL through a bound parameter; the only SQL text built
// at run time is made of fixed fragments chosen by code (never by data).
//
// Thread-safety: none of these classes is thread-safe. A Connection (and every
// statement prepared on it) is used by one thread at a time: the writer thread
// owns the write connection, ReadPool hands each read connection to one caller
// at a time. Connections are opened with SQLITE_OPEN_NOMUTEX for that reason.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace consultd::store::sql {

/// Throws Conflict for UNIQUE / PRIMARY KEY violations (the "already exists"
/// family the API maps to 409) and StoreError for everything else.
[[noreturn]] void throwError(sqlite3* db, int rc, std::string_view what);

/// One prepared statement. Reset (and bindings cleared) by its owner between uses.
class Statement {
public:
    Statement(sqlite3* db, std::string_view sql);
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    void bindInt(int index, std::int64_t value);
    void bindText(int index, std::string_view value);
    void bindNull(int index);
    /// Binds an empty string as NULL (for optional UNIQUE columns).
    void bindTextOrNull(int index, std::string_view value);

    /// Binds the arguments to parameters 1..N in order.
    template <typename... Args>
    void bindAll(const Args&... args) {
        int index = 0;
        (bindOne(++index, args), ...);
    }

    /// Returns true when a row is available, false when done; throws on error.
    bool step();
    /// Steps a statement that must not return rows.
    void run();
    void reset() noexcept;

    std::int64_t columnInt(int column) const;
    std::string columnText(int column) const;
    bool columnIsNull(int column) const;

    const std::string& sql() const { return sql_; }

private:
    template <typename T>
    void bindOne(int index, const T& value) {
        if constexpr (std::is_same_v<T, bool>) {
            bindInt(index, value ? 1 : 0);
        } else if constexpr (std::is_integral_v<T>) {
            bindInt(index, static_cast<std::int64_t>(value));
        } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
            bindNull(index);
        } else {
            bindText(index, std::string_view(value));
        }
    }

    struct Finalizer {
        void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
    };
    sqlite3* db_;
    std::string sql_;
    std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

class Connection;

/// A statement borrowed from a connection's cache; reset and returned on
/// destruction so the next use skips sqlite3_prepare (the hot write path runs
/// the same few statements thousands of times a second).
class CachedStatement {
public:
    CachedStatement(Connection& connection, std::unique_ptr<Statement> statement);
    ~CachedStatement();
    CachedStatement(const CachedStatement&) = delete;
    CachedStatement& operator=(const CachedStatement&) = delete;

    Statement& operator*() { return *statement_; }
    Statement* operator->() { return statement_.get(); }

private:
    Connection& connection_;
    std::unique_ptr<Statement> statement_;
};

class Connection {
public:
    /// Opens `path` with `flags` (SQLITE_OPEN_*; NOMUTEX and EXRESCODE are added)
    /// and sets busy_timeout.
    Connection(const std::string& path, int flags, int busyTimeoutMs);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    sqlite3* handle() const { return db_.get(); }
    const std::string& path() const { return path_; }

    /// Runs parameterless SQL (DDL, PRAGMA, transaction control), possibly
    /// several statements.
    /// Runs SQL text, which may hold several statements (migrations).
    void exec(const std::string& sql);
    /// Runs ONE statement through the statement cache (hot paths).
    void execCached(std::string_view sql);
    /// Runs a single-value query (e.g. a PRAGMA) and returns column 0 of its
    /// first row as text ("" when no row).
    std::string queryText(const std::string& sql);
    std::int64_t queryInt(const std::string& sql);

    /// A statement from the cache (prepared on first use). Nested use of the
    /// same SQL is fine: a second statement is prepared while the first is out.
    CachedStatement prepare(std::string_view sql);

    std::int64_t lastInsertRowid() const { return sqlite3_last_insert_rowid(db_.get()); }
    int changes() const { return sqlite3_changes(db_.get()); }
    bool inTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

private:
    friend class CachedStatement;
    void giveBack(std::unique_ptr<Statement> statement) noexcept;

    struct Closer {
        void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
    };
    std::string path_;
    // Declared before the cache so the cached statements are finalized first.
    std::unique_ptr<sqlite3, Closer> db_;
    std::unordered_map<std::string, std::vector<std::unique_ptr<Statement>>> cache_;
};

/// BEGIN ... COMMIT on a read connection, so a read made of several queries
/// (a session and its participants) sees one snapshot. Rolls back when left
/// by an exception.
class ReadTransaction {
public:
    explicit ReadTransaction(Connection& connection);
    ~ReadTransaction();
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

private:
    Connection& connection_;
};

}  // namespace consultd::store::sql
