#pragma once
// Type-strict claim accessors for the unit tests: a claim that exists with
// the wrong JSON type fails the test, because Jitsi breaks on exactly that.

#include <Poco/JSON/Object.h>
#include <cppunit/extensions/HelperMacros.h>

#include <cstdint>
#include <string>

namespace consultd::testing {

inline std::string stringClaim(const Poco::JSON::Object::Ptr& object, const std::string& name) {
    CPPUNIT_ASSERT_MESSAGE("missing claim " + name, object->has(name));
    const Poco::Dynamic::Var value = object->get(name);
    CPPUNIT_ASSERT_MESSAGE(name + " must be a JSON string", value.isString());
    return value.extract<std::string>();
}

inline std::int64_t integerClaim(const Poco::JSON::Object::Ptr& object, const std::string& name) {
    CPPUNIT_ASSERT_MESSAGE("missing claim " + name, object->has(name));
    const Poco::Dynamic::Var value = object->get(name);
    CPPUNIT_ASSERT_MESSAGE(name + " must be a JSON integer", value.isInteger() && !value.isBoolean());
    return value.convert<std::int64_t>();
}

inline Poco::JSON::Object::Ptr objectClaim(const Poco::JSON::Object::Ptr& object,
                                           const std::string& name) {
    CPPUNIT_ASSERT_MESSAGE("missing claim " + name, object->has(name));
    Poco::JSON::Object::Ptr child = object->getObject(name);
    CPPUNIT_ASSERT_MESSAGE(name + " must be a JSON object", !child.isNull());
    return child;
}

}  // namespace consultd::testing
