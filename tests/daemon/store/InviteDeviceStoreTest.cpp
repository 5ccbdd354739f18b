// Invites and devices (migration 3): an invite binds to exactly one browser
// even under a race; an enrollment code works once, not after its expiry and
// not for a revoked device; revocation clears the credential; a device's
// sessions come soonest first. Secrets are stored only as given hashes.
#include "TestDir.h"

#include "store/DeviceStore.h"
#include "store/InviteStore.h"

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <thread>
#include <vector>

namespace consultd::store::test {

class InviteDeviceStoreTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(InviteDeviceStoreTest);
    CPPUNIT_TEST(inviteBindsExactlyOneOfManyRacers);
    CPPUNIT_TEST(invitesOfADeletedSessionGoAndExpiredOnesArePurged);
    CPPUNIT_TEST(enrollmentCodeWorksOnceAndNotAfterExpiry);
    CPPUNIT_TEST(revokedDeviceCannotEnrollAndLosesItsCredential);
    CPPUNIT_TEST(deviceSessionsSoonestFirst);
    CPPUNIT_TEST_SUITE_END();

    static InviteRecord invite(const std::string& hash, const std::string& session, std::int64_t expiresAt) {
        InviteRecord r;
        r.idHash = hash;
        r.sessionId = session;
        r.participantId = "pat-1";
        r.createdBy = "apikey:test";
        r.createdAt = 1000;
        r.expiresAt = expiresAt;
        return r;
    }

    static DeviceRecord device(const std::string& id, const std::string& codeHash, std::int64_t expiresAt) {
        DeviceRecord d;
        d.id = id;
        d.name = "Room " + id;
        d.roomName = "Exam " + id;
        d.status = "pending";
        d.enrollmentCodeHash = codeHash;
        d.enrollmentExpiresAt = expiresAt;
        d.createdAt = 1000;
        return d;
    }

public:
    void inviteBindsExactlyOneOfManyRacers() {
        TestDir dir;
        auto store = openStore(dir.file("i.db"));
        store->insertSession(sampleSession("ses_1", "c-1"), {});
        InviteStore invites(*store);
        invites.insert(invite("h1", "ses_1", 9'000'000'000'000), sampleAudit("invite.created", "ses_1"));
        std::atomic<int> winners{0};
        std::vector<std::thread> racers;
        for (int i = 0; i < 8; ++i) {
            racers.emplace_back([&, i] {
                if (invites.bind("h1", "rejoin-" + std::to_string(i), 2000 + i, sampleAudit("invite.redeemed", "ses_1"))) {
                    ++winners;
                }
            });
        }
        for (auto& t : racers) t.join();
        CPPUNIT_ASSERT_EQUAL(1, winners.load());
        const auto bound = invites.find("h1");
        CPPUNIT_ASSERT(bound);
        CPPUNIT_ASSERT(bound->redeemedAt >= 2000);
        CPPUNIT_ASSERT_EQUAL(std::string("rejoin-") + std::to_string(bound->redeemedAt - 2000), bound->rejoinHash);
        // Only the winner's bind was audited.
        CPPUNIT_ASSERT_EQUAL(std::string("2"), rawQuery(dir.file("i.db"), "SELECT count(*) FROM audit_log"));
        CPPUNIT_ASSERT(!invites.find("nope"));
    }

