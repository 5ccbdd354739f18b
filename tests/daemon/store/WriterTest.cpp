// The group-commit writer on its own: batches are made deterministic by a
// "gate" job that holds the writer thread until the test has queued the jobs
// it wants in one batch.
#include "TestDir.h"
#include "store/AuditChain.h"
#include "store/Migrations.h"
#include "store/Writer.h"

#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace consultd::store::test {
namespace {

using namespace std::chrono_literals;

/// A writer on a migrated database with an extra `items` table.
struct WriterFixture {
    explicit WriterFixture(const TestDir& dir, std::size_t maxQueued = 1024) : path(dir.file("w.db")) {
        auto db = std::make_unique<sql::Connection>(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 2000);
        db->queryText("PRAGMA journal_mode = WAL");
        db->exec("PRAGMA foreign_keys = ON");
        applyMigrations(*db, migrations());
        db->exec(
            "CREATE TABLE items (name TEXT PRIMARY KEY);"
            "CREATE TABLE parents (id TEXT PRIMARY KEY);"
            "CREATE TABLE children (parent TEXT REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);");
        Writer::Options options;
        options.maxBatch = 64;
        options.maxQueued = maxQueued;
        writer = std::make_unique<Writer>(std::move(db), AuditChainTip{}, options);
    }

    ~WriterFixture() {
        if (gateThread.joinable()) {
            openGate();  // a failed assertion left the writer held
        }
    }
    WriterFixture(const WriterFixture&) = delete;
    WriterFixture& operator=(const WriterFixture&) = delete;

    /// Occupies the writer thread until release(); returns once it runs.
    void closeGate() {
        gateThread = std::thread([this] {
            writer->run([this](WriteTransaction&) {
                gateEntered.set_value();
                gateOpen.get_future().wait();
            });
        });
        gateEntered.get_future().wait();
    }
    void openGate() {
        gateOpen.set_value();
        gateThread.join();
    }

    /// Starts `job` on its own thread and waits until it is queued behind the gate.
    template <typename Fn>
    std::future<void> queue(Fn job) {
        const std::size_t before = writer->queuedJobs();
        auto result = std::async(std::launch::async, [this, job]() { writer->run(job); });
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (writer->queuedJobs() == before && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(1ms);
        }
        CPPUNIT_ASSERT_EQUAL(before + 1, writer->queuedJobs());
        return result;
    }

    std::string items() const { return rawQuery(path, "SELECT group_concat(name, ',') FROM (SELECT name FROM items ORDER BY name)"); }

    std::string path;
    std::unique_ptr<Writer> writer;
    std::promise<void> gateEntered;
    std::promise<void> gateOpen;
    std::thread gateThread;
};

void insertItem(WriteTransaction& txn, const std::string& name) {
    auto insert = txn.db.prepare("INSERT INTO items (name) VALUES (?)");
    insert->bindAll(name);
    insert->run();
}

}  // namespace

class WriterTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WriterTest);
    CPPUNIT_TEST(failingJobDoesNotRollBackItsBatch);
    CPPUNIT_TEST(sqlErrorInJobIsIsolated);
    CPPUNIT_TEST(commitFailureFailsTheWholeBatch);
    CPPUNIT_TEST(fullQueueRejects);
    CPPUNIT_TEST(destructorDrainsQueuedJobs);
    CPPUNIT_TEST(resultsAreReturned);
    CPPUNIT_TEST_SUITE_END();

