// Many threads, group commit, durability across SIGKILL, online backup.
#include "TestDir.h"

#include <cppunit/extensions/HelperMacros.h>

#include <sqlite3.h>

#include <sys/types.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace consultd::store::test {
namespace {

std::vector<AuditRecord> allAudit(Store& store) {
    std::vector<AuditRecord> all;
    for (;;) {
        auto page = store.listAudit(all.empty() ? 0 : all.back().seq, 1000);
        if (page.empty()) {
            return all;
        }
        all.insert(all.end(), page.begin(), page.end());
    }
}

}  // namespace

class StoreConcurrencyTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreConcurrencyTest);
    CPPUNIT_TEST(concurrentAuditAppendsFormOneChain);
    CPPUNIT_TEST(concurrentCreatesForOneConsultation);
    CPPUNIT_TEST(conflictsInABusyBatchLoseNothingElse);
    CPPUNIT_TEST(acknowledgedWriteSurvivesSigkill);
    CPPUNIT_TEST(backupWhileWritingIsConsistent);
    CPPUNIT_TEST(writeLockHeldElsewhereFailsThenRecovers);
    CPPUNIT_TEST_SUITE_END();

public:
    void concurrentAuditAppendsFormOneChain() {
        TestDir dir;
        auto store = openStore(dir.file("c.db"));
        constexpr int kThreads = 8;
        constexpr int kPerThread = 200;
        std::atomic<bool> writing{true};
        std::atomic<int> brokenSnapshots{0};
        std::atomic<int> reads{0};
        // Every snapshot a reader sees while writers commit must be a whole chain.
        std::thread reader([&] {
            while (writing.load()) {
                if (store->verifyAuditChain() != 0) {
                    ++brokenSnapshots;
                }
                ++reads;
            }
        });
        std::vector<std::thread> writers;
        std::mutex seqMutex;
        std::set<std::int64_t> returnedSeqs;
        for (int t = 0; t < kThreads; ++t) {
            writers.emplace_back([&, t] {
                for (int i = 0; i < kPerThread; ++i) {
                    AuditRecord entry = sampleAudit("token.issued", "t" + std::to_string(t) + "-" + std::to_string(i));
                    const auto stored = store->appendAudit(entry);
                    std::lock_guard lock(seqMutex);
                    returnedSeqs.insert(stored.seq);
                }
            });
        }
        for (auto& w : writers) {
            w.join();
        }
        writing = false;
        reader.join();

        constexpr std::size_t kTotal = kThreads * kPerThread;
        CPPUNIT_ASSERT_EQUAL(kTotal, returnedSeqs.size());
        const auto all = allAudit(*store);
        CPPUNIT_ASSERT_EQUAL(kTotal, all.size());
        std::set<std::string> targets;
        for (std::size_t i = 0; i < all.size(); ++i) {
            CPPUNIT_ASSERT_EQUAL(static_cast<std::int64_t>(i + 1), all[i].seq);
            targets.insert(all[i].target);
        }
        CPPUNIT_ASSERT_EQUAL(kTotal, targets.size());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->verifyAuditChain());
        CPPUNIT_ASSERT_EQUAL(0, brokenSnapshots.load());
        CPPUNIT_ASSERT(reads.load() > 0);

        // Group commit happened: fewer transactions than writes.
        const auto stats = store->stats();
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{kTotal}, stats.committedWrites);
        CPPUNIT_ASSERT(stats.transactions < stats.committedWrites);
        CPPUNIT_ASSERT(stats.largestBatch > 1);
    }

    void concurrentCreatesForOneConsultation() {
        TestDir dir;
        auto store = openStore(dir.file("c.db"));
        std::atomic<int> created{0};
        std::atomic<int> conflicts{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                try {
                    store->insertSession(sampleSession("ses_" + std::to_string(t), "c-race"),
                                         sampleAudit("session.created"));
                    ++created;
                } catch (const Conflict&) {
                    ++conflicts;
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        CPPUNIT_ASSERT_EQUAL(1, created.load());
        CPPUNIT_ASSERT_EQUAL(7, conflicts.load());
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, store->listAudit(0, 100).size());
    }

    void conflictsInABusyBatchLoseNothingElse() {
        TestDir dir;
        auto store = openStore(dir.file("c.db"));
        store->insertSession(sampleSession("ses_taken", "c-taken"), {});
        std::atomic<int> conflicts{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 50; ++i) {
                    const std::string n = std::to_string(t) + "-" + std::to_string(i);
                    if (i % 5 == 0) {
                        try {
                            store->insertSession(sampleSession("ses_dup" + n, "c-taken"), sampleAudit("lost", n));
                        } catch (const Conflict&) {
                            ++conflicts;
                        }
                    } else {
                        store->insertSession(sampleSession("ses_" + n, "c-" + n), sampleAudit("kept", n));
                    }
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        CPPUNIT_ASSERT_EQUAL(80, conflicts.load());
        const auto all = allAudit(*store);
        CPPUNIT_ASSERT_EQUAL(std::size_t{320}, all.size());
        for (const auto& entry : all) {
            CPPUNIT_ASSERT_EQUAL(std::string("kept"), entry.action);
            CPPUNIT_ASSERT(store->findSession("ses_" + entry.target).has_value());
        }
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->verifyAuditChain());
    }

    void acknowledgedWriteSurvivesSigkill() {
        TestDir dir;
        const auto path = dir.file("d.db");
        openStore(path).reset();  // schema in place before the child starts

        int ready[2];
        CPPUNIT_ASSERT_EQUAL(0, pipe(ready));
        // No Store is open in this process, so the child starts from a
        // single-threaded image and may create its own threads.
        const pid_t child = fork();
        CPPUNIT_ASSERT(child >= 0);
        if (child == 0) {
            close(ready[0]);
            char status = 'x';
            try {
                auto store = openStore(path);
                store->insertSession(sampleSession("ses_durable", "c-1"), sampleAudit("session.created", "ses_durable"));
                store->appendAudit(sampleAudit("token.issued", "ses_durable"));
                status = 'k';
            } catch (...) {
                status = 'e';
                (void)!write(ready[1], &status, 1);
                _exit(1);
            }
            // Store still open, no destructor, no checkpoint: killed right after.
            (void)!write(ready[1], &status, 1);
            for (;;) {
                pause();
            }
        }
        close(ready[1]);
        char status = 0;
        const ssize_t got = read(ready[0], &status, 1);
        close(ready[0]);
        kill(child, SIGKILL);
        int waitStatus = 0;
        CPPUNIT_ASSERT_EQUAL(child, waitpid(child, &waitStatus, 0));
        CPPUNIT_ASSERT_EQUAL(ssize_t{1}, got);
        CPPUNIT_ASSERT_EQUAL('k', status);
        CPPUNIT_ASSERT(WIFSIGNALED(waitStatus) && WTERMSIG(waitStatus) == SIGKILL);

        auto store = openStore(path);
        const auto session = store->findSession("ses_durable");
        CPPUNIT_ASSERT(session.has_value());
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, session->participants.size());
        const auto audit = store->listAudit(0, 10);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, audit.size());
        CPPUNIT_ASSERT_EQUAL(std::string("token.issued"), audit[1].action);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->verifyAuditChain());
        // And the chain continues from the killed process's last entry.
        CPPUNIT_ASSERT_EQUAL(audit[1].hash, store->appendAudit(sampleAudit("after")).prevHash);
    }

    void backupWhileWritingIsConsistent() {
        TestDir dir;
        const auto path = dir.file("b.db");
        const auto backupPath = dir.file("backup.db");
        auto store = openStore(path);
        // Enough data for the backup to take many steps.
        for (int i = 0; i < 200; ++i) {
            SessionRecord s = sampleSession("ses_pre" + std::to_string(i), "c-pre" + std::to_string(i));
            s.metadataJson = "{\"pad\":\"" + std::string(2000, 'p') + "\"}";
            store->insertSession(s, sampleAudit("session.created", s.id));
        }
        const auto countBefore = store->listAudit(0, 10000).size();

        std::atomic<bool> writing{true};
        std::atomic<int> written{0};
        std::vector<std::thread> writers;
        for (int t = 0; t < 4; ++t) {
            writers.emplace_back([&, t] {
                for (int i = 0; writing.load(); ++i) {
                    const std::string id = "ses_w" + std::to_string(t) + "_" + std::to_string(i);
                    store->insertSession(sampleSession(id, "c-" + id), sampleAudit("session.created", id));
                    ++written;
                }
            });
        }
        // Wait until writes are flowing, then back up in the middle of them.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (written.load() < 20 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        const int writtenAtStart = written.load();
        store->backupTo(backupPath);
        const int writtenAtEnd = written.load();
        writing = false;
        for (auto& w : writers) {
            w.join();
        }
        CPPUNIT_ASSERT(writtenAtStart >= 20);
        CPPUNIT_ASSERT(writtenAtEnd > writtenAtStart);  // writes really ran during the backup

        CPPUNIT_ASSERT_EQUAL(std::string("ok"), rawQuery(backupPath, "PRAGMA integrity_check"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), rawQuery(backupPath, "PRAGMA foreign_key_check"));  // no violations
        auto copy = openStore(backupPath);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, copy->verifyAuditChain());
        const auto copied = allAudit(*copy);
        CPPUNIT_ASSERT(copied.size() >= countBefore + static_cast<std::size_t>(writtenAtStart));
        CPPUNIT_ASSERT(copied.size() <= allAudit(*store).size());
        // A consistent snapshot: every audited session is in the copy, and vice versa.
        SessionFilter all;
        all.limit = 200;
        std::size_t sessions = 0;
        for (;;) {
            const auto page = copy->listSessions(all);
            if (page.empty()) {
                break;
            }
            sessions += page.size();
            all.afterSeq = page.back().seq;
        }
        CPPUNIT_ASSERT_EQUAL(copied.size(), sessions);
        CPPUNIT_ASSERT(!std::filesystem::exists(backupPath + ".partial"));
    }

    void writeLockHeldElsewhereFailsThenRecovers() {
        TestDir dir;
        const auto path = dir.file("l.db");
        StoreOptions options;
        options.path = path;
        options.busyTimeoutMs = 200;
        auto store = Store::open(options);
        const auto first = store->appendAudit(sampleAudit("before"));

        // Another process (say, an admin's sqlite3 shell) holds the write lock.
        sqlite3* other = nullptr;
        CPPUNIT_ASSERT_EQUAL(SQLITE_OK, sqlite3_open(path.c_str(), &other));
        CPPUNIT_ASSERT_EQUAL(SQLITE_OK, sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr));
        std::atomic<int> busy{0};
        std::vector<std::thread> threads;
        const auto started = std::chrono::steady_clock::now();
        for (int t = 0; t < 6; ++t) {
            threads.emplace_back([&] {
                try {
                    store->appendAudit(sampleAudit("during"));
                } catch (const StoreError&) {
                    ++busy;
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        const auto waited = std::chrono::steady_clock::now() - started;
        CPPUNIT_ASSERT_EQUAL(6, busy.load());
        // Failed per batch, not per job: far below 6 x busy_timeout.
        CPPUNIT_ASSERT(waited < std::chrono::milliseconds(6 * 200));
        // Reads are not blocked by the lock (WAL).
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, store->listAudit(0, 10).size());

        sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close_v2(other);
        const auto after = store->appendAudit(sampleAudit("after"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{2}, after.seq);
        CPPUNIT_ASSERT_EQUAL(first.hash, after.prevHash);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->verifyAuditChain());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreConcurrencyTest);

}  // namespace consultd::store::test