    void invitesOfADeletedSessionGoAndExpiredOnesArePurged() {
        TestDir dir;
        auto store = openStore(dir.file("p.db"));
        store->insertSession(sampleSession("ses_1", "c-1"), {});
        InviteStore invites(*store);
        invites.insert(invite("old", "ses_1", 5000), {});
        invites.insert(invite("new", "ses_1", 50000), {});
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, invites.purgeExpired(10000));
        CPPUNIT_ASSERT(!invites.find("old"));
        CPPUNIT_ASSERT(invites.find("new"));
        // A session removed by retention takes its invites along (foreign key).
        rawExec(dir.file("p.db"), "PRAGMA foreign_keys = ON; DELETE FROM sessions WHERE id = 'ses_1'");
        CPPUNIT_ASSERT(!invites.find("new"));
        // An invite for a session that does not exist is refused.
        CPPUNIT_ASSERT_THROW(invites.insert(invite("x", "ses_none", 50000), {}), StoreError);
    }

    void enrollmentCodeWorksOnceAndNotAfterExpiry() {
        TestDir dir;
        auto store = openStore(dir.file("d.db"));
        DeviceStore devices(*store);
        devices.insert(device("dev_a", "code-a", 5000), sampleAudit("device.created", "dev_a"));
        devices.insert(device("dev_b", "code-b", 5000), {});
        CPPUNIT_ASSERT(!devices.enroll("code-a", "cred-a", 5000, {}));  // at the expiry: too late
        const auto enrolled = devices.enroll("code-a", "cred-a", 4999, sampleAudit("device.enrolled"));
        CPPUNIT_ASSERT(enrolled);
        CPPUNIT_ASSERT_EQUAL(std::string("dev_a"), enrolled->id);
        CPPUNIT_ASSERT_EQUAL(std::string("enrolled"), enrolled->status);
        CPPUNIT_ASSERT_EQUAL(std::string("cred-a"), enrolled->credentialHash);
        CPPUNIT_ASSERT_EQUAL(std::string(), enrolled->enrollmentCodeHash);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{4999}, enrolled->enrolledAt);
        CPPUNIT_ASSERT(!devices.enroll("code-a", "cred-2", 4999, {}));  // used up
        // The audit entry of an enrollment names the device.
        CPPUNIT_ASSERT_EQUAL(std::string("dev_a"),
                             rawQuery(dir.file("d.db"), "SELECT target FROM audit_log WHERE action = 'device.enrolled'"));
        // A new code re-enrolls and replaces the credential.
        CPPUNIT_ASSERT(devices.setEnrollmentCode("dev_a", "code-a2", 9000, {}));
        CPPUNIT_ASSERT_EQUAL(std::string("cred-a"), devices.find("dev_a")->credentialHash);  // until used
        CPPUNIT_ASSERT(devices.enroll("code-a2", "cred-a2", 6000, {}));
        CPPUNIT_ASSERT_EQUAL(std::string("cred-a2"), devices.find("dev_a")->credentialHash);
        CPPUNIT_ASSERT_EQUAL(std::string("pending"), devices.find("dev_b")->status);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, devices.list().size());
        // Two devices cannot hold the same outstanding code.
        CPPUNIT_ASSERT_THROW(devices.insert(device("dev_c", "code-b", 5000), {}), Conflict);
    }

    void revokedDeviceCannotEnrollAndLosesItsCredential() {
        TestDir dir;
        auto store = openStore(dir.file("r.db"));
        DeviceStore devices(*store);
        devices.insert(device("dev_a", "code-a", 5000), {});
        CPPUNIT_ASSERT(devices.enroll("code-a", "cred-a", 1000, {}));
        CPPUNIT_ASSERT(devices.setEnrollmentCode("dev_a", "code-x", 9000, {}));
        CPPUNIT_ASSERT(devices.revoke("dev_a", 2000, sampleAudit("device.revoked", "dev_a")));
        const auto revoked = devices.find("dev_a");
        CPPUNIT_ASSERT_EQUAL(std::string("revoked"), revoked->status);
        CPPUNIT_ASSERT_EQUAL(std::string(), revoked->credentialHash);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{2000}, revoked->revokedAt);
        CPPUNIT_ASSERT(!devices.enroll("code-x", "cred-x", 3000, {}));
        CPPUNIT_ASSERT(!devices.revoke("dev_a", 3000, {}));
        CPPUNIT_ASSERT(!devices.setEnrollmentCode("dev_a", "code-y", 9000, {}));
        CPPUNIT_ASSERT(!devices.revoke("dev_none", 3000, {}));
    }

    void deviceSessionsSoonestFirst() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        DeviceStore devices(*store);
        auto add = [&](const std::string& id, const std::string& status, std::int64_t at, const std::string& dev) {
            auto s = sampleSession(id, "c-" + id, status);
            s.deviceId = dev;
            s.scheduledAt = at;
            store->insertSession(s, {});
        };
        add("ses_late", "scheduled", 9000, "dev_a");
        add("ses_unscheduled", "waiting", 0, "dev_a");
        add("ses_soon", "scheduled", 3000, "dev_a");
        add("ses_other", "scheduled", 1000, "dev_b");
        add("ses_live", "active", 2000, "dev_a");
        const auto next = devices.sessionIdsForDevice("dev_a", {"scheduled", "waiting"}, 10);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, next.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ses_soon"), next[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_late"), next[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_unscheduled"), next[2]);
        const auto active = devices.sessionIdsForDevice("dev_a", {"active"}, 1);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, active.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ses_live"), active[0]);
        CPPUNIT_ASSERT(devices.sessionIdsForDevice("dev_c", {"active"}, 1).empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(InviteDeviceStoreTest);

}  // namespace consultd::store::test
