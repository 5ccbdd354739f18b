// RecordingCatalog: the rows and files of local recordings together, as the
// native recorder and a provider import use them: begin -> write -> complete,
// fail, delete (files gone, row kept as deleted, audited), and recovery at
// start of rows a crash left in "recording".
#include "recording/RecordingCatalog.h"

#include "store/Store.h"

#include <cppunit/extensions/HelperMacros.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

using namespace consultd;
using namespace consultd::recording;
namespace fs = std::filesystem;

namespace {

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "catalog-XXXXXX").string();
        path_ = ::mkdtemp(pattern.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::shared_ptr<const RecordingKey> testKey() {
    std::array<std::uint8_t, 32> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(7 * i + 1);
    return std::make_shared<const RecordingKey>(bytes);
}

std::unique_ptr<store::Store> openStore(const fs::path& dir) {
    store::StoreOptions options;
    options.path = (dir / "c.db").string();
    options.readConnections = 2;
    return store::Store::open(options);
}

std::vector<std::uint8_t> payload(std::size_t n) {
    std::vector<std::uint8_t> bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(i * 13);
    return bytes;
}

store::AuditRecord audit(const std::string& action) {
    store::AuditRecord entry;
    entry.actor = "test";
    entry.action = action;
    return entry;
}

NewRecording importOf(const std::string& sessionId) {
    NewRecording what;
    what.sessionId = sessionId;
    what.participantId = "pt-host";
    what.source = "import";
    what.container = "webm";
    what.externalId = "archive-9";
    return what;
}

}  // namespace

class RecordingCatalogTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RecordingCatalogTest);
    CPPUNIT_TEST(writeCompleteReadDelete);
    CPPUNIT_TEST(failKeepsEvidence);
    CPPUNIT_TEST(recoveryRepairsCompletesOrFails);
    CPPUNIT_TEST(noKeyMeansNoWriting);
    CPPUNIT_TEST_SUITE_END();

