// Sessions and participants through the public Store interface.
#include "TestDir.h"

#include <cppunit/extensions/HelperMacros.h>

#include <set>

namespace consultd::store::test {
namespace {

std::int64_t auditCount(Store& store) {
    return static_cast<std::int64_t>(store.listAudit(0, 10000).size());
}

SessionRecord ended(SessionRecord s) {
    s.status = "ended";
    s.endedAt = s.scheduledAt + 60'000;
    s.durationSeconds = 60;
    s.endReason = "completed";
    s.quality = "good";
    return s;
}

}  // namespace

class StoreSessionsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreSessionsTest);
    CPPUNIT_TEST(insertedSessionRoundTrips);
    CPPUNIT_TEST(oneOpenSessionPerConsultation);
    CPPUNIT_TEST(reopeningThroughTransitionIsConflict);
    CPPUNIT_TEST(transitionChecksStatus);
    CPPUNIT_TEST(listFiltersAndCursorPaging);
    CPPUNIT_TEST(listLimitIsClamped);
    CPPUNIT_TEST(providerRoomBookkeeping);
    CPPUNIT_TEST(webhookIdsAreClaimedOnceUntilTheyExpire);
    CPPUNIT_TEST(countsByStatus);
    CPPUNIT_TEST(participantJoinAndLeave);
    CPPUNIT_TEST_SUITE_END();

