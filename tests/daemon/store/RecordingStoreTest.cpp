// The recordings table (migration 2): insert, find, list with filters and
// paging, guarded status transitions, external-id uniqueness, retention query.
#include "TestDir.h"

#include "store/RecordingStore.h"

#include <cppunit/extensions/HelperMacros.h>

namespace consultd::store::test {
namespace {

RecordingRecord recording(const std::string& id, const std::string& sessionId, std::int64_t createdAt = 0) {
    RecordingRecord r;
    r.id = id;
    r.sessionId = sessionId;
    r.participantId = "pt-1";
    r.fileName = id + ".webm";
    r.container = "webm";
    r.tracks = {"video/VP8", "audio/OPUS"};
    r.createdAt = createdAt;
    return r;
}

}  // namespace

class RecordingStoreTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RecordingStoreTest);
    CPPUNIT_TEST(insertFindAndList);
    CPPUNIT_TEST(transitionIsGuardedAndAudited);
    CPPUNIT_TEST(externalIdIsUniquePerSession);
    CPPUNIT_TEST(expiredAndByStatus);
    CPPUNIT_TEST(rejectsBadInput);
    CPPUNIT_TEST_SUITE_END();

public:
    void insertFindAndList() {
        TestDir dir;
        auto store = openStore(dir.file("r.db"));
        RecordingStore rows(*store);
        for (int i = 0; i < 5; ++i) {
            const auto stored = rows.insert(recording("rec_" + std::to_string(i), i % 2 ? "ses_b" : "ses_a"), {});
            CPPUNIT_ASSERT(stored.seq > 0);
            CPPUNIT_ASSERT(stored.createdAt > 0);
            CPPUNIT_ASSERT_EQUAL(std::string("recording"), stored.status);
            CPPUNIT_ASSERT_EQUAL(std::string("native"), stored.source);
        }
        const auto one = rows.find("rec_3");
        CPPUNIT_ASSERT(one);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_b"), one->sessionId);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, one->tracks.size());
        CPPUNIT_ASSERT_EQUAL(std::string("audio/OPUS"), one->tracks[1]);
        CPPUNIT_ASSERT(!rows.find("rec_nope"));

        RecordingFilter filter;
        filter.sessionId = "ses_a";
        filter.limit = 2;
        const auto page1 = rows.list(filter);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, page1.size());
        CPPUNIT_ASSERT_EQUAL(std::string("rec_0"), page1[0].id);
        filter.afterSeq = page1.back().seq;
        const auto page2 = rows.list(filter);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, page2.size());
        CPPUNIT_ASSERT_EQUAL(std::string("rec_4"), page2[0].id);
        RecordingFilter byStatus;
        byStatus.status = "available";
        CPPUNIT_ASSERT(rows.list(byStatus).empty());
    }

    void transitionIsGuardedAndAudited() {
        TestDir dir;
        auto store = openStore(dir.file("r.db"));
        RecordingStore rows(*store);
        rows.insert(recording("rec_1", "ses_a"), sampleAudit("recording.started", "rec_1"));
        RecordingRecord done = *rows.find("rec_1");
        done.status = "available";
        done.bytes = 12345;
        done.durationMs = 5000;
        done.finishedAt = 99;
        done.tracks = {"video/VP8"};
        const auto stored = rows.transition("rec_1", {"recording"}, done, sampleAudit("recording.finished", "rec_1"));
        CPPUNIT_ASSERT(stored);
        CPPUNIT_ASSERT_EQUAL(std::string("available"), stored->status);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{12345}, stored->bytes);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, stored->tracks.size());
        // Not in "recording" any more: a second finish writes nothing.
        done.status = "failed";
        CPPUNIT_ASSERT(!rows.transition("rec_1", {"recording"}, done, sampleAudit("recording.failed", "rec_1")));
        CPPUNIT_ASSERT(!rows.transition("rec_x", {"recording"}, done, {}));
        const auto audit = store->listAudit(0, 100);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, audit.size());
        CPPUNIT_ASSERT_EQUAL(std::string("recording.finished"), audit[1].action);
        const auto counts = rows.countByStatus();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, counts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("available"), counts[0].status);
    }

    void externalIdIsUniquePerSession() {
        TestDir dir;
        auto store = openStore(dir.file("r.db"));
        RecordingStore rows(*store);
        auto imported = recording("rec_1", "ses_a");
        imported.source = "import";
        imported.externalId = "archive-1";
        rows.insert(imported, {});
        auto again = imported;
        again.id = "rec_2";
        CPPUNIT_ASSERT_THROW(rows.insert(again, {}), Conflict);
        again.sessionId = "ses_b";
        rows.insert(again, {});
        const auto found = rows.findByExternalId("ses_a", "archive-1");
        CPPUNIT_ASSERT(found);
        CPPUNIT_ASSERT_EQUAL(std::string("rec_1"), found->id);
        CPPUNIT_ASSERT(!rows.findByExternalId("ses_a", ""));
        // Native rows have no external id and never collide.
        rows.insert(recording("rec_3", "ses_a"), {});
        rows.insert(recording("rec_4", "ses_a"), {});
    }

    void expiredAndByStatus() {
        TestDir dir;
        auto store = openStore(dir.file("r.db"));
        RecordingStore rows(*store);
        rows.insert(recording("rec_old", "ses_a", 1000), {});
        rows.insert(recording("rec_new", "ses_a", 5000), {});
        rows.insert(recording("rec_live", "ses_a", 1000), {});
        for (const char* id : {"rec_old", "rec_new"}) {
            auto r = *rows.find(id);
            r.status = "available";
            rows.transition(id, {"recording"}, r, {});
        }
        const auto expired = rows.listExpired(2000, 10);
        // A row still recording is never a retention candidate.
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, expired.size());
        CPPUNIT_ASSERT_EQUAL(std::string("rec_old"), expired[0].id);
        const auto live = rows.listByStatus("recording", 10);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, live.size());
        CPPUNIT_ASSERT_EQUAL(std::string("rec_live"), live[0].id);
    }

    void rejectsBadInput() {
        TestDir dir;
        auto store = openStore(dir.file("r.db"));
        RecordingStore rows(*store);
        CPPUNIT_ASSERT_THROW(rows.insert(recording("", "ses_a"), {}), StoreError);
        auto badTrack = recording("rec_1", "ses_a");
        badTrack.tracks = {"video VP8"};
        CPPUNIT_ASSERT_THROW(rows.insert(badTrack, {}), StoreError);
        auto badStatus = recording("rec_2", "ses_a");
        badStatus.status = "lost";
        CPPUNIT_ASSERT_THROW(rows.insert(badStatus, {}), StoreError);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RecordingStoreTest);

}  // namespace consultd::store::test
