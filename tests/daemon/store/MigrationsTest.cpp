// Schema versioning: fresh create, reopen, refusing newer or foreign files,
// and step-by-step application of an appended migration list.
#include "TestDir.h"
#include "store/Database.h"
#include "store/Migrations.h"

#include <cppunit/extensions/HelperMacros.h>

#include <filesystem>

namespace consultd::store::test {

class MigrationsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(MigrationsTest);
    CPPUNIT_TEST(migrationListIsContiguous);
    CPPUNIT_TEST(freshDatabaseGetsFullSchema);
    CPPUNIT_TEST(reopenIsIdempotent);
    CPPUNIT_TEST(newerSchemaIsRefused);
    CPPUNIT_TEST(foreignDatabaseIsRefused);
    CPPUNIT_TEST(walAndForeignKeysAreOn);
    CPPUNIT_TEST(failingStepIsRolledBackAlone);
    CPPUNIT_TEST(appendedStepUpgradesExistingDatabase);
    CPPUNIT_TEST_SUITE_END();

    static sql::Connection openRaw(const std::string& path) {
        return sql::Connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
    }

public:
    void migrationListIsContiguous() {
        int expected = 1;
        for (const Migration& step : migrations()) {
            CPPUNIT_ASSERT_EQUAL(expected++, step.version);
        }
        CPPUNIT_ASSERT_EQUAL(migrations().back().version, binarySchemaVersion());
    }