public:
    void writeCompleteReadDelete() {
        TempDir tmp;
        auto store = openStore(tmp.path());
        RecordingCatalog catalog(*store, tmp.path() / "recordings", testKey());
        CPPUNIT_ASSERT(!fs::exists(tmp.path() / "recordings"));  // never made by a mere reader (the CLI)
        CPPUNIT_ASSERT(catalog.ensureDir());
        CPPUNIT_ASSERT(fs::is_directory(tmp.path() / "recordings"));
        const auto row = catalog.begin(importOf("ses_a"), audit("recording.imported"));
        CPPUNIT_ASSERT(row.id.rfind("rec_", 0) == 0);
        CPPUNIT_ASSERT_EQUAL(std::string("recording"), row.status);
        CPPUNIT_ASSERT_EQUAL(row.id + ".webm", row.fileName);
        // A second import of the same archive is refused (idempotent import).
        CPPUNIT_ASSERT_THROW(catalog.begin(importOf("ses_a"), {}), store::Conflict);

        const auto data = payload(200000);
        {
            auto writer = catalog.openWriter(row);
            writer->write(data);
            writer->finish();
        }
        CPPUNIT_ASSERT(fs::exists(catalog.partialPath(row)));
        CompletedRecording done;
        done.durationMs = 4200;
        done.tracks = {"video/VP8", "audio/OPUS"};
        const auto available = catalog.complete(row.id, done, audit("recording.finished"));
        CPPUNIT_ASSERT(available);
        CPPUNIT_ASSERT_EQUAL(std::string("available"), available->status);
        CPPUNIT_ASSERT_EQUAL(static_cast<std::int64_t>(data.size()), available->bytes);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{4200}, available->durationMs);
        CPPUNIT_ASSERT(available->finishedAt > 0);
        CPPUNIT_ASSERT(!fs::exists(catalog.partialPath(row)));
        CPPUNIT_ASSERT(fs::exists(catalog.finalPath(row)));
        CPPUNIT_ASSERT(!catalog.complete(row.id, done, {}));  // only once

        auto reader = catalog.openReader(*available);
        std::vector<std::uint8_t> back(data.size());
        CPPUNIT_ASSERT_EQUAL(data.size(), reader->read(0, back));
        CPPUNIT_ASSERT(back == data);

        const auto deleted = catalog.remove(row.id, "deleted via test", audit("recording.deleted"));
        CPPUNIT_ASSERT(deleted);
        CPPUNIT_ASSERT_EQUAL(std::string("deleted"), deleted->status);
        CPPUNIT_ASSERT(!fs::exists(catalog.finalPath(row)));
        CPPUNIT_ASSERT(!catalog.remove(row.id, "again", {}));
        const auto trail = store->listAudit(0, 100);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, trail.size());
        CPPUNIT_ASSERT_EQUAL(row.id, trail[2].target);
        CPPUNIT_ASSERT_EQUAL(std::string("recording.deleted"), trail[2].action);
    }

    void failKeepsEvidence() {
        TempDir tmp;
        auto store = openStore(tmp.path());
        RecordingCatalog catalog(*store, tmp.path(), testKey());
        NewRecording what;
        what.sessionId = "ses_b";
        what.participantId = "pt-1";
        what.container = "matroska";
        const auto row = catalog.begin(what, {});
        CPPUNIT_ASSERT_EQUAL(row.id + ".mkv", row.fileName);
        CPPUNIT_ASSERT_THROW(catalog.remove(row.id, "x", {}), RecordingError);  // still recording
        const auto failed = catalog.fail(row.id, "disk full", audit("recording.failed"));
        CPPUNIT_ASSERT(failed);
        CPPUNIT_ASSERT_EQUAL(std::string("failed"), failed->status);
        CPPUNIT_ASSERT_EQUAL(std::string("disk full"), failed->reason);
        CPPUNIT_ASSERT(catalog.remove(row.id, "cleanup", {}));
        CPPUNIT_ASSERT_EQUAL(std::string("video/x-matroska"), RecordingCatalog::contentType("matroska"));
        CPPUNIT_ASSERT_EQUAL(std::string("video/webm"), RecordingCatalog::contentType("webm"));
    }

    void recoveryRepairsCompletesOrFails() {
        TempDir tmp;
        auto store = openStore(tmp.path());
        RecordingCatalog catalog(*store, tmp.path(), testKey());
        NewRecording what;
        what.sessionId = "ses_c";
        // 1: cut writer (never finished) -> repaired.
        const auto cut = catalog.begin(what, {});
        {
            auto writer = catalog.openWriter(cut);
            writer->write(payload(150000));
            writer->flush();
        }  // destroyed unfinished, as after a crash
        // 2: finished and renamed, row not updated -> completed.
        const auto renamed = catalog.begin(what, {});
        {
            auto writer = catalog.openWriter(renamed);
            writer->write(payload(1000));
            writer->finish();
        }
        fs::rename(catalog.partialPath(renamed), catalog.finalPath(renamed));
        // 3: no file at all -> failed.
        const auto nothing = catalog.begin(what, {});

        const auto report = catalog.recoverInterrupted();
        CPPUNIT_ASSERT_EQUAL(1, report.repaired);
        CPPUNIT_ASSERT_EQUAL(1, report.completed);
        CPPUNIT_ASSERT_EQUAL(1, report.failed);
        const auto repaired = *catalog.rows().find(cut.id);
        CPPUNIT_ASSERT_EQUAL(std::string("available"), repaired.status);
        CPPUNIT_ASSERT(repaired.reason.find("recovered") != std::string::npos);
        CPPUNIT_ASSERT(repaired.bytes > 0);
        CPPUNIT_ASSERT(catalog.openReader(repaired)->size() > 0);
        CPPUNIT_ASSERT_EQUAL(std::string("available"), catalog.rows().find(renamed.id)->status);
        const auto failed = *catalog.rows().find(nothing.id);
        CPPUNIT_ASSERT_EQUAL(std::string("failed"), failed.status);
        CPPUNIT_ASSERT(failed.reason.find("no file") != std::string::npos);
        CPPUNIT_ASSERT(catalog.rows().listByStatus("recording", 10).empty());
        // Every change is audited.
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, store->listAudit(0, 100).size());
        // Idempotent.
        CPPUNIT_ASSERT_EQUAL(0, catalog.recoverInterrupted().failed);
    }

    void noKeyMeansNoWriting() {
        TempDir tmp;
        auto store = openStore(tmp.path());
        RecordingCatalog catalog(*store, tmp.path(), nullptr);
        CPPUNIT_ASSERT(!catalog.hasKey());
        NewRecording what;
        what.sessionId = "ses_d";
        const auto row = catalog.begin(what, {});
        CPPUNIT_ASSERT_THROW(catalog.openWriter(row), RecordingError);
        CPPUNIT_ASSERT(catalog.fail(row.id, "no key", {}));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RecordingCatalogTest);