public:
    void failingJobDoesNotRollBackItsBatch() {
        TestDir dir;
        WriterFixture f(dir);
        f.closeGate();
        auto a = f.queue([](WriteTransaction& txn) {
            insertItem(txn, "a");
            txn.appendAudit(sampleAudit("a"));
        });
        auto b = f.queue([](WriteTransaction& txn) {
            insertItem(txn, "b");
            txn.appendAudit(sampleAudit("b"));
            throw std::logic_error("job b fails after writing");
        });
        auto c = f.queue([](WriteTransaction& txn) {
            insertItem(txn, "c");
            txn.appendAudit(sampleAudit("c"));
        });
        f.openGate();
        a.get();
        CPPUNIT_ASSERT_THROW(b.get(), std::logic_error);  // its own exception, unchanged
        c.get();

        CPPUNIT_ASSERT_EQUAL(std::string("a,c"), f.items());
        // b's audit entry was rolled back and the chain tip with it: c is seq 2
        // and chains onto a.
        CPPUNIT_ASSERT_EQUAL(std::string("a,c"), rawQuery(f.path, "SELECT group_concat(action, ',') FROM (SELECT action FROM audit_log ORDER BY seq)"));
        CPPUNIT_ASSERT_EQUAL(std::string("1,2"), rawQuery(f.path, "SELECT group_concat(seq, ',') FROM (SELECT seq FROM audit_log ORDER BY seq)"));
        sql::Connection check(f.path, SQLITE_OPEN_READONLY, 1000);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, verifyAuditChain(check));

        const auto stats = f.writer->stats();
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2}, stats.transactions);  // gate, then a+b+c together
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, stats.largestBatch);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, stats.failedJobs);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{3}, stats.committedJobs);
    }

    void sqlErrorInJobIsIsolated() {
        TestDir dir;
        WriterFixture f(dir);
        f.closeGate();
        auto a = f.queue([](WriteTransaction& txn) { insertItem(txn, "a"); });
        // Writes b, then collides with a (committed earlier in the same batch).
        auto dup = f.queue([](WriteTransaction& txn) {
            insertItem(txn, "b");
            insertItem(txn, "a");
        });
        auto c = f.queue([](WriteTransaction& txn) { insertItem(txn, "c"); });
        f.openGate();
        a.get();
        CPPUNIT_ASSERT_THROW(dup.get(), Conflict);
        c.get();
        CPPUNIT_ASSERT_EQUAL(std::string("a,c"), f.items());
    }

    void commitFailureFailsTheWholeBatch() {
        TestDir dir;
        WriterFixture f(dir);
        f.closeGate();
        auto good = f.queue([](WriteTransaction& txn) {
            insertItem(txn, "good");
            txn.appendAudit(sampleAudit("good"));
        });
        // A deferred foreign key passes the job and fails at COMMIT.
        auto orphan = f.queue([](WriteTransaction& txn) {
            txn.db.exec("INSERT INTO children (parent) VALUES ('nobody')");
        });
        f.openGate();
        CPPUNIT_ASSERT_THROW(good.get(), StoreError);
        CPPUNIT_ASSERT_THROW(orphan.get(), StoreError);
        CPPUNIT_ASSERT_EQUAL(std::string(""), f.items());

        // The writer recovered, and the audit tip was not advanced by the lost batch.
        const AuditRecord next = f.writer->run([](WriteTransaction& txn) {
            insertItem(txn, "after");
            return txn.appendAudit(sampleAudit("after"));
        });
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, next.seq);
        CPPUNIT_ASSERT_EQUAL(std::string(""), next.prevHash);
        CPPUNIT_ASSERT_EQUAL(std::string("after"), f.items());
    }

    void fullQueueRejects() {
        TestDir dir;
        WriterFixture f(dir, 2);
        f.closeGate();
        auto a = f.queue([](WriteTransaction& txn) { insertItem(txn, "a"); });
        auto b = f.queue([](WriteTransaction& txn) { insertItem(txn, "b"); });
        CPPUNIT_ASSERT_THROW(f.writer->run([](WriteTransaction& txn) { insertItem(txn, "c"); }), StoreError);
        f.openGate();
        a.get();
        b.get();
        CPPUNIT_ASSERT_EQUAL(std::string("a,b"), f.items());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, f.writer->stats().rejectedJobs);
    }

    void destructorDrainsQueuedJobs() {
        TestDir dir;
        WriterFixture f(dir);
        f.closeGate();
        std::vector<std::future<void>> jobs;
        for (int i = 0; i < 5; ++i) {
            jobs.push_back(f.queue([i](WriteTransaction& txn) { insertItem(txn, "j" + std::to_string(i)); }));
        }
        // Stop while 5 jobs are queued behind the gate; they must still commit.
        auto destroy = std::async(std::launch::async, [&f] { f.writer.reset(); });
        f.openGate();
        destroy.get();
        for (auto& job : jobs) {
            job.get();
        }
        CPPUNIT_ASSERT_EQUAL(std::string("j0,j1,j2,j3,j4"), f.items());
    }

    void resultsAreReturned() {
        TestDir dir;
        WriterFixture f(dir);
        const std::string value = f.writer->run([](WriteTransaction& txn) {
            insertItem(txn, "x");
            return std::string("done");
        });
        CPPUNIT_ASSERT_EQUAL(std::string("done"), value);
        const std::int64_t rows = f.writer->run([](WriteTransaction& txn) {
            return txn.db.queryInt("SELECT count(*) FROM items");
        });
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, rows);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WriterTest);

}  // namespace consultd::store::test