    void freshDatabaseGetsFullSchema() {
        TestDir dir;
        const auto path = dir.file("consultd.db");
        auto store = openStore(path);
        CPPUNIT_ASSERT_EQUAL(binarySchemaVersion(), store->schemaVersion());
        CPPUNIT_ASSERT_EQUAL(std::to_string(binarySchemaVersion()), rawQuery(path, "PRAGMA user_version"));
        CPPUNIT_ASSERT_EQUAL(std::to_string(kApplicationId), rawQuery(path, "PRAGMA application_id"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("admin_sessions,admin_users,api_keys,audit_log,devices,events,invites,participants,recordings,sessions,"
                        "webhook_replay"),
            rawQuery(path, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' "
                           "AND name NOT LIKE 'sqlite_%' ORDER BY name)"));
        CPPUNIT_ASSERT_EQUAL(std::string("1"),
                             rawQuery(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = "
                                            "'sessions_one_open_per_consultation'"));
        CPPUNIT_ASSERT(store->healthy());
    }

    void reopenIsIdempotent() {
        TestDir dir;
        const auto path = dir.file("consultd.db");
        openStore(path)->insertSession(sampleSession("ses_a", "c-1"), sampleAudit("session.created", "ses_a"));
        const std::string schemaBefore = rawQuery(path, "SELECT group_concat(sql, ';') FROM sqlite_schema");
        for (int i = 0; i < 2; ++i) {
            auto store = openStore(path);
            CPPUNIT_ASSERT_EQUAL(binarySchemaVersion(), store->schemaVersion());
            CPPUNIT_ASSERT(store->findSession("ses_a").has_value());
        }
        CPPUNIT_ASSERT_EQUAL(schemaBefore, rawQuery(path, "SELECT group_concat(sql, ';') FROM sqlite_schema"));
    }

    void newerSchemaIsRefused() {
        TestDir dir;
        const auto path = dir.file("consultd.db");
        openStore(path).reset();
        const int newer = binarySchemaVersion() + 1;
        rawExec(path, "PRAGMA user_version = " + std::to_string(newer));
        try {
            openStore(path);
            CPPUNIT_FAIL("a database from a newer consultd was opened");
        } catch (const SchemaTooNew& error) {
            CPPUNIT_ASSERT_EQUAL("database schema version " + std::to_string(newer) +
                                     " is newer than this consultd (" + std::to_string(binarySchemaVersion()) +
                                     "); upgrade consultd or restore a backup",
                                 std::string(error.what()));
        }
        // Refused without touching it.
        CPPUNIT_ASSERT_EQUAL(std::to_string(newer), rawQuery(path, "PRAGMA user_version"));
    }

    void foreignDatabaseIsRefused() {
        TestDir dir;
        const auto path = dir.file("other.db");
        {
            auto db = openRaw(path);
            db.exec("CREATE TABLE patients (id TEXT)");
        }
        CPPUNIT_ASSERT_THROW(openStore(path), StoreError);
        CPPUNIT_ASSERT_EQUAL(std::string("0"), rawQuery(path, "PRAGMA user_version"));
        CPPUNIT_ASSERT_EQUAL(std::string("delete"), rawQuery(path, "PRAGMA journal_mode"));

        const auto otherApp = dir.file("otherapp.db");
        openRaw(otherApp).exec("PRAGMA application_id = 42");
        CPPUNIT_ASSERT_THROW(openStore(otherApp), StoreError);
    }

    void walAndForeignKeysAreOn() {
        TestDir dir;
        const auto path = dir.file("consultd.db");
        auto store = openStore(path);
        // journal_mode=WAL is persistent: a separate connection sees it.
        CPPUNIT_ASSERT_EQUAL(std::string("wal"), rawQuery(path, "PRAGMA journal_mode"));
        store->appendAudit(sampleAudit("test.write"));
        CPPUNIT_ASSERT(std::filesystem::exists(path + "-wal"));
        // foreign_keys is per connection: only a write through the store
        // shows that the writer enforces it.
        EventRecord orphan;
        orphan.sessionId = "ses_missing";
        orphan.type = "participant_joined";
        CPPUNIT_ASSERT_THROW(store->appendEvent(orphan), StoreError);
        CPPUNIT_ASSERT_EQUAL(std::string("0"), rawQuery(path, "SELECT count(*) FROM events"));
    }

    void failingStepIsRolledBackAlone() {
        TestDir dir;
        const auto path = dir.file("m.db");
        const Migration steps[] = {
            {1, "first", "CREATE TABLE first (x INTEGER);"},
            {2, "broken", "CREATE TABLE second (y INTEGER); INSERT INTO no_such_table VALUES (1);"},
        };
        auto db = openRaw(path);
        try {
            applyMigrations(db, steps);
            CPPUNIT_FAIL("a broken migration step was applied");
        } catch (const StoreError& error) {
            CPPUNIT_ASSERT(std::string(error.what()).find("schema version 2 (broken)") != std::string::npos);
        }
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, db.queryInt("PRAGMA user_version"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, db.queryInt("SELECT count(*) FROM sqlite_schema WHERE name = 'first'"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, db.queryInt("SELECT count(*) FROM sqlite_schema WHERE name = 'second'"));
        CPPUNIT_ASSERT(!db.inTransaction());

        const Migration gap[] = {{1, "first", "SELECT 1;"}, {3, "third", "SELECT 1;"}};
        CPPUNIT_ASSERT_THROW(applyMigrations(db, gap), StoreError);
    }

    void appendedStepUpgradesExistingDatabase() {
        TestDir dir;
        const auto path = dir.file("m.db");
        const Migration v1[] = {{1, "first", "CREATE TABLE first (x INTEGER); INSERT INTO first VALUES (7);"}};
        const Migration v2[] = {v1[0], {2, "second", "ALTER TABLE first ADD COLUMN z TEXT NOT NULL DEFAULT 'n';"}};
        {
            auto db = openRaw(path);
            CPPUNIT_ASSERT_EQUAL(1, applyMigrations(db, v1));
        }
        auto db = openRaw(path);
        CPPUNIT_ASSERT_EQUAL(2, applyMigrations(db, v2));
        // Step 1 was not re-run (it would have inserted a second row).
        CPPUNIT_ASSERT_EQUAL(std::string("7n"), db.queryText("SELECT group_concat(x || z) FROM first"));
        CPPUNIT_ASSERT_EQUAL(2, applyMigrations(db, v2));
        CPPUNIT_ASSERT_THROW(applyMigrations(db, v1), SchemaTooNew);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MigrationsTest);

}  // namespace consultd::store::test
