// The audit hash chain: linking, canonical form, tamper detection.
#include "TestDir.h"
#include "store/AuditChain.h"

#include <cppunit/extensions/HelperMacros.h>

#include <thread>
#include <vector>

namespace consultd::store::test {

class StoreAuditTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreAuditTest);
    CPPUNIT_TEST(entriesChain);
    CPPUNIT_TEST(hashMatchesIndependentComputation);
    CPPUNIT_TEST(canonicalFormIsUnambiguous);
    CPPUNIT_TEST(editedRowIsDetected);
    CPPUNIT_TEST(deletedRowIsDetected);
    CPPUNIT_TEST(ordinarySqlCannotEditTheLog);
    CPPUNIT_TEST(chainContinuesAfterReopen);
    CPPUNIT_TEST(listAuditPages);
    CPPUNIT_TEST(twoWritersOnOneFileKeepOneChain);
    CPPUNIT_TEST_SUITE_END();

    static std::unique_ptr<Store> storeWithEntries(const std::string& path, int count) {
        auto store = openStore(path);
        for (int i = 1; i <= count; ++i) {
            store->appendAudit(sampleAudit("token.issued", "ses_" + std::to_string(i)));
        }
        return store;
    }

public:
    void entriesChain() {
        TestDir dir;
        auto store = openStore(dir.file("a.db"));
        AuditRecord in = sampleAudit("token.issued", "ses_1");
        in.at = 1234;
        const auto first = store->appendAudit(in);
        const auto second = store->appendAudit(sampleAudit("session.started", "ses_1"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, first.seq);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1234}, first.at);
        CPPUNIT_ASSERT_EQUAL(std::string(""), first.prevHash);
        CPPUNIT_ASSERT_EQUAL(std::size_t{64}, first.hash.size());
        CPPUNIT_ASSERT_EQUAL(auditHash(first), first.hash);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{2}, second.seq);
        CPPUNIT_ASSERT(second.at > 0);  // 0 means "now"
        CPPUNIT_ASSERT_EQUAL(first.hash, second.prevHash);
        const auto listed = store->listAudit(0, 10);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, listed.size());
        CPPUNIT_ASSERT_EQUAL(second.hash, listed[1].hash);
        CPPUNIT_ASSERT_EQUAL(std::string("req-1"), listed[1].requestId);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"k":1})"), listed[1].detailsJson);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->verifyAuditChain());
        CPPUNIT_ASSERT_THROW(store->appendAudit(AuditRecord{}), StoreError);  // no action
    }

    void hashMatchesIndependentComputation() {
        AuditRecord entry;
        entry.seq = 1;
        entry.at = 1700000000000;
        entry.actor = "cli";
        entry.action = "apikey.created";
        entry.target = "key_1";
        entry.detailsJson = R"({"scopes":["admin"]})";
        entry.requestId = "req-9";
        CPPUNIT_ASSERT_EQUAL(std::string("consultd-audit-v1\n0:,1:1,13:1700000000000,3:cli,14:apikey.created,"
                                         "5:key_1,20:{\"scopes\":[\"admin\"]},5:req-9,"),
                             auditCanonicalForm(entry));
        // Python: hashlib.sha256(<the string above>.encode()).hexdigest()
        CPPUNIT_ASSERT_EQUAL(std::string("1c508dd4c34e5b68f8d1cf42131f99fe587fdaa8e3953714330b2d14f4c7eb09"),
                             auditHash(entry));
    }

    void canonicalFormIsUnambiguous() {
        AuditRecord a;
        a.actor = "admin:al";
        a.action = "ice.token";
        AuditRecord b;
        b.actor = "admin:alice";  // the same bytes moved across a field boundary
        b.action = ".token";
        a.target = b.target = "t";
        CPPUNIT_ASSERT(auditHash(a) != auditHash(b));
        AuditRecord c = a;
        c.requestId = "r";
        CPPUNIT_ASSERT(auditHash(a) != auditHash(c));
    }

    void editedRowIsDetected() {
        TestDir dir;
        const auto path = dir.file("a.db");
        auto store = storeWithEntries(path, 5);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->verifyAuditChain());
        // A separate connection, while the store is open, as an intruder would.
        rawExec(path, "DROP TRIGGER audit_log_no_update; "
                      "UPDATE audit_log SET details_json = '{\"k\":2}' WHERE seq = 3");
        CPPUNIT_ASSERT_EQUAL(std::int64_t{3}, store->verifyAuditChain());
        store.reset();
        CPPUNIT_ASSERT_EQUAL(std::int64_t{3}, openStore(path)->verifyAuditChain());

        // Re-hashing the edited row does not help: the next row's prevHash breaks.
        const auto entries = openStore(path)->listAudit(0, 10);
        AuditRecord forged = entries[2];
        forged.detailsJson = "{\"k\":2}";
        rawExec(path, "UPDATE audit_log SET hash = '" + auditHash(forged) + "' WHERE seq = 3");
        CPPUNIT_ASSERT_EQUAL(std::int64_t{4}, openStore(path)->verifyAuditChain());
    }

    void deletedRowIsDetected() {
        TestDir dir;
        const auto path = dir.file("a.db");
        auto store = storeWithEntries(path, 4);
        rawExec(path, "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2");
        CPPUNIT_ASSERT_EQUAL(std::int64_t{3}, store->verifyAuditChain());
        rawExec(path, "DELETE FROM audit_log WHERE seq = 1");
        CPPUNIT_ASSERT_EQUAL(std::int64_t{3}, store->verifyAuditChain());
    }

    void ordinarySqlCannotEditTheLog() {
        TestDir dir;
        const auto path = dir.file("a.db");
        auto store = storeWithEntries(path, 2);
        CPPUNIT_ASSERT_THROW(rawExec(path, "UPDATE audit_log SET actor = 'x' WHERE seq = 1"), std::runtime_error);
        CPPUNIT_ASSERT_THROW(rawExec(path, "DELETE FROM audit_log"), std::runtime_error);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->verifyAuditChain());
    }

    void chainContinuesAfterReopen() {
        TestDir dir;
        const auto path = dir.file("a.db");
        const auto last = storeWithEntries(path, 2)->listAudit(0, 10).back();
        auto store = openStore(path);
        const auto next = store->appendAudit(sampleAudit("config.reloaded"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{3}, next.seq);
        CPPUNIT_ASSERT_EQUAL(last.hash, next.prevHash);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->verifyAuditChain());
    }

    void listAuditPages() {
        TestDir dir;
        auto store = storeWithEntries(dir.file("a.db"), 7);
        const auto page1 = store->listAudit(0, 3);
        const auto page2 = store->listAudit(page1.back().seq, 3);
        const auto page3 = store->listAudit(page2.back().seq, 3);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, page1.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, page2.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, page3.size());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{4}, page2.front().seq);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{7}, page3.front().seq);
        CPPUNIT_ASSERT(store->listAudit(7, 3).empty());
    }

    void twoWritersOnOneFileKeepOneChain() {
        // The daemon and an admin CLI (`consultd apikey create`) may both have
        // the database open; each must chain onto the other's entries.
        TestDir dir;
        const auto path = dir.file("a.db");
        auto daemon = openStore(path);
        auto cli = openStore(path);
        daemon->appendAudit(sampleAudit("session.created"));
        const auto fromCli = cli->appendAudit(sampleAudit("apikey.created"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{2}, fromCli.seq);
        const auto next = daemon->appendAudit(sampleAudit("token.issued"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{3}, next.seq);
        CPPUNIT_ASSERT_EQUAL(fromCli.hash, next.prevHash);

        std::vector<std::thread> threads;
        for (Store* store : {daemon.get(), cli.get(), daemon.get(), cli.get()}) {
            threads.emplace_back([store] {
                for (int i = 0; i < 50; ++i) {
                    store->appendAudit(sampleAudit("token.issued"));
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t{203}, cli->listAudit(0, 1000).size());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, daemon->verifyAuditChain());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreAuditTest);

}  // namespace consultd::store::test
