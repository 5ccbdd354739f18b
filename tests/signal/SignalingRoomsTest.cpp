// The signaling room logic without sockets: a fake backend (sessions, events)
// and a fake output (what each connection was sent, how it was closed).
#include "signal/SignalingRooms.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cppunit/extensions/HelperMacros.h>

#include <map>

using namespace consultd::signal;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& text) {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

struct FakeOutput final : SignalingOutput {
    std::map<ConnectionId, std::vector<std::string>> sent;
    std::map<ConnectionId, std::uint16_t> closed;
    void send(ConnectionId c, std::string text) override {
        if (closed.count(c) == 0) sent[c].push_back(std::move(text));
    }
    void close(ConnectionId c, std::uint16_t code, const std::string&) override { closed.emplace(c, code); }
    /// Messages of `type` sent to `c`.
    std::vector<Poco::JSON::Object::Ptr> of(ConnectionId c, const std::string& type) {
        std::vector<Poco::JSON::Object::Ptr> out;
        for (const auto& t : sent[c]) {
            auto m = parse(t);
            if (m->getValue<std::string>("type") == type) out.push_back(m);
        }
        return out;
    }
    std::string lastError(ConnectionId c) {
        const auto errors = of(c, "error");
        return errors.empty() ? "" : errors.back()->getValue<std::string>("code");
    }
};

struct FakeBackend final : SignalingBackend {
    std::map<std::string, SessionSnapshot> sessions;
    struct Event {
        std::string session, type, participant, data;
    };
    std::vector<Event> events;
    SignalingRooms* rooms = nullptr;
    bool storeDown = false;
    std::optional<SessionSnapshot> findSession(const std::string& id) override {
        if (storeDown) throw std::runtime_error("database is locked");
        const auto it = sessions.find(id);
        if (it == sessions.end()) return std::nullopt;
        return it->second;
    }
    void recordEvent(const std::string& s, const std::string& t, const std::string& p, const std::string& d) override {
        events.push_back({s, t, p, d});
    }
    void endSession(const std::string& s, const std::string&) override {
        sessions[s].status = "ended";
        rooms->onSessionStatus(s, "ended");  // what SessionService's observer does
    }
    int count(const std::string& type, const std::string& participant = "") const {
        int n = 0;
        for (const auto& e : events) n += e.type == type && (participant.empty() || e.participant == participant);
        return n;
    }
};

// Test tokens: "tok|<session>|<participant>|<role>", or "expired".
std::optional<SignalingClaims> verify(const std::string& token, TokenProblem& problem) {
    if (token == "expired") {
        problem = TokenProblem::Expired;
        return std::nullopt;
    }
    if (token.rfind("tok|", 0) != 0) {
        problem = TokenProblem::BadSignature;
        return std::nullopt;
    }
    SignalingClaims c;
    const auto a = token.find('|', 4), b = token.find('|', a + 1);
    c.sessionId = token.substr(4, a - 4);
    c.participantId = token.substr(a + 1, b - a - 1);
    c.role = token.substr(b + 1);
    c.expiresAt = 4102444800;
    problem = TokenProblem::None;
    return c;
}

std::string join(const std::string& session, const std::string& participant, const std::string& role) {
    return R"({"type":"join","token":"tok|)" + session + "|" + participant + "|" + role + R"("})";
}

}  // namespace

class SignalingRoomsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SignalingRoomsTest);
    CPPUNIT_TEST(joinAnnouncesAndRelaysWithStampedFrom);
    CPPUNIT_TEST(joinRefusals);
    CPPUNIT_TEST(messageToAnotherRoomIsNotDelivered);
    CPPUNIT_TEST(floodGetsErrorThenClose);
    CPPUNIT_TEST(oversizedMessageCloses1009);
    CPPUNIT_TEST(roomFull);
    CPPUNIT_TEST(reconnectResumesWithoutDuplicate);
    CPPUNIT_TEST(onlyTheHostEnds);
    CPPUNIT_TEST(restEndClosesTheRoom);
    CPPUNIT_TEST(waitingRoomHoldsNegotiationUntilStart);
    CPPUNIT_TEST(chatAndMediaStateAreStored);
    CPPUNIT_TEST(disconnectIsALeave);
    CPPUNIT_TEST(messagesBeforeJoinAreRefused);
    CPPUNIT_TEST(storeDownAtJoinIsRetryable);
    CPPUNIT_TEST(localRecorderJoinsRelaysAndLeaves);
    CPPUNIT_TEST(localRecorderIsClosedWhenTheSessionEnds);
    CPPUNIT_TEST_SUITE_END();

    FakeOutput out;
    FakeBackend backend;
    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
    SignalingLimits limits;
    std::unique_ptr<SignalingRooms> rooms;

    void make() {
        rooms = std::make_unique<SignalingRooms>(backend, out, verify, limits, [this] { return now; });
        backend.rooms = rooms.get();
    }

