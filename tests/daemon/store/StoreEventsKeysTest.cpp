// Session events (idempotency, paging) and API keys (insert, find, revoke).
#include "TestDir.h"

#include <cppunit/extensions/HelperMacros.h>

namespace consultd::store::test {
namespace {

EventRecord event(const std::string& sessionId, const std::string& type, const std::string& key = "") {
    EventRecord e;
    e.sessionId = sessionId;
    e.type = type;
    e.participantId = "pt-1";
    e.severity = "warning";
    e.dataJson = R"({"n":1})";
    e.idempotencyKey = key;
    return e;
}

ApiKeyRecord apiKey(const std::string& id) {
    ApiKeyRecord k;
    k.id = id;
    k.name = "ehr";
    k.scopes = {"sessions:read", "sessions:write"};
    k.secretHash = std::string(64, 'a');
    return k;
}

}  // namespace

class StoreEventsKeysTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreEventsKeysTest);
    CPPUNIT_TEST(eventsAppendAndPage);
    CPPUNIT_TEST(duplicateIdempotencyKeyWritesNothing);
    CPPUNIT_TEST(apiKeyLifecycle);
    CPPUNIT_TEST(apiKeyRejectsBadInput);
    CPPUNIT_TEST_SUITE_END();

public:
    void eventsAppendAndPage() {
        TestDir dir;
        auto store = openStore(dir.file("e.db"));
        store->insertSession(sampleSession("ses_1", "c-1"), {});
        store->insertSession(sampleSession("ses_2", "c-2"), {});
        std::vector<std::int64_t> ids;
        for (int i = 0; i < 5; ++i) {
            const auto stored = store->appendEvent(event("ses_1", "video_muted"));
            CPPUNIT_ASSERT(stored.id > 0);
            CPPUNIT_ASSERT(stored.createdAt > 0);
            ids.push_back(stored.id);
            store->appendEvent(event("ses_2", "participant_joined"));
        }
        const auto first = store->listEvents("ses_1", 0, 2);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, first.size());
        CPPUNIT_ASSERT_EQUAL(ids[0], first[0].id);
        CPPUNIT_ASSERT_EQUAL(ids[1], first[1].id);
        const auto rest = store->listEvents("ses_1", first.back().id, 100);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, rest.size());
        CPPUNIT_ASSERT_EQUAL(ids[4], rest.back().id);
        CPPUNIT_ASSERT_EQUAL(std::string("warning"), rest[0].severity);
        CPPUNIT_ASSERT_EQUAL(std::string("client"), rest[0].source);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"n":1})"), rest[0].dataJson);
        CPPUNIT_ASSERT_EQUAL(std::string("pt-1"), rest[0].participantId);
        for (const auto& e : rest) {
            CPPUNIT_ASSERT_EQUAL(std::string("ses_1"), e.sessionId);
        }
    }

    void duplicateIdempotencyKeyWritesNothing() {
        TestDir dir;
        const auto path = dir.file("e.db");
        auto store = openStore(path);
        store->insertSession(sampleSession("ses_1", "c-1"), {});
        store->insertSession(sampleSession("ses_2", "c-2"), {});
        const auto original = store->appendEvent(event("ses_1", "participant_joined", "key-1"));
        EventRecord retry = event("ses_1", "participant_left", "key-1");
        retry.dataJson = R"({"n":2})";
        const auto again = store->appendEvent(retry);
        CPPUNIT_ASSERT_EQUAL(original.id, again.id);
        CPPUNIT_ASSERT_EQUAL(std::string("participant_joined"), again.type);  // the stored one, not the retry
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"n":1})"), again.dataJson);
        CPPUNIT_ASSERT_EQUAL(std::string("key-1"), again.idempotencyKey);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, store->listEvents("ses_1", 0, 100).size());

        // Keys are per session: another session's event is never returned.
        const auto other = store->appendEvent(event("ses_2", "participant_joined", "key-1"));
        CPPUNIT_ASSERT(other.id != original.id);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_2"), other.sessionId);
        // Events without a key are never deduplicated.
        store->appendEvent(event("ses_1", "video_muted"));
        store->appendEvent(event("ses_1", "video_muted"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, store->listEvents("ses_1", 0, 100).size());
        CPPUNIT_ASSERT_EQUAL(std::string("2"), rawQuery(path, "SELECT count(*) FROM events WHERE idempotency_key IS NULL"));
    }

    void apiKeyLifecycle() {
        TestDir dir;
        auto store = openStore(dir.file("k.db"));
        store->insertApiKey(apiKey("key_1"), sampleAudit("apikey.created", "key_1"));
        store->insertApiKey(apiKey("key_2"), sampleAudit("apikey.created", "key_2"));
        const auto found = store->findApiKey("key_1");
        CPPUNIT_ASSERT(found.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("ehr"), found->name);
        CPPUNIT_ASSERT(found->scopes == apiKey("x").scopes);
        CPPUNIT_ASSERT_EQUAL(std::string(64, 'a'), found->secretHash);
        CPPUNIT_ASSERT(found->createdAt > 0);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, found->revokedAt);
        CPPUNIT_ASSERT(!store->findApiKey("key_9").has_value());
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, store->listApiKeys().size());
        CPPUNIT_ASSERT_THROW(store->insertApiKey(apiKey("key_1"), sampleAudit("apikey.created", "key_1")), Conflict);

        CPPUNIT_ASSERT(store->revokeApiKey("key_1", 12345, sampleAudit("apikey.revoked", "key_1")));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{12345}, store->findApiKey("key_1")->revokedAt);
        CPPUNIT_ASSERT(!store->revokeApiKey("key_1", 99999, sampleAudit("apikey.revoked", "key_1")));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{12345}, store->findApiKey("key_1")->revokedAt);
        CPPUNIT_ASSERT(!store->revokeApiKey("key_9", 1, sampleAudit("apikey.revoked", "key_9")));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, store->findApiKey("key_2")->revokedAt);

        // created, created, revoked: the refused insert and the no-op revokes left nothing.
        std::string actions;
        for (const auto& entry : store->listAudit(0, 100)) {
            actions += entry.action + ":" + entry.target + " ";
        }
        CPPUNIT_ASSERT_EQUAL(std::string("apikey.created:key_1 apikey.created:key_2 apikey.revoked:key_1 "), actions);
    }

    void apiKeyRejectsBadInput() {
        TestDir dir;
        auto store = openStore(dir.file("k.db"));
        ApiKeyRecord bad = apiKey("key_1");
        bad.scopes = {"sessions:read admin"};  // would read back as two scopes
        CPPUNIT_ASSERT_THROW(store->insertApiKey(bad, {}), StoreError);
        bad = apiKey("key_1");
        bad.secretHash.clear();
        CPPUNIT_ASSERT_THROW(store->insertApiKey(bad, {}), StoreError);
        CPPUNIT_ASSERT(store->listApiKeys().empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreEventsKeysTest);

}  // namespace consultd::store::test
