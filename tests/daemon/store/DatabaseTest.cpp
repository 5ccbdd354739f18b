// The sqlite3 wrappers: error mapping and the statement cache.
#include "TestDir.h"
#include "store/Database.h"

#include <cppunit/extensions/HelperMacros.h>

namespace consultd::store::test {

class DatabaseTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DatabaseTest);
    CPPUNIT_TEST(uniqueViolationIsConflict);
    CPPUNIT_TEST(otherConstraintIsPlainStoreError);
    CPPUNIT_TEST(nestedUseOfOneStatementWorks);
    CPPUNIT_TEST(emptyTextBindsAsNullOnlyWhenAsked);
    CPPUNIT_TEST_SUITE_END();

public:
    void uniqueViolationIsConflict() {
        TestDir dir;
        sql::Connection db(dir.file("t.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
        db.exec("CREATE TABLE t (k TEXT PRIMARY KEY)");
        auto insert = db.prepare("INSERT INTO t (k) VALUES (?)");
        insert->bindAll("a");
        insert->run();
        insert->reset();
        insert->bindAll("a");
        CPPUNIT_ASSERT_THROW(insert->run(), Conflict);
    }

    void otherConstraintIsPlainStoreError() {
        TestDir dir;
        sql::Connection db(dir.file("t.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
        db.exec("CREATE TABLE t (k TEXT NOT NULL)");
        auto insert = db.prepare("INSERT INTO t (k) VALUES (?)");
        insert->bindNull(1);
        try {
            insert->run();
            CPPUNIT_FAIL("NOT NULL violation was accepted");
        } catch (const Conflict&) {
            CPPUNIT_FAIL("NOT NULL violation reported as Conflict");
        } catch (const StoreError& error) {
            CPPUNIT_ASSERT(std::string(error.what()).find("NOT NULL") != std::string::npos);
        }
    }

    void nestedUseOfOneStatementWorks() {
        TestDir dir;
        sql::Connection db(dir.file("t.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
        db.exec("CREATE TABLE t (k INTEGER); INSERT INTO t VALUES (1), (2), (3)");
        const std::string sql = "SELECT k FROM t WHERE k >= ? ORDER BY k";
        auto outer = db.prepare(sql);
        outer->bindAll(2);
        CPPUNIT_ASSERT(outer->step());
        {
            // Same SQL while the first is mid-iteration: must be a separate statement.
            auto inner = db.prepare(sql);
            inner->bindAll(1);
            CPPUNIT_ASSERT(inner->step());
            CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, inner->columnInt(0));
        }
        CPPUNIT_ASSERT_EQUAL(std::int64_t{2}, outer->columnInt(0));
        CPPUNIT_ASSERT(outer->step());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{3}, outer->columnInt(0));
        CPPUNIT_ASSERT(!outer->step());
    }

    void emptyTextBindsAsNullOnlyWhenAsked() {
        TestDir dir;
        sql::Connection db(dir.file("t.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
        db.exec("CREATE TABLE t (a TEXT, b TEXT)");
        auto insert = db.prepare("INSERT INTO t (a, b) VALUES (?, ?)");
        insert->bindText(1, "");
        insert->bindTextOrNull(2, "");
        insert->run();
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, db.queryInt("SELECT count(*) FROM t WHERE a = '' AND b IS NULL"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DatabaseTest);

}  // namespace consultd::store::test
