// SessionService with the real store (SQLite in a temp dir) and the real
// jitsi plugin built by this tree: state machine, grants, audit, windows.
#include "core/ApiError.h"
#include "core/SessionService.h"
#include "util/Time.h"

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

namespace fs = std::filesystem;
using namespace consultd;
using core::ApiError;

namespace {

struct Fixture {
    std::string dir;
    std::shared_ptr<const config::Config> config;
    core::Metrics metrics;
    std::unique_ptr<plugins::PluginHost> host;
    std::unique_ptr<store::Store> store;
    std::unique_ptr<core::SessionService> service;

    explicit Fixture(int tokenRate = 10) {
        char tmpl[] = "/tmp/consultd-session-XXXXXX";
        dir = ::mkdtemp(tmpl);
        {
            std::ofstream(dir + "/secret") << "0123456789abcdef0123456789abcdef0123456789";
            ::chmod((dir + "/secret").c_str(), 0600);
            std::ofstream(dir + "/consultd.conf")
                << "security = { token_rate_per_minute = " << tokenRate << "; };\n"
                << "providers = { plugin_dir = \"" CONSULTD_TEST_PLUGIN_DIR "\"; default = \"jitsi\";\n"
                << "  jitsi = { enabled = true; domain = \"meet.test\"; app_id = \"app\"; app_secret_file = \"secret\"; }; };\n";
        }
        auto result = config::ConfigLoader::load(dir + "/consultd.conf");
        host = std::make_unique<plugins::PluginHost>();
        std::vector<std::string> errors;
        host->discover(CONSULTD_TEST_PLUGIN_DIR, errors);
        config::ConfigLoader::validateProviders(result, host->schemas(), CONSULTD_TEST_PLUGIN_DIR);
        for (const auto& e : result.errors) errors.push_back(e.format());
        CPPUNIT_ASSERT_MESSAGE(errors.empty() ? "" : errors.front(), errors.empty() && result.ok());
        config = result.config;
        host->createProviders(config, nullptr, "http://127.0.0.1:8080", errors);
        CPPUNIT_ASSERT(errors.empty());
        store::StoreOptions options;
        options.path = dir + "/consultd.db";
        store = store::Store::open(options);
        service = std::make_unique<core::SessionService>(*store, *host, metrics, [this] { return config; });
    }
    ~Fixture() {
        service.reset();
        store.reset();
        fs::remove_all(dir);
    }

    core::CreateSessionRequest request(const std::string& consultation) const {
        core::CreateSessionRequest r;
        r.consultationId = consultation;
        r.host.participantId = "dr-1";
        r.host.name = "Dr. One";
        store::ParticipantRecord patient;
        patient.participantId = "pt-1";
        patient.name = "Pat";
        patient.role = "patient";
        r.participants.push_back(patient);
        return r;
    }
};

const core::Actor kActor{"apikey:test", "req_test"};

int statusOf(const std::function<void()>& f, std::string* code = nullptr) {
    try {
        f();
    } catch (const ApiError& e) {
        if (code) *code = e.code();
        return e.status();
    }
    return 0;
}

}  // namespace

class SessionServiceTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SessionServiceTest);
    CPPUNIT_TEST(createIsIdempotentPerConsultation);
    CPPUNIT_TEST(roomNameNeverCarriesIntegratorText);
    CPPUNIT_TEST(lifecycleAndIllegalTransitions);
    CPPUNIT_TEST(endComputesDuration);
    CPPUNIT_TEST(grantOnlyForParticipantsAndAudited);
    CPPUNIT_TEST(grantIsRateLimitedPerParticipant);
    CPPUNIT_TEST(grantRefusedOnClosedSession);
    CPPUNIT_TEST(joinWindowAroundScheduledTime);
    CPPUNIT_TEST(eventsUpdateParticipantPresence);
    CPPUNIT_TEST(repeatedIdempotencyKeyReturnsTheFirstEvent);
    CPPUNIT_TEST_SUITE_END();

