#include "store/Writer.h"

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

namespace consultd::store {
namespace {

// One name is enough: savepoints are strictly sequential within a batch.
constexpr const char* kSavepoint = "SAVEPOINT consultd_job";
constexpr const char* kRelease = "RELEASE consultd_job";
constexpr const char* kRollbackTo = "ROLLBACK TO consultd_job";

}  // namespace

Writer::Writer(std::unique_ptr<sql::Connection> db, AuditChainTip auditTip, Options options)
    : db_(std::move(db)),
      options_{std::max<std::size_t>(options.maxBatch, 1), std::max<std::size_t>(options.maxQueued, 1)},
      committedTip_(std::move(auditTip)),
      thread_([this] { threadMain(); }) {}

Writer::~Writer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void Writer::submitAndWait(std::function<void(WriteTransaction&)> body) {
    auto job = std::make_unique<Job>();
    job->body = std::move(body);
    // The writer owns the promise and destroys it only after setting it, so
    // the shared state outlives the notification the caller wakes on.
    std::future<void> done = job->done.get_future();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            ++rejectedJobs_;
            throw StoreError("store is shutting down; write rejected");
        }
        if (queue_.size() >= options_.maxQueued) {
            // Back-pressure instead of unbounded memory: the caller answers
            // 503 and the client retries.
            ++rejectedJobs_;
            throw StoreError("store write queue is full (" + std::to_string(options_.maxQueued) +
                             " pending writes); write rejected");
        }
        queue_.push_back(std::move(job));
        // Notified under the lock: once it is released the writer may run the
        // job and the Store may be destroyed (the destructor drains the queue),
        // so this thread must not touch a member after unlocking.
        wake_.notify_one();
    }
    done.get();
}

Writer::Stats Writer::stats() const {
    Stats stats;
    stats.transactions = transactions_.load();
    stats.committedJobs = committedJobs_.load();
    stats.failedJobs = failedJobs_.load();
    stats.rejectedJobs = rejectedJobs_.load();
    stats.largestBatch = largestBatch_.load();
    return stats;
}

std::size_t Writer::queuedJobs() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void Writer::threadMain() {
    std::deque<std::unique_ptr<Job>> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return;  // stopping and drained
            }
            const std::size_t take = std::min(queue_.size(), options_.maxBatch);
            for (std::size_t i = 0; i < take; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        runBatch(batch);
        batch.clear();
    }
}

void Writer::rollbackQuietly() noexcept {
    if (db_->inTransaction()) {
        // If even ROLLBACK fails the connection is beyond repair for this
        // batch; the error that brought us here is what callers receive, and
        // SQLite rolls back a hot journal on the next transaction anyway.
        sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Writer::runBatch(std::deque<std::unique_ptr<Job>>& batch) {
    largestBatch_.store(std::max(largestBatch_.load(), batch.size()));

    AuditChainTip tip = committedTip_;          // advanced by jobs in this batch
    std::vector<std::unique_ptr<Job>> succeeded;  // await COMMIT
    bool inTransaction = false;

    auto fail = [this](Job& job, std::exception_ptr error) {
        ++failedJobs_;
        job.done.set_exception(std::move(error));
    };
    // SQLite ended the whole transaction (I/O error, disk full, ...): the
    // jobs that had succeeded in it are lost and must be told so.
    auto failSucceeded = [&](const std::string& why) {
        for (auto& job : succeeded) {
            fail(*job, std::make_exception_ptr(
                           StoreError("write rolled back with its batch: " + why)));
        }
        succeeded.clear();
        tip = committedTip_;
        inTransaction = false;
    };

    while (!batch.empty()) {
        std::unique_ptr<Job> job = std::move(batch.front());
        batch.pop_front();

        if (!inTransaction) {
            try {
                db_->execCached("BEGIN IMMEDIATE");
                inTransaction = true;
                // Another process (the admin CLI) may have appended audit
                // entries since our last commit: read the tip under the lock.
                tip = loadAuditChainTip(*db_);
            } catch (...) {
                // Usually SQLITE_BUSY after busy_timeout: another process holds
                // the write lock. Retrying for each job of the batch would make
                // the last caller wait busy_timeout times the batch size, so the
                // whole rest of the batch fails now with the same error; the
                // next batch tries again.
                const std::exception_ptr error = std::current_exception();
                fail(*job, error);
                for (auto& rest : batch) {
                    fail(*rest, error);
                }
                batch.clear();
                break;
            }
        }

        const AuditChainTip before = tip;
        WriteTransaction txn{*db_, tip};
        try {
            db_->execCached(kSavepoint);
            job->body(txn);
            db_->execCached(kRelease);
            succeeded.push_back(std::move(job));
        } catch (...) {
            std::exception_ptr error = std::current_exception();
            tip = before;
            if (!db_->inTransaction()) {
                failSucceeded(sqlite3_errmsg(db_->handle()));
            } else {
                try {
                    db_->execCached(kRollbackTo);
                    db_->execCached(kRelease);
                } catch (const std::exception& rollbackError) {
                    rollbackQuietly();
                    failSucceeded(rollbackError.what());
                }
            }
            fail(*job, std::move(error));
        }
    }

    if (!inTransaction) {
        return;
    }
    try {
        db_->execCached("COMMIT");
    } catch (const std::exception& error) {
        rollbackQuietly();
        failSucceeded(std::string("COMMIT failed: ") + error.what());
        return;
    }
    committedTip_ = tip;
    ++transactions_;
    committedJobs_ += succeeded.size();
    for (auto& job : succeeded) {
        job->done.set_value();
    }
}

}  // namespace consultd::store
