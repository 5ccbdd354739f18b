#pragma once
// JSON helpers shared by routes: field validation collecting every problem
// (422 names each field) and the rendering of API objects.

#include "consultd/provider.h"
#include "core/SessionService.h"
#include "store/RecordingStore.h"
#include "store/Store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <map>
#include <optional>
#include <string>

namespace consultd::http {

/// Reads typed fields from a JSON object, recording a problem per bad field;
/// finish() throws one 422 VALIDATION_FAILED naming every field.
class FieldReader {
public:
    explicit FieldReader(Poco::JSON::Object::Ptr object, std::string prefix = "");

    /// Required or optional string; `maxLength` in bytes; `pattern` a
    /// regex the value must match fully (empty = any).
    std::optional<std::string> string(const std::string& name, bool required, std::size_t maxLength,
                                      const std::string& pattern = "", const std::string& patternHelp = "");
    std::optional<bool> boolean(const std::string& name);
    std::optional<std::int64_t> integer(const std::string& name, std::int64_t min, std::int64_t max);
    /// RFC 3339 time as Unix ms.
    std::optional<std::int64_t> time(const std::string& name);
    Poco::JSON::Object::Ptr object(const std::string& name, bool required);
    Poco::JSON::Array::Ptr array(const std::string& name, std::size_t maxItems);
    /// The string must be one of `values`.
    std::optional<std::string> oneOf(const std::string& name, const std::vector<std::string>& values, bool required);
    /// Rejects members not in `known` (a typo in a field name must not pass silently).
    void rejectUnknown(const std::vector<std::string>& known);

    void fail(const std::string& name, const std::string& problem);
    std::map<std::string, std::string>& problems() { return *problems_; }
    /// A reader for a nested object sharing this reader's problem list.
    FieldReader nested(Poco::JSON::Object::Ptr object, const std::string& prefix);
    void finish() const;

private:
    FieldReader(Poco::JSON::Object::Ptr object, std::string prefix, std::shared_ptr<std::map<std::string, std::string>> problems);
    std::string full(const std::string& name) const { return prefix_ + name; }

    Poco::JSON::Object::Ptr object_;
    std::string prefix_;
    std::shared_ptr<std::map<std::string, std::string>> problems_;
};

/// The pattern for integrator-supplied ids (participants, devices).
inline const char* kIdPattern = "[A-Za-z0-9._:@-]{1,128}";

Poco::JSON::Object::Ptr sessionJson(const store::SessionRecord& session);
Poco::JSON::Object::Ptr eventJson(const store::EventRecord& event);
Poco::JSON::Object::Ptr iceServerJson(const IceServer& server);
/// A recording as GET /recordings shows it (never the file name or path).
Poco::JSON::Object::Ptr recordingJson(const store::RecordingRecord& recording);
/// Parses a JSON object text stored in the database (never fails: "{}" on error).
Poco::JSON::Object::Ptr parseStoredObject(const std::string& text);
/// Opaque paging cursor for a sequence number, and back.
std::string encodeCursor(std::int64_t seq);
std::optional<std::int64_t> decodeCursor(const std::string& cursor);

}  // namespace consultd::http
