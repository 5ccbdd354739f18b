#include "http/Router.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace consultd::http;

namespace {
class Named final : public Route {
public:
    void handle(Request&, Response&) override {}
};
}  // namespace

class RouterTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RouterTest);
    CPPUNIT_TEST(matchesLiteralAndParameters);
    CPPUNIT_TEST(reportsAllowedMethods);
    CPPUNIT_TEST(noMatchForOtherShapes);
    CPPUNIT_TEST(headMatchesGet);
    CPPUNIT_TEST(restParameterTakesRemainingSegments);
    CPPUNIT_TEST_SUITE_END();

    Router router_;

public:
    void setUp() override {
        router_ = Router();
        router_.add("POST", "/api/v1/sessions", "sessions:write", std::make_unique<Named>());
        router_.add("GET", "/api/v1/sessions/{id}", "sessions:read", std::make_unique<Named>());
        router_.add("POST", "/api/v1/sessions/{id}/start", "sessions:write", std::make_unique<Named>());
    }

    void matchesLiteralAndParameters() {
        auto m = router_.match("GET", "/api/v1/sessions/ses_abc");
        CPPUNIT_ASSERT(m.entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("/api/v1/sessions/{id}"), m.entry->pattern);
        CPPUNIT_ASSERT_EQUAL(std::string("ses_abc"), m.params["id"]);
        m = router_.match("POST", "/api/v1/sessions/ses_abc/start");
        CPPUNIT_ASSERT(m.entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("sessions:write"), m.entry->scope);
    }

    void reportsAllowedMethods() {
        auto m = router_.match("DELETE", "/api/v1/sessions/x");
        CPPUNIT_ASSERT(m.entry == nullptr);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, m.allowedMethods.size());
        CPPUNIT_ASSERT_EQUAL(std::string("GET"), m.allowedMethods[0]);
    }

    void noMatchForOtherShapes() {
        CPPUNIT_ASSERT(router_.match("GET", "/api/v1/sessions/x/y/z").entry == nullptr);
        CPPUNIT_ASSERT(router_.match("GET", "/api/v2/sessions/x").entry == nullptr);
        CPPUNIT_ASSERT(router_.match("GET", "/").entry == nullptr);
        CPPUNIT_ASSERT(router_.match("GET", "/api/v1/sessions/x/start").allowedMethods.size() == 1);
    }

    void headMatchesGet() { CPPUNIT_ASSERT(router_.match("HEAD", "/api/v1/sessions/x").entry != nullptr); }

    void restParameterTakesRemainingSegments() {
        router_.add("GET", "/static/{*path}", "", std::make_unique<Named>());
        auto m = router_.match("GET", "/static/common/base.css");
        CPPUNIT_ASSERT(m.entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("common/base.css"), m.params["path"]);
        m = router_.match("GET", "/static/a.js");
        CPPUNIT_ASSERT(m.entry != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("a.js"), m.params["path"]);
        // At least one segment: the bare prefix is not a file.
        CPPUNIT_ASSERT(router_.match("GET", "/static").entry == nullptr);
        CPPUNIT_ASSERT(router_.match("GET", "/static/").entry == nullptr);
        CPPUNIT_ASSERT(router_.match("GET", "/other/a.js").entry == nullptr);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RouterTest);