public:
    void createIsIdempotentPerConsultation() {
        Fixture f;
        auto [first, created] = f.service->create(f.request("c-1"), kActor);
        CPPUNIT_ASSERT(created);
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), first.status);
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), first.providerStatus);
        auto [again, createdAgain] = f.service->create(f.request("c-1"), kActor);
        CPPUNIT_ASSERT(!createdAgain);
        CPPUNIT_ASSERT_EQUAL(first.id, again.id);
        f.service->cancel(first.id, "rescheduled", kActor);
        auto [third, createdThird] = f.service->create(f.request("c-1"), kActor);
        CPPUNIT_ASSERT(createdThird);
        CPPUNIT_ASSERT(third.id != first.id);
    }

    void roomNameNeverCarriesIntegratorText() {
        Fixture f;
        auto [s, created] = f.service->create(f.request("MRN 12345 / Smith, John <script>"), kActor);
        CPPUNIT_ASSERT(std::regex_match(s.roomName, std::regex("consult-[a-z2-7]{24}")));
        CPPUNIT_ASSERT(s.roomName.find("12345") == std::string::npos);
    }

    void lifecycleAndIllegalTransitions() {
        Fixture f;
        auto [s, created] = f.service->create(f.request("c-2"), kActor);
        std::string code;
        CPPUNIT_ASSERT_EQUAL(409, statusOf([&] { f.service->end(s.id, "x", "", kActor); }, &code));
        CPPUNIT_ASSERT_EQUAL(std::string("INVALID_STATE_TRANSITION"), code);
        CPPUNIT_ASSERT_EQUAL(std::string("active"), f.service->start(s.id, kActor).status);
        CPPUNIT_ASSERT_EQUAL(409, statusOf([&] { f.service->start(s.id, kActor); }));
        CPPUNIT_ASSERT_EQUAL(409, statusOf([&] { f.service->cancel(s.id, "x", kActor); }));
        CPPUNIT_ASSERT_EQUAL(std::string("ended"), f.service->end(s.id, "done", "good", kActor).status);
        CPPUNIT_ASSERT_EQUAL(409, statusOf([&] { f.service->start(s.id, kActor); }));
        CPPUNIT_ASSERT_EQUAL(404, statusOf([&] { f.service->start("ses_nope", kActor); }));
        // Every transition is audited.
        int transitions = 0;
        for (const auto& a : f.store->listAudit(0, 100)) {
            if (a.target == s.id && a.action.rfind("session.", 0) == 0) ++transitions;
        }
        CPPUNIT_ASSERT_EQUAL(3, transitions);  // created, started, ended
    }

    void endComputesDuration() {
        Fixture f;
        auto [s, created] = f.service->create(f.request("c-3"), kActor);
        f.service->start(s.id, kActor);
        ::usleep(1100 * 1000);
        const auto ended = f.service->end(s.id, "done", "fair", kActor);
        CPPUNIT_ASSERT(ended.durationSeconds >= 1 && ended.durationSeconds <= 3);
        CPPUNIT_ASSERT_EQUAL(std::string("fair"), ended.quality);
        CPPUNIT_ASSERT_EQUAL(std::string("done"), ended.endReason);
    }

    void grantOnlyForParticipantsAndAudited() {
        Fixture f;
        auto [s, created] = f.service->create(f.request("c-4"), kActor);
        std::string code;
        CPPUNIT_ASSERT_EQUAL(403, statusOf([&] { f.service->issueGrant(s.id, "stranger", kActor); }, &code));
        CPPUNIT_ASSERT_EQUAL(std::string("NOT_A_PARTICIPANT"), code);
        const auto grant = f.service->issueGrant(s.id, "dr-1", kActor);
        CPPUNIT_ASSERT_EQUAL(std::string("host"), grant.role);
        CPPUNIT_ASSERT_EQUAL(s.roomName, grant.grant.room);
        CPPUNIT_ASSERT(grant.grant.joinUrl.rfind("https://meet.test/" + s.roomName + "?jwt=", 0) == 0);
        CPPUNIT_ASSERT_EQUAL(std::string("waiting"), f.service->get(s.id).status);
        bool audited = false;
        for (const auto& a : f.store->listAudit(0, 100)) {
            if (a.action == "token.issued" && a.target == s.id) {
                audited = true;
                CPPUNIT_ASSERT(a.detailsJson.find("dr-1") != std::string::npos);
                CPPUNIT_ASSERT(a.detailsJson.find(grant.grant.token) == std::string::npos);
            }
        }
        CPPUNIT_ASSERT(audited);
    }

    void grantIsRateLimitedPerParticipant() {
        Fixture f(3);
        auto [s, created] = f.service->create(f.request("c-5"), kActor);
        for (int i = 0; i < 3; ++i) f.service->issueGrant(s.id, "pt-1", kActor);
        std::string code;
        CPPUNIT_ASSERT_EQUAL(429, statusOf([&] { f.service->issueGrant(s.id, "pt-1", kActor); }, &code));
        CPPUNIT_ASSERT_EQUAL(std::string("RATE_LIMITED"), code);
        f.service->issueGrant(s.id, "dr-1", kActor);  // another participant is not affected
    }

    void grantRefusedOnClosedSession() {
        Fixture f;
        auto [s, created] = f.service->create(f.request("c-6"), kActor);
        f.service->cancel(s.id, "no-show", kActor);
        std::string code;
        CPPUNIT_ASSERT_EQUAL(409, statusOf([&] { f.service->issueGrant(s.id, "pt-1", kActor); }, &code));
        CPPUNIT_ASSERT_EQUAL(std::string("SESSION_CLOSED"), code);
    }

    void joinWindowAroundScheduledTime() {
        Fixture f;
        auto r = f.request("c-7");
        r.scheduledAt = util::nowMillis() + 60 * 60000;  // in an hour; window opens 15 min before
        auto [s, created] = f.service->create(r, kActor);
        auto result = f.service->canJoin(s, "pt-1");
        CPPUNIT_ASSERT(!result.canJoin);
        CPPUNIT_ASSERT_EQUAL(std::string("too_early"), result.reason);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{60}, *result.minutesUntilSession);
        CPPUNIT_ASSERT_EQUAL(403, statusOf([&] { f.service->issueGrant(s.id, "pt-1", kActor); }));
        CPPUNIT_ASSERT_EQUAL(std::string("not_a_participant"), f.service->canJoin(s, "nobody").reason);
        // Once the host starts, the window no longer matters.
        f.service->start(s.id, kActor);
        CPPUNIT_ASSERT(f.service->canJoin(f.service->get(s.id), "pt-1").canJoin);
        auto soon = f.request("c-8");
        soon.scheduledAt = util::nowMillis() + 5 * 60000;
        auto [s2, c2] = f.service->create(soon, kActor);
        CPPUNIT_ASSERT(f.service->canJoin(s2, "pt-1").canJoin);
    }

    void eventsUpdateParticipantPresence() {
        Fixture f;
        auto [s, created] = f.service->create(f.request("c-9"), kActor);
        store::EventRecord joined;
        joined.type = "participant_joined";
        joined.participantId = "pt-1";
        f.service->addEvent(s.id, joined);
        const auto after = f.service->get(s.id);
        bool seen = false;
        for (const auto& p : after.participants) {
            if (p.participantId == "pt-1") seen = p.firstJoinedAt > 0;
        }
        CPPUNIT_ASSERT(seen);
        store::EventRecord stranger;
        stranger.type = "participant_joined";
        stranger.participantId = "nobody";
        CPPUNIT_ASSERT_EQUAL(422, statusOf([&] { f.service->addEvent(s.id, stranger); }));
    }

    void repeatedIdempotencyKeyReturnsTheFirstEvent() {
        Fixture f;
        auto [s, created] = f.service->create(f.request("c-10"), kActor);
        store::EventRecord e;
        e.type = "video_muted";
        e.participantId = "pt-1";
        e.idempotencyKey = "k-1";
        const auto [first, isNew] = f.service->addEvent(s.id, e);
        CPPUNIT_ASSERT(isNew);
        ::usleep(5000);
        const auto [again, isNewAgain] = f.service->addEvent(s.id, e);
        CPPUNIT_ASSERT(!isNewAgain);
        CPPUNIT_ASSERT_EQUAL(first.id, again.id);
        e.type = "video_unmuted";
        ::usleep(5000);
        std::string code;
        CPPUNIT_ASSERT_EQUAL(409, statusOf([&] { f.service->addEvent(s.id, e); }, &code));
        CPPUNIT_ASSERT_EQUAL(std::string("IDEMPOTENCY_CONFLICT"), code);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, f.store->listEvents(s.id, 0, 100).size());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SessionServiceTest);
