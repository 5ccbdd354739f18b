// admin_users / admin_sessions through AdminStore: failures lock at the
// threshold, a good login resets them, disable and password reset end
// sessions, stale sessions are swept, and the audit view filters newest first.
#include "store/AdminStore.h"

#include <cppunit/extensions/HelperMacros.h>

#include <filesystem>
#include <random>

namespace consultd::store::test {

class AdminStoreTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AdminStoreTest);
    CPPUNIT_TEST(usersSessionsAndLockout);
    CPPUNIT_TEST(auditFilter);
    CPPUNIT_TEST_SUITE_END();

    std::filesystem::path dir_;
    std::unique_ptr<Store> store_;

    static AuditRecord audit(const std::string& actor, const std::string& action, const std::string& target) {
        AuditRecord a;
        a.actor = actor;
        a.action = action;
        a.target = target;
        return a;
    }

public:
    void setUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("consultd-admin-store-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(dir_);
        StoreOptions options;
        options.path = (dir_ / "consultd.db").string();
        store_ = Store::open(options);
    }
    void tearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }

    void usersSessionsAndLockout() {
        AdminStore admins(*store_);
        AdminUserRecord user;
        user.username = "alice";
        user.passwordHash = "scrypt$x";
        admins.insertUser(user, audit("cli:root", "admin.user_created", "alice"));
        CPPUNIT_ASSERT_THROW(admins.insertUser(user, {}), Conflict);

        const std::int64_t now = 1'800'000'000'000;
        auto after = admins.recordLoginFailure("alice", now, 3, 60000, audit("admin:alice", "admin.login_failed", "alice"),
                                               audit("admin:alice", "admin.locked", "alice"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, after->failedLogins);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, after->lockedUntil);
        admins.recordLoginFailure("alice", now, 3, 60000, {}, {});
        after = admins.recordLoginFailure("alice", now, 3, 60000, {}, audit("admin:alice", "admin.locked", "alice"));
        CPPUNIT_ASSERT_EQUAL(now + 60000, after->lockedUntil);
        CPPUNIT_ASSERT(!admins.recordLoginFailure("nobody", now, 3, 60000, {}, {}).has_value());

        AdminSessionRecord session;
        session.idHash = "h1";
        session.username = "alice";
        session.csrfHash = "c1";
        session.createdAt = now;
        session.lastSeenAt = now;
        session.expiresAt = now + 3600000;
        admins.insertSession(session, audit("admin:alice", "admin.login", "alice"));
        const auto reloaded = admins.findUser("alice");
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, reloaded->failedLogins);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, reloaded->lockedUntil);
        CPPUNIT_ASSERT_EQUAL(now, reloaded->lastLoginAt);
        CPPUNIT_ASSERT(admins.findSession("h1").has_value());

        admins.touchSession("h1", now + 1000);
        CPPUNIT_ASSERT_EQUAL(now + 1000, admins.findSession("h1")->lastSeenAt);
        admins.touchSession("h1", now);  // never backwards
        CPPUNIT_ASSERT_EQUAL(now + 1000, admins.findSession("h1")->lastSeenAt);

        CPPUNIT_ASSERT(admins.setPassword("alice", "scrypt$y", now + 2000, {}));
        CPPUNIT_ASSERT(!admins.findSession("h1").has_value());  // reset ends sessions

        session.idHash = "h2";
        admins.insertSession(session, {});
        CPPUNIT_ASSERT(admins.disableUser("alice", now + 3000, audit("cli:root", "admin.user_disabled", "alice")));
        CPPUNIT_ASSERT(!admins.disableUser("alice", now + 3000, {}));
        CPPUNIT_ASSERT(!admins.findSession("h2").has_value());
        CPPUNIT_ASSERT(admins.findUser("alice")->disabledAt != 0);
        CPPUNIT_ASSERT(admins.setPassword("alice", "scrypt$z", now + 4000, {}));  // re-enables
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, admins.findUser("alice")->disabledAt);

        session.idHash = "old";
        session.lastSeenAt = now - 10 * 60000;
        admins.insertSession(session, {});
        session.idHash = "fresh";
        session.lastSeenAt = now;
        admins.insertSession(session, {});
        CPPUNIT_ASSERT_EQUAL(1, admins.deleteStaleSessions(now, now - 5 * 60000));
        CPPUNIT_ASSERT(admins.findSession("fresh").has_value());
        CPPUNIT_ASSERT(admins.deleteSession("fresh", audit("admin:alice", "admin.logout", "alice")));
        CPPUNIT_ASSERT(!admins.deleteSession("fresh", {}));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store_->verifyAuditChain());
    }

    void auditFilter() {
        for (int i = 0; i < 5; ++i) store_->appendAudit(audit("admin:alice", "apikey.created", "key" + std::to_string(i)));
        store_->appendAudit(audit("cli:root", "backup.created", "database"));
        AdminStore admins(*store_);
        AuditFilter filter;
        filter.actor = "alice";
        filter.limit = 3;
        auto page = admins.listAudit(filter);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, page.size());
        CPPUNIT_ASSERT_EQUAL(std::string("key4"), page[0].target);  // newest first
        filter.beforeSeq = page.back().seq;
        page = admins.listAudit(filter);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, page.size());
        CPPUNIT_ASSERT_EQUAL(std::string("key1"), page[0].target);
        AuditFilter byAction;
        byAction.action = "backup";
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, admins.listAudit(byAction).size());
        AuditFilter none;
        none.target = "'; DROP TABLE audit_log; --";
        CPPUNIT_ASSERT(admins.listAudit(none).empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AdminStoreTest);

}  // namespace consultd::store::test