public:
    void setUp() override {
        out = FakeOutput{};
        backend = FakeBackend{};
        limits = SignalingLimits{};
        backend.sessions["S"] = {"S", "active", {{"dr", "Dr A", "host"}, {"pt", "Pat", "patient"}, {"gu", "Gus", "guest"}}};
        backend.sessions["T"] = {"T", "active", {{"x", "X", "host"}, {"y", "Y", "patient"}}};
        make();
    }

    void joinAnnouncesAndRelaysWithStampedFrom() {
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(2, join("S", "pt", "patient"));
        auto joined1 = out.of(1, "joined");
        auto joined2 = out.of(2, "joined");
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, joined1.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, joined1[0]->getArray("participants")->size());
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, joined2[0]->getArray("participants")->size());
        CPPUNIT_ASSERT_EQUAL(std::string("dr"),
                             joined2[0]->getArray("participants")->getObject(0)->getValue<std::string>("id"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(1, "participant-joined").size());
        CPPUNIT_ASSERT_EQUAL(2, backend.count("participant_joined"));

        rooms->onMessage(1, R"({"type":"offer","to":"pt","from":"gu","sdp":"v=0 fake"})");
        auto offers = out.of(2, "offer");
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, offers.size());
        CPPUNIT_ASSERT_EQUAL(std::string("dr"), offers[0]->getValue<std::string>("from"));
        CPPUNIT_ASSERT_EQUAL(std::string("v=0 fake"), offers[0]->getValue<std::string>("sdp"));
        rooms->onMessage(2, R"({"type":"answer","to":"dr","sdp":"v=0 answer"})");
        rooms->onMessage(2, R"({"type":"ice-candidate","to":"dr","candidate":{"candidate":"c1","sdpMid":"0"}})");
        CPPUNIT_ASSERT_EQUAL(std::string("pt"), out.of(1, "answer").at(0)->getValue<std::string>("from"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(1, "ice-candidate").size());
        CPPUNIT_ASSERT(out.closed.empty());
    }

    void joinRefusals() {
        const std::vector<std::pair<std::string, std::string>> cases = {
            {R"({"type":"join","token":"forged"})", "INVALID_TOKEN"},
            {R"({"type":"join"})", "INVALID_TOKEN"},
            {R"({"type":"join","token":"expired"})", "TOKEN_EXPIRED"},
            {join("S", "nobody", "host"), "NOT_A_PARTICIPANT"},
            {join("NOPE", "dr", "host"), "SESSION_NOT_FOUND"},
            {R"({"type":"join","session_id":"S","token":"tok|T|x|host"})", "WRONG_SESSION"},
        };
        ConnectionId c = 10;
        for (const auto& [message, code] : cases) {
            rooms->onMessage(c, message);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(message, code, out.lastError(c));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(message, kClosePolicy, out.closed.at(c));
            CPPUNIT_ASSERT(out.of(c, "joined").empty());
            ++c;
        }
        backend.sessions["S"].status = "ended";
        rooms->onMessage(99, join("S", "dr", "host"));
        CPPUNIT_ASSERT_EQUAL(std::string("SESSION_CLOSED"), out.lastError(99));
        CPPUNIT_ASSERT_EQUAL(0, backend.count("participant_joined"));
    }

    void messageToAnotherRoomIsNotDelivered() {
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(3, join("T", "x", "host"));
        rooms->onMessage(3, R"({"type":"offer","to":"dr","sdp":"evil"})");
        CPPUNIT_ASSERT_EQUAL(std::string("UNKNOWN_PARTICIPANT"), out.lastError(3));
        CPPUNIT_ASSERT(out.of(1, "offer").empty());
        CPPUNIT_ASSERT(out.closed.empty());  // a mistake, not a violation
    }

    void floodGetsErrorThenClose() {
        limits.messagesPerSecond = 5;
        limits.violationsBeforeClose = 3;
        make();
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(2, join("S", "pt", "patient"));
        for (int i = 0; i < 4; ++i) rooms->onMessage(1, R"({"type":"chat","text":"hi"})");  // 5 with the join
        CPPUNIT_ASSERT(out.of(1, "error").empty());
        rooms->onMessage(1, R"({"type":"chat","text":"6th"})");
        CPPUNIT_ASSERT_EQUAL(std::string("RATE_LIMITED"), out.lastError(1));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, out.closed.count(1));
        // A new second: the peer behaved again, messages pass.
        now += std::chrono::milliseconds(1001);
        rooms->onMessage(1, R"({"type":"chat","text":"later"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t{5}, out.of(2, "chat").size());
        for (int i = 0; i < 10; ++i) rooms->onMessage(1, R"({"type":"chat","text":"flood"})");
        CPPUNIT_ASSERT_EQUAL(kClosePolicy, out.closed.at(1));
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, out.of(1, "error").size());  // no error amplification
        // The other peer is untouched and the flood reached it only up to the limit.
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, out.closed.count(2));
        CPPUNIT_ASSERT_EQUAL(std::size_t{9}, out.of(2, "chat").size());
    }

    void oversizedMessageCloses1009() {
        limits.maxMessageBytes = 1024;
        make();
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(1, R"({"type":"chat","text":")" + std::string(2000, 'a') + R"("})");
        CPPUNIT_ASSERT_EQUAL(std::string("MESSAGE_TOO_LARGE"), out.lastError(1));
        CPPUNIT_ASSERT_EQUAL(kCloseTooBig, out.closed.at(1));
        rooms->onOversizedMessage(2);
        CPPUNIT_ASSERT_EQUAL(kCloseTooBig, out.closed.at(2));
    }

    void roomFull() {
        limits.maxParticipantsPerRoom = 2;
        make();
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(2, join("S", "pt", "patient"));
        rooms->onMessage(3, join("S", "gu", "guest"));
        CPPUNIT_ASSERT_EQUAL(std::string("ROOM_FULL"), out.lastError(3));
        CPPUNIT_ASSERT_EQUAL(kClosePolicy, out.closed.at(3));
        CPPUNIT_ASSERT(out.of(1, "participant-joined").size() == 1);  // only pt
    }

    void reconnectResumesWithoutDuplicate() {
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(2, join("S", "pt", "patient"));
        rooms->onMessage(5, join("S", "dr", "host"));  // same participant, new connection
        CPPUNIT_ASSERT_EQUAL(kCloseNormal, out.closed.at(1));
        CPPUNIT_ASSERT_EQUAL(std::string("REPLACED"), out.lastError(1));
        auto joined = out.of(5, "joined");
        CPPUNIT_ASSERT(joined.at(0)->getValue<bool>("resumed"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, joined.at(0)->getArray("participants")->size());
        rooms->onDisconnected(1);  // the old socket goes away later
        CPPUNIT_ASSERT(out.of(2, "participant-left").empty());
        CPPUNIT_ASSERT(out.of(2, "participant-joined").empty());  // no duplicate announcement
        CPPUNIT_ASSERT_EQUAL(1, backend.count("participant_joined", "dr"));
        CPPUNIT_ASSERT_EQUAL(0, backend.count("participant_left"));
        rooms->onMessage(2, R"({"type":"offer","to":"dr","sdp":"x"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(5, "offer").size());
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, rooms->stats().participants);
    }

    void onlyTheHostEnds() {
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(2, join("S", "pt", "patient"));
        rooms->onMessage(2, R"({"type":"end"})");
        CPPUNIT_ASSERT_EQUAL(std::string("FORBIDDEN"), out.lastError(2));
        CPPUNIT_ASSERT_EQUAL(std::string("active"), backend.sessions["S"].status);
        rooms->onMessage(1, R"({"type":"end"})");
        CPPUNIT_ASSERT_EQUAL(std::string("ended"), backend.sessions["S"].status);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(1, "ended").size());
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(2, "ended").size());
        CPPUNIT_ASSERT_EQUAL(kCloseNormal, out.closed.at(2));
        CPPUNIT_ASSERT_EQUAL(2, backend.count("participant_left"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, rooms->stats().rooms);
        rooms->onMessage(7, join("S", "pt", "patient"));  // no way back in
        CPPUNIT_ASSERT_EQUAL(std::string("SESSION_CLOSED"), out.lastError(7));
    }

    // The daemon's recorder: an in-process participant with role recorder.
    void localRecorderJoinsRelaysAndLeaves() {
        rooms->onMessage(1, join("S", "dr", "host"));
        std::vector<std::string> delivered;
        int closedCount = 0;
        std::string problem;
        auto local = rooms->joinLocal("S", {"consultd-recorder", "Recorder", "recorder"},
                                      [&](const std::string& t) { delivered.push_back(t); },
                                      [&](std::uint16_t, const std::string&) { ++closedCount; }, problem);
        CPPUNIT_ASSERT_MESSAGE(problem, local.has_value());
        auto joined = parse(local->joinedText);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, joined->getArray("participants")->size());
        // Announced with its role, but no participant event (it is no session participant).
        auto announced = out.of(1, "participant-joined");
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, announced.size());
        CPPUNIT_ASSERT_EQUAL(std::string("recorder"),
                             announced[0]->getObject("participant")->getValue<std::string>("role"));
        CPPUNIT_ASSERT_EQUAL(0, backend.count("participant_joined", "consultd-recorder"));
        // A later joiner sees it in `joined`.
        rooms->onMessage(2, join("S", "pt", "patient"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, out.of(2, "joined").at(0)->getArray("participants")->size());
        // Offers both ways, `from` stamped; the local side is not rate-limited.
        for (int i = 0; i < 3 * limits.messagesPerSecond; ++i) {
            rooms->sendFromLocal(local->connection, R"({"type":"ice-candidate","to":"dr","candidate":{"candidate":"c"}})");
        }
        CPPUNIT_ASSERT_EQUAL(static_cast<std::size_t>(3 * limits.messagesPerSecond), out.of(1, "ice-candidate").size());
        CPPUNIT_ASSERT_EQUAL(std::string("consultd-recorder"),
                             out.of(1, "ice-candidate").at(0)->getValue<std::string>("from"));
        rooms->onMessage(2, R"({"type":"offer","to":"consultd-recorder","sdp":"v=0"})");
        bool gotOffer = false;
        for (const auto& t : delivered) {
            auto m = parse(t);
            if (m->getValue<std::string>("type") == "offer") gotOffer = m->getValue<std::string>("from") == "pt";
        }
        CPPUNIT_ASSERT(gotOffer);
        // A second recorder with the same id is refused.
        CPPUNIT_ASSERT(!rooms->joinLocal("S", {"consultd-recorder", "R", "recorder"}, nullptr, nullptr, problem));
        rooms->leaveLocal(local->connection);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(1, "participant-left").size());
        CPPUNIT_ASSERT_EQUAL(0, backend.count("participant_left", "consultd-recorder"));
        CPPUNIT_ASSERT_EQUAL(0, closedCount);
        rooms->sendFromLocal(local->connection, R"({"type":"ice-candidate","to":"dr","candidate":{}})");  // ignored
        CPPUNIT_ASSERT_EQUAL(static_cast<std::size_t>(3 * limits.messagesPerSecond), out.of(1, "ice-candidate").size());
    }

    void localRecorderIsClosedWhenTheSessionEnds() {
        std::vector<std::string> delivered;
        std::uint16_t closeCode = 0;
        std::string problem;
        // Nobody in the room yet: the recorder makes it.
        auto local = rooms->joinLocal("S", {"consultd-recorder", "Recorder", "recorder"},
                                      [&](const std::string& t) { delivered.push_back(t); },
                                      [&](std::uint16_t code, const std::string&) { closeCode = code; }, problem);
        CPPUNIT_ASSERT(local);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, rooms->stats().rooms);
        rooms->onSessionStatus("S", "ended");
        CPPUNIT_ASSERT_EQUAL(kCloseNormal, closeCode);
        CPPUNIT_ASSERT_EQUAL(std::string("ended"), parse(delivered.back())->getValue<std::string>("type"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, rooms->stats().rooms);
        CPPUNIT_ASSERT(!rooms->joinLocal("S", {"consultd-recorder", "R", "recorder"}, nullptr, nullptr, problem));
        CPPUNIT_ASSERT_EQUAL(std::string("the session is closed"), problem);
        backend.sessions["S"].status = "active";
        CPPUNIT_ASSERT(!rooms->joinLocal("NOPE", {"consultd-recorder", "R", "recorder"}, nullptr, nullptr, problem));
    }

    void restEndClosesTheRoom() {
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(3, join("T", "x", "host"));
        rooms->onSessionStatus("S", "ended");
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(1, "ended").size());
        CPPUNIT_ASSERT_EQUAL(kCloseNormal, out.closed.at(1));
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, out.closed.count(3));  // other rooms untouched
        CPPUNIT_ASSERT(out.of(3, "ended").empty());
    }

    void waitingRoomHoldsNegotiationUntilStart() {
        backend.sessions["S"].status = "waiting";
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(2, join("S", "pt", "patient"));
        CPPUNIT_ASSERT_EQUAL(std::string("waiting"),
                             out.of(2, "joined").at(0)->getObject("session")->getValue<std::string>("status"));
        rooms->onMessage(1, R"({"type":"offer","to":"pt","sdp":"x"})");
        CPPUNIT_ASSERT_EQUAL(std::string("SESSION_NOT_ACTIVE"), out.lastError(1));
        CPPUNIT_ASSERT(out.of(2, "offer").empty());
        rooms->onSessionStatus("S", "active");
        CPPUNIT_ASSERT_EQUAL(std::string("active"), out.of(2, "session-state").at(0)->getValue<std::string>("status"));
        rooms->onMessage(1, R"({"type":"offer","to":"pt","sdp":"x"})");
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(2, "offer").size());
    }

    void chatAndMediaStateAreStored() {
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(2, join("S", "pt", "patient"));
        rooms->onMessage(1, R"({"type":"chat","text":"hello","from":"pt"})");
        CPPUNIT_ASSERT_EQUAL(std::string("dr"), out.of(2, "chat").at(0)->getValue<std::string>("from"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(1, "chat").size());  // the sender sees it too
        CPPUNIT_ASSERT_EQUAL(1, backend.count("chat", "dr"));
        rooms->onMessage(2, R"({"type":"media-state","audio":true,"video":false,"screen":false})");
        auto ms = out.of(1, "media-state").at(0);
        CPPUNIT_ASSERT(ms->getValue<bool>("audio"));
        CPPUNIT_ASSERT(!ms->getValue<bool>("video"));
        CPPUNIT_ASSERT_EQUAL(1, backend.count("media_state", "pt"));
        rooms->onMessage(3, join("S", "gu", "guest"));
        auto others = out.of(3, "joined").at(0)->getArray("participants");
        bool sawPatientAudio = false;
        for (std::size_t i = 0; i < others->size(); ++i) {
            if (others->getObject(i)->getValue<std::string>("id") == "pt") sawPatientAudio = others->getObject(i)->getValue<bool>("audio");
        }
        CPPUNIT_ASSERT(sawPatientAudio);

        limits.storeChat = false;
        make();
        rooms->onMessage(8, join("T", "x", "host"));
        rooms->onMessage(8, R"({"type":"chat","text":"not stored"})");
        CPPUNIT_ASSERT_EQUAL(0, backend.count("chat", "x"));
    }

    void disconnectIsALeave() {
        rooms->onMessage(1, join("S", "dr", "host"));
        rooms->onMessage(2, join("S", "pt", "patient"));
        rooms->onDisconnected(2);
        auto left = out.of(1, "participant-left");
        CPPUNIT_ASSERT_EQUAL(std::string("pt"), left.at(0)->getValue<std::string>("participant_id"));
        CPPUNIT_ASSERT_EQUAL(1, backend.count("participant_left", "pt"));
        rooms->onMessage(1, R"({"type":"leave"})");
        CPPUNIT_ASSERT_EQUAL(kCloseNormal, out.closed.at(1));
        CPPUNIT_ASSERT_EQUAL(1, backend.count("participant_left", "dr"));
        rooms->onDisconnected(1);
        CPPUNIT_ASSERT_EQUAL(1, backend.count("participant_left", "dr"));  // not twice
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, rooms->stats().rooms);
    }

    void storeDownAtJoinIsRetryable() {
        backend.storeDown = true;
        rooms->onMessage(1, join("S", "dr", "host"));
        CPPUNIT_ASSERT_EQUAL(std::string("UNAVAILABLE"), out.lastError(1));
        CPPUNIT_ASSERT_EQUAL(kCloseUnavailable, out.closed.at(1));
        backend.storeDown = false;
        rooms->onMessage(2, join("S", "dr", "host"));  // the reconnect gets in
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, out.of(2, "joined").size());
    }

    void messagesBeforeJoinAreRefused() {
        rooms->onMessage(1, R"({"type":"offer","to":"dr","sdp":"x"})");
        CPPUNIT_ASSERT_EQUAL(std::string("NOT_JOINED"), out.lastError(1));
        CPPUNIT_ASSERT_EQUAL(kClosePolicy, out.closed.at(1));
        rooms->onMessage(2, "not json");
        CPPUNIT_ASSERT_EQUAL(std::string("BAD_MESSAGE"), out.lastError(2));
        CPPUNIT_ASSERT(!rooms->joined(2));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SignalingRoomsTest);
