#include "core/ApiError.h"
#include "http/Json.h"

#include <Poco/JSON/Parser.h>
#include <cppunit/extensions/HelperMacros.h>

using namespace consultd;
using http::FieldReader;

namespace {
Poco::JSON::Object::Ptr parse(const std::string& text) {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}
}  // namespace

class JsonTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JsonTest);
    CPPUNIT_TEST(collectsEveryFieldProblem);
    CPPUNIT_TEST(acceptsValidFields);
    CPPUNIT_TEST(cursorRoundTripAndRejectsGarbage);
    CPPUNIT_TEST_SUITE_END();

public:
    void collectsEveryFieldProblem() {
        FieldReader in(parse(R"({"a": 1, "b": "x", "when": "yesterday", "n": 500, "extra": true, "host": {"id": "a b"}})"));
        in.rejectUnknown({"a", "b", "when", "n", "host"});
        in.string("a", true, 10);
        in.oneOf("b", {"y", "z"}, true);
        in.time("when");
        in.integer("n", 0, 100);
        in.string("missing", true, 10);
        auto host = in.object("host", true);
        FieldReader h = in.nested(host, "host.");
        h.string("id", true, 128, http::kIdPattern);
        try {
            in.finish();
            CPPUNIT_FAIL("no 422");
        } catch (const core::ApiError& e) {
            CPPUNIT_ASSERT_EQUAL(422, e.status());
            CPPUNIT_ASSERT_EQUAL(std::string("fields"), e.detailsKey());
            for (const char* field : {"a", "b", "when", "n", "missing", "extra", "host.id"}) {
                CPPUNIT_ASSERT_MESSAGE(field, e.details().count(field) == 1);
            }
        }
    }

    void acceptsValidFields() {
        FieldReader in(parse(R"({"a": "ok", "t": "2026-11-23T14:00:00Z", "b": false})"));
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), *in.string("a", true, 10));
        CPPUNIT_ASSERT(in.time("t").has_value());
        CPPUNIT_ASSERT_EQUAL(false, *in.boolean("b"));
        in.finish();
    }

    void cursorRoundTripAndRejectsGarbage() {
        CPPUNIT_ASSERT_EQUAL(std::int64_t{42}, *http::decodeCursor(http::encodeCursor(42)));
        CPPUNIT_ASSERT(!http::decodeCursor("42"));
        CPPUNIT_ASSERT(!http::decodeCursor("c4x"));
        CPPUNIT_ASSERT(!http::decodeCursor("c"));
        CPPUNIT_ASSERT(!http::decodeCursor("c99999999999999999999999"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JsonTest);
