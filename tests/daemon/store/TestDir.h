#pragma once
// Helpers shared by the store suites: a private temp directory per test and
// direct sqlite3 access that bypasses the Store (to inspect or tamper).

#include "store/Store.h"

#include <cstdint>
#include <memory>
#include <string>

namespace consultd::store::test {

/// mkdtemp() directory, removed with its contents on destruction.
class TestDir {
public:
    TestDir();
    ~TestDir();
    TestDir(const TestDir&) = delete;
    TestDir& operator=(const TestDir&) = delete;

    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

/// Opens a Store on `path` with small, test-friendly options.
std::unique_ptr<Store> openStore(const std::string& path, int maxBatch = 256);

/// Runs SQL on a fresh, separate sqlite3 connection (not the Store's).
void rawExec(const std::string& dbPath, const std::string& sql);
/// Runs a query on a separate connection, returns column 0 of row 1 as text.
std::string rawQuery(const std::string& dbPath, const std::string& sql);

/// A valid scheduled session with a host and a patient.
SessionRecord sampleSession(const std::string& id, const std::string& consultationId,
                            const std::string& status = "scheduled");
/// An audit entry with the given action and target.
AuditRecord sampleAudit(const std::string& action, const std::string& target = "");

}  // namespace consultd::store::test
