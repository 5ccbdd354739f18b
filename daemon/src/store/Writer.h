#pragma once
// The single writer: one thread owns the write connection and commits queued
// write jobs in groups (group commit), so many HTTP threads share one fsync.
//
// A batch is: BEGIN IMMEDIATE; for each job SAVEPOINT / job / RELEASE (or
// ROLLBACK TO on failure, and only that job gets the exception); COMMIT; then
// every caller is woken. A caller's write is therefore durable when run()
// returns (the write connection uses synchronous=FULL).
//
// Thread-safety: run(), stats() and queuedJobs() may be called from any
// thread. Jobs run on the writer thread only and must not call run() (that
// would wait for itself).

#include "store/AuditChain.h"
#include "store/Database.h"
#include "store/Store.h"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

namespace consultd::store {

/// What a job sees: the write connection inside the open transaction, and the
/// audit chain tip as of the jobs before it in this batch.
struct WriteTransaction {
    sql::Connection& db;
    AuditChainTip& auditTip;

    AuditRecord appendAudit(AuditRecord entry) { return insertAuditEntry(db, auditTip, std::move(entry)); }
};

class Writer {
public:
    struct Options {
        std::size_t maxBatch = 256;
        std::size_t maxQueued = 8192;
    };

    /// Takes the write connection (already migrated) and the audit tip read
    /// from it; starts the thread.
    Writer(std::unique_ptr<sql::Connection> db, AuditChainTip auditTip, Options options);
    /// Stops taking jobs, commits everything already queued, joins the thread.
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    /// Queues `job`, waits until its batch is committed, returns its result
    /// or rethrows its exception (or the batch's commit failure). Throws
    /// StoreError at once when the queue is full or the writer is stopping.
    template <typename Fn>
    auto run(Fn&& job) -> std::invoke_result_t<Fn&, WriteTransaction&> {
        using Result = std::invoke_result_t<Fn&, WriteTransaction&>;
        if constexpr (std::is_void_v<Result>) {
            submitAndWait([&job](WriteTransaction& txn) { job(txn); });
        } else {
            // Lives on the caller's stack: the caller is blocked until the
            // job has run, and the writer never touches it afterwards.
            std::optional<Result> result;
            submitAndWait([&job, &result](WriteTransaction& txn) { result.emplace(job(txn)); });
            return std::move(*result);
        }
    }

    struct Stats {
        std::uint64_t transactions = 0;   // committed batches
        std::uint64_t committedJobs = 0;
        std::uint64_t failedJobs = 0;     // jobs that got an exception
        std::uint64_t rejectedJobs = 0;   // queue full or stopping
        std::size_t largestBatch = 0;
    };
    Stats stats() const;
    std::size_t queuedJobs() const;

private:
    struct Job {
        std::function<void(WriteTransaction&)> body;
        std::promise<void> done;
    };

    void submitAndWait(std::function<void(WriteTransaction&)> body);
    void threadMain();
    void runBatch(std::deque<std::unique_ptr<Job>>& batch);
    void rollbackQuietly() noexcept;

    std::unique_ptr<sql::Connection> db_;
    const Options options_;

    // Owned by the writer thread (only it reads or writes it after start).
    // The tip as of our last commit; each batch still re-reads the tip right
    // after BEGIN IMMEDIATE (one indexed lookup per batch, under the write
    // lock), because another process on the same file (the admin CLI) may
    // have appended entries in between.
    AuditChainTip committedTip_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<Job>> queue_;  // guarded by mutex_
    bool stopping_ = false;                   // guarded by mutex_

    std::atomic<std::uint64_t> transactions_{0};
    std::atomic<std::uint64_t> committedJobs_{0};
    std::atomic<std::uint64_t> failedJobs_{0};
    std::atomic<std::uint64_t> rejectedJobs_{0};
    std::atomic<std::size_t> largestBatch_{0};

    std::thread thread_;  // last: started once everything above exists
};

}  // namespace consultd::store
