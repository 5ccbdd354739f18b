#pragma once
// A fixed set of read-only connections. WAL lets them read a consistent
// snapshot while the writer commits, so reads never wait for writes.
//
// Thread-safety: acquire() may be called from any thread; a Lease (and the
// connection it holds) belongs to the calling thread until it is destroyed.

#include "store/Database.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace consultd::store {

class ReadPool {
public:
    /// Opens `count` (at least 1) read-only connections to `path`, which must
    /// already exist in WAL mode.
    ReadPool(const std::string& path, int count, int busyTimeoutMs);
    ReadPool(const ReadPool&) = delete;
    ReadPool& operator=(const ReadPool&) = delete;

    class Lease {
    public:
        Lease(ReadPool& pool, sql::Connection& connection) : pool_(&pool), connection_(&connection) {}
        ~Lease();
        Lease(Lease&& other) noexcept
            : pool_(std::exchange(other.pool_, nullptr)), connection_(other.connection_) {}
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

        sql::Connection& operator*() const { return *connection_; }
        sql::Connection* operator->() const { return connection_; }

    private:
        ReadPool* pool_;
        sql::Connection* connection_;
    };

    /// Waits until a connection is free.
    Lease acquire();

private:
    void release(sql::Connection& connection) noexcept;

    std::vector<std::unique_ptr<sql::Connection>> connections_;  // fixed after construction
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<sql::Connection*> idle_;  // guarded by mutex_
};

}  // namespace consultd::store