public:
    void insertedSessionRoundTrips() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        SessionRecord in = sampleSession("ses_1", "c-1");
        in.deviceId = "dev-7";
        in.record = true;
        const SessionRecord out = store->insertSession(in, sampleAudit("session.created", "ses_1"));
        CPPUNIT_ASSERT(out.seq > 0);
        CPPUNIT_ASSERT(out.createdAt > 0);
        CPPUNIT_ASSERT_EQUAL(out.createdAt, out.updatedAt);

        const auto found = store->findSession("ses_1");
        CPPUNIT_ASSERT(found.has_value());
        CPPUNIT_ASSERT_EQUAL(out.seq, found->seq);
        CPPUNIT_ASSERT_EQUAL(std::string("c-1"), found->consultationId);
        CPPUNIT_ASSERT_EQUAL(std::string("jitsi"), found->provider);
        CPPUNIT_ASSERT_EQUAL(std::string("video"), found->mode);
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), found->status);
        CPPUNIT_ASSERT_EQUAL(std::string("room-ses_1"), found->roomName);
        CPPUNIT_ASSERT_EQUAL(std::string("dev-7"), found->deviceId);
        CPPUNIT_ASSERT(found->record);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"ward":"3B"})"), found->metadataJson);
        CPPUNIT_ASSERT_EQUAL(in.scheduledAt, found->scheduledAt);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{-1}, found->durationSeconds);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, found->participants.size());
        CPPUNIT_ASSERT_EQUAL(std::string("dr-1"), found->participants[0].participantId);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_1"), found->participants[0].sessionId);
        CPPUNIT_ASSERT_EQUAL(std::string("one@example.org"), found->participants[0].email);
        CPPUNIT_ASSERT_EQUAL(std::string("host"), found->participants[0].role);
        CPPUNIT_ASSERT_EQUAL(std::string("pt-1"), found->participants[1].participantId);
        CPPUNIT_ASSERT_EQUAL(std::string("patient"), found->participants[1].role);

        const auto audit = store->listAudit(0, 10);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, audit.size());
        CPPUNIT_ASSERT_EQUAL(std::string("session.created"), audit[0].action);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_1"), audit[0].target);
        CPPUNIT_ASSERT(!store->findSession("ses_nope").has_value());
    }

    void oneOpenSessionPerConsultation() {
        TestDir dir;
        const auto path = dir.file("s.db");
        auto store = openStore(path);
        const auto first = store->insertSession(sampleSession("ses_1", "c-1"), sampleAudit("session.created", "ses_1"));
        try {
            store->insertSession(sampleSession("ses_2", "c-1", "waiting"), sampleAudit("session.created", "ses_2"));
            CPPUNIT_FAIL("a second open session for c-1 was accepted");
        } catch (const Conflict& error) {
            // The message names the session in the way (the API returns it).
            CPPUNIT_ASSERT(std::string(error.what()).find("open session ses_1") != std::string::npos);
        }
        CPPUNIT_ASSERT(!store->findSession("ses_2").has_value());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, auditCount(*store));  // the refused insert left no audit row
        CPPUNIT_ASSERT_EQUAL(std::string("ses_1"), store->findOpenSessionByConsultation("c-1")->id);

        // The database enforces it too, whoever writes.
        CPPUNIT_ASSERT_THROW(rawExec(path, "INSERT INTO sessions (id, consultation_id, provider, mode, status, "
                                           "created_at, updated_at) VALUES ('ses_x', 'c-1', 'p', 'video', "
                                           "'active', 1, 1)"),
                             std::runtime_error);

        // Another consultation is independent.
        store->insertSession(sampleSession("ses_3", "c-2"), {});

        // After the first one ended, a new open session is allowed again.
        const auto done = store->transitionSession("ses_1", {"scheduled"}, ended(first), {}, {});
        CPPUNIT_ASSERT(done.has_value());
        CPPUNIT_ASSERT(!store->findOpenSessionByConsultation("c-1").has_value());
        store->insertSession(sampleSession("ses_2", "c-1"), {});
        CPPUNIT_ASSERT_EQUAL(std::string("ses_2"), store->findOpenSessionByConsultation("c-1")->id);

        // A duplicate session id is a Conflict as well.
        CPPUNIT_ASSERT_THROW(store->insertSession(sampleSession("ses_3", "c-9"), {}), Conflict);
    }

    void reopeningThroughTransitionIsConflict() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        const auto first = store->insertSession(sampleSession("ses_1", "c-1"), {});
        store->transitionSession("ses_1", {"scheduled"}, ended(first), {}, {});
        store->insertSession(sampleSession("ses_2", "c-1"), {});
        // Reviving ses_1 would make two open sessions: the unique index says no.
        SessionRecord revived = first;
        revived.status = "waiting";
        CPPUNIT_ASSERT_THROW(store->transitionSession("ses_1", {"ended"}, revived, {}, sampleAudit("x", "ses_1")),
                             Conflict);
        CPPUNIT_ASSERT_EQUAL(std::string("ended"), store->findSession("ses_1")->status);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, auditCount(*store));
    }

    void transitionChecksStatus() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        const auto created = store->insertSession(sampleSession("ses_1", "c-1"), {});

        SessionRecord active = created;
        active.status = "active";
        active.startedAt = created.scheduledAt + 1000;
        EventRecord started;
        started.type = "session_started";
        started.source = "system";

        // Status guard not met: nothing is written.
        CPPUNIT_ASSERT(!store->transitionSession("ses_1", {"waiting", "active"}, active, started,
                                                 sampleAudit("session.started", "ses_1"))
                            .has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), store->findSession("ses_1")->status);
        CPPUNIT_ASSERT(store->listEvents("ses_1", 0, 100).empty());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, auditCount(*store));
        CPPUNIT_ASSERT(!store->transitionSession("ses_unknown", {"scheduled"}, active, {}, {}).has_value());

        const auto stored = store->transitionSession("ses_1", {"scheduled", "waiting"}, active, started,
                                                     sampleAudit("session.started", "ses_1"));
        CPPUNIT_ASSERT(stored.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("active"), stored->status);
        CPPUNIT_ASSERT_EQUAL(active.startedAt, stored->startedAt);
        CPPUNIT_ASSERT_EQUAL(created.seq, stored->seq);
        CPPUNIT_ASSERT_EQUAL(created.createdAt, stored->createdAt);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, stored->participants.size());
        const auto events = store->listEvents("ses_1", 0, 100);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("session_started"), events[0].type);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_1"), events[0].sessionId);
        CPPUNIT_ASSERT_EQUAL(std::string("system"), events[0].source);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, auditCount(*store));

        const SessionRecord end = ended(*stored);
        const auto finished = store->transitionSession("ses_1", {"active"}, end, {}, sampleAudit("session.ended", "ses_1"));
        CPPUNIT_ASSERT(finished.has_value());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{60}, finished->durationSeconds);
        CPPUNIT_ASSERT_EQUAL(std::string("good"), finished->quality);
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), finished->endReason);
        // Ended is terminal for a caller that only allows active -> ended.
        CPPUNIT_ASSERT(!store->transitionSession("ses_1", {"active"}, end, {}, {}).has_value());
    }

    void listFiltersAndCursorPaging() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        std::vector<std::string> expectedEnded;
        for (int i = 0; i < 23; ++i) {
            const std::string id = "ses_" + std::to_string(100 + i);
            SessionRecord s = sampleSession(id, "c-" + std::to_string(i));
            s.createdAt = 1'000'000 + i * 10;
            if (i % 3 == 0) {
                s = ended(s);
                expectedEnded.push_back(id);
            }
            store->insertSession(s, {});
        }

        // Page through "ended" 3 at a time, inserting more rows between pages:
        // the cursor must yield every match once, in order, including new ones.
        std::vector<std::string> seen;
        SessionFilter filter;
        filter.status = "ended";
        filter.limit = 3;
        int extra = 0;
        for (;;) {
            const auto page = store->listSessions(filter);
            CPPUNIT_ASSERT(page.size() <= 3);
            if (page.empty()) {
                break;
            }
            for (const auto& s : page) {
                CPPUNIT_ASSERT_EQUAL(std::string("ended"), s.status);
                CPPUNIT_ASSERT(s.seq > filter.afterSeq);
                CPPUNIT_ASSERT_EQUAL(std::size_t{2}, s.participants.size());
                seen.push_back(s.id);
            }
            filter.afterSeq = page.back().seq;
            if (extra < 2) {
                const std::string id = "ses_extra" + std::to_string(extra++);
                store->insertSession(ended(sampleSession(id, "c-extra")), {});
                expectedEnded.push_back(id);
            }
        }
        CPPUNIT_ASSERT(expectedEnded == seen);

        SessionFilter byConsultation;
        byConsultation.consultationId = "c-4";
        const auto one = store->listSessions(byConsultation);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, one.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ses_104"), one[0].id);

        // created_at in [from, to): i = 5..9
        SessionFilter window;
        window.from = 1'000'050;
        window.to = 1'000'100;
        std::vector<std::string> ids;
        for (const auto& s : store->listSessions(window)) {
            ids.push_back(s.id);
        }
        const std::vector<std::string> expectedWindow = {"ses_105", "ses_106", "ses_107", "ses_108", "ses_109"};
        CPPUNIT_ASSERT(expectedWindow == ids);

        SessionFilter combined = window;
        combined.status = "scheduled";
        ids.clear();
        for (const auto& s : store->listSessions(combined)) {
            ids.push_back(s.id);
        }
        const std::vector<std::string> expectedCombined = {"ses_105", "ses_107", "ses_108"};
        CPPUNIT_ASSERT(expectedCombined == ids);
    }

    void listLimitIsClamped() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        for (int i = 0; i < 3; ++i) {
            store->insertSession(sampleSession("ses_" + std::to_string(i), "c-" + std::to_string(i)), {});
        }
        SessionFilter filter;
        filter.limit = 0;
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, store->listSessions(filter).size());
        filter.limit = -5;
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, store->listSessions(filter).size());
        filter.limit = 100000;
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, store->listSessions(filter).size());
    }

    void providerRoomBookkeeping() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        auto pending = sampleSession("ses_p", "c-p");
        pending.providerStatus = "pending";
        auto unavailable = sampleSession("ses_u", "c-u", "active");
        unavailable.providerStatus = "unavailable";
        auto endedPending = ended(sampleSession("ses_e", "c-e"));
        endedPending.providerStatus = "pending";
        store->insertSession(pending, {});
        store->insertSession(sampleSession("ses_ok", "c-ok"), {});
        store->insertSession(unavailable, {});
        store->insertSession(endedPending, {});

        auto need = store->sessionsNeedingProviderRoom(10);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, need.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ses_p"), need[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_u"), need[1].id);

        store->setProviderRoom("ses_p", "jitsi-room-1", "ok");
        const auto updated = store->findSession("ses_p");
        CPPUNIT_ASSERT_EQUAL(std::string("jitsi-room-1"), updated->providerRoomId);
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), updated->providerStatus);
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), updated->status);
        need = store->sessionsNeedingProviderRoom(10);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, need.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ses_u"), need[0].id);

        // The first room claimed wins; a concurrent second one is not stored.
        CPPUNIT_ASSERT_EQUAL(std::string("vonage-room-A"), store->claimProviderRoom("ses_u", "vonage-room-A"));
        CPPUNIT_ASSERT_EQUAL(std::string("vonage-room-A"), store->claimProviderRoom("ses_u", "vonage-room-B"));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), store->findSession("ses_u")->providerStatus);
        CPPUNIT_ASSERT(store->sessionsNeedingProviderRoom(10).empty());
        CPPUNIT_ASSERT_EQUAL(std::string(), store->claimProviderRoom("ses_nope", "x"));

        // Webhooks find the session by its provider room.
        const auto byRoom = store->findSessionByProviderRoom("jitsi", "vonage-room-A");
        CPPUNIT_ASSERT(byRoom.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("ses_u"), byRoom->id);
        CPPUNIT_ASSERT(!store->findSessionByProviderRoom("vonage", "vonage-room-A").has_value());
        CPPUNIT_ASSERT(!store->findSessionByProviderRoom("jitsi", "").has_value());
    }

    void webhookIdsAreClaimedOnceUntilTheyExpire() {
        TestDir dir;
        const auto path = dir.file("s.db");
        {
            auto store = openStore(path);
            CPPUNIT_ASSERT(store->claimWebhookId("jaas", "sig-1", 2000, 1000));
            CPPUNIT_ASSERT(!store->claimWebhookId("jaas", "sig-1", 2000, 1500));
            CPPUNIT_ASSERT(store->claimWebhookId("vonage", "sig-1", 2000, 1500));  // scoped per provider
        }
        auto store = openStore(path);  // kept across a restart
        CPPUNIT_ASSERT(!store->claimWebhookId("jaas", "sig-1", 3000, 2000));
        // Expired ids are free again (and purged).
        CPPUNIT_ASSERT(store->claimWebhookId("jaas", "sig-1", 5000, 2001));
        CPPUNIT_ASSERT(!store->claimWebhookId("jaas", "sig-1", 5000, 4000));
        CPPUNIT_ASSERT_THROW(store->claimWebhookId("", "x", 1, 0), StoreError);
    }

    void countsByStatus() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        CPPUNIT_ASSERT(store->countSessionsByStatus().empty());
        store->insertSession(sampleSession("ses_1", "c-1"), {});
        store->insertSession(sampleSession("ses_2", "c-2"), {});
        store->insertSession(ended(sampleSession("ses_3", "c-3")), {});
        const auto counts = store->countSessionsByStatus();
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, counts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ended"), counts[0].status);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, counts[0].count);
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), counts[1].status);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{2}, counts[1].count);
    }

    void participantJoinAndLeave() {
        TestDir dir;
        auto store = openStore(dir.file("s.db"));
        store->insertSession(sampleSession("ses_1", "c-1"), {});
        store->markParticipantJoined("ses_1", "pt-1", 100);
        store->markParticipantJoined("ses_1", "pt-1", 200);  // a rejoin keeps the first time
        store->markParticipantLeft("ses_1", "pt-1", 300);
        store->markParticipantLeft("ses_1", "pt-1", 400);
        store->markParticipantJoined("ses_1", "someone-else", 500);  // unknown: no effect
        const auto s = store->findSession("ses_1");
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, s->participants.size());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, s->participants[0].firstJoinedAt);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{100}, s->participants[1].firstJoinedAt);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{400}, s->participants[1].lastLeftAt);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreSessionsTest);

}  // namespace consultd::store::test
