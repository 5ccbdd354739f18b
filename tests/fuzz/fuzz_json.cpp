// libFuzzer target: what a request body goes through before a route acts on
// it: the JSON parser, the field readers the session routes use, RFC 3339
// times and paging cursors. Any input must end in values or a 4xx ApiError.
#include "core/ApiError.h"
#include "http/Json.h"
#include "util/Time.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    (void)consultd::util::parseRfc3339(text);
    (void)consultd::http::decodeCursor(text);
    Poco::JSON::Object::Ptr object;
    try {
        Poco::JSON::Parser parser;
        auto parsed = parser.parse(text);
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return 0;
        object = parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
        return 0;  // the route answers 400 MALFORMED_JSON
    }
    try {
        consultd::http::FieldReader in(object);
        in.rejectUnknown({"consultation_id", "mode", "scheduled_at", "host", "participants", "record", "metadata"});
        in.string("consultation_id", true, 128);
        in.oneOf("mode", {"video", "voice", "chat"}, false);
        in.time("scheduled_at");
        in.boolean("record");
        if (auto host = in.object("host", true)) {
            auto h = in.nested(host, "host.");
            h.string("id", true, 128, consultd::http::kIdPattern);
            h.string("email", false, 254, R"([^@\s]+@[^@\s]+)");
        }
        if (auto list = in.array("participants", 9)) {
            for (std::size_t i = 0; i < list->size(); ++i) {
                if (auto item = list->getObject(static_cast<unsigned>(i))) {
                    auto p = in.nested(item, "participants[" + std::to_string(i) + "].");
                    p.string("id", true, 128, consultd::http::kIdPattern);
                    p.integer("n", 0, 100);
                }
            }
        }
        in.object("metadata", false);
        in.finish();
    } catch (const consultd::core::ApiError& e) {
        if (e.status() < 400 || e.status() >= 500) __builtin_trap();  // a client's input is never a 5xx
    }
    return 0;
}
