// Unit tests for the encrypted recording container: round trips through the
// real writer and reader, every single-byte tamper, every truncation point,
// chunk reordering, wrong keys, Range reads at arbitrary offsets, crash
// recovery by repair, and a write failure from the file-size limit.
#include "recording/EncryptedRecordingReader.h"
#include "recording/EncryptedRecordingWriter.h"
#include "recording/RecordingRepair.h"

#include <cppunit/extensions/HelperMacros.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace consultd::recording;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

RecordingKey keyFromSeed(std::uint8_t seed) {
    std::array<std::uint8_t, 32> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(seed * 31 + i);
    return RecordingKey(bytes);
}

Bytes randomBytes(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    Bytes out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
    return out;
}

Bytes readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeFile(const fs::path& p, const Bytes& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

Bytes readAll(EncryptedRecordingReader& reader) {
    Bytes out(reader.size());
    std::size_t n = reader.read(0, out);
    CPPUNIT_ASSERT_EQUAL(out.size(), n);
    return out;
}

// Opens and reads everything; returns the error kind, or nullopt if it all verified.
std::optional<RecordingErrorKind> openAndReadAll(const fs::path& p, const RecordingKey& key) {
    try {
        EncryptedRecordingReader reader(p.string(), key);
        reader.verifyAll();
        readAll(reader);
        return std::nullopt;
    } catch (const RecordingError& e) {
        return e.kind();
    }
}

struct TempDir {
    fs::path path;
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "cdrec-test-XXXXXX").string();
        path = ::mkdtemp(templ.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// Writes `data` in pieces of random size (1..max) as a muxer would.
void writeInPieces(EncryptedRecordingWriter& w, const Bytes& data, std::size_t maxPiece, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::size_t off = 0;
    while (off < data.size()) {
        std::size_t n = std::min<std::size_t>(data.size() - off, 1 + rng() % maxPiece);
        w.write(std::span(data.data() + off, n));
        off += n;
    }
}

}  // namespace

class RecordingCryptoTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RecordingCryptoTest);
    CPPUNIT_TEST(roundTripAtChunkBoundaries);
    CPPUNIT_TEST(seekBackPatchesSealedAndTailChunks);
    CPPUNIT_TEST(rangeReadsAtArbitraryOffsets);
    CPPUNIT_TEST(wrongKeyIsReportedAsWrongKey);
    CPPUNIT_TEST(everySingleByteTamperIsDetected);
    CPPUNIT_TEST(everyTruncationIsDetected);
    CPPUNIT_TEST(reorderedAndDuplicatedChunksAreDetected);
    CPPUNIT_TEST(noncesAreNeverReused);
    CPPUNIT_TEST(abandonedWriterIsTruncatedAndRepairable);
    CPPUNIT_TEST(repairDropsGarbageAndRefusesEmptyOrForeignFiles);
    CPPUNIT_TEST(keyFilesRawHexAndPermissions);
    CPPUNIT_TEST(existingFileIsNotOverwritten);
    CPPUNIT_TEST(fileSizeLimitFailsTheWriterCleanly);
    CPPUNIT_TEST_SUITE_END();

public:
    void roundTripAtChunkBoundaries() {
        TempDir dir;
        const auto key = keyFromSeed(1);
        const std::uint32_t chunk = 1000;
        for (std::size_t size : {0ul, 1ul, 999ul, 1000ul, 1001ul, 2000ul, 3500ul, 65537ul}) {
            auto file = dir.path / ("rt-" + std::to_string(size));
            Bytes data = randomBytes(size, static_cast<std::uint32_t>(size));
            {
                EncryptedRecordingWriter w(file.string(), key, {chunk, std::chrono::milliseconds(0)});
                writeInPieces(w, data, 777, 7);
                CPPUNIT_ASSERT_EQUAL(std::uint64_t{size}, w.size());
                w.finish();
                CPPUNIT_ASSERT(w.finished());
            }
            EncryptedRecordingReader r(file.string(), key);
            CPPUNIT_ASSERT_EQUAL(std::uint64_t{size}, r.size());
            r.verifyAll();
            CPPUNIT_ASSERT(readAll(r) == data);
            // The layout is exactly header + full slots + final slot.
            std::uint64_t full = size / chunk;
            std::uint64_t expected = kHeaderSize + full * (chunk + kSlotOverhead) + kSlotOverhead + size % chunk;
            CPPUNIT_ASSERT_EQUAL(expected, static_cast<std::uint64_t>(fs::file_size(file)));
            // Nothing of the plaintext shows through.
            if (size >= 64) {
                Bytes raw = readFile(file);
                auto it = std::search(raw.begin(), raw.end(), data.begin(), data.begin() + 32);
                CPPUNIT_ASSERT(it == raw.end());
            }
        }
    }

    void seekBackPatchesSealedAndTailChunks() {
        TempDir dir;
        const auto key = keyFromSeed(2);
        auto file = dir.path / "patch";
        Bytes data = randomBytes(5300, 3);
        Bytes expected = data;
        {
            EncryptedRecordingWriter w(file.string(), key, {1000, std::chrono::milliseconds(0)});
            w.write(data);
            // Patch inside a sealed chunk, across a sealed/sealed boundary,
            // across sealed/tail, inside the tail (like matroskamux's size fix-ups).
            for (std::uint64_t at : {10ul, 995ul, 4990ul, 5100ul, 0ul}) {
                Bytes patch = randomBytes(12, static_cast<std::uint32_t>(at));
                w.seek(at);
                w.write(patch);
                std::copy(patch.begin(), patch.end(), expected.begin() + static_cast<long>(at));
            }
            // Back to the end and continue appending, then write past the end (gap of zeros).
            w.seek(5300);
            Bytes more = randomBytes(500, 9);
            w.write(more);
            expected.insert(expected.end(), more.begin(), more.end());
            w.seek(7000);
            Bytes far = randomBytes(10, 10);
            w.write(far);
            expected.resize(7000, 0);
            expected.insert(expected.end(), far.begin(), far.end());
            w.finish();
        }
        EncryptedRecordingReader r(file.string(), key);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{expected.size()}, r.size());
        CPPUNIT_ASSERT(readAll(r) == expected);
    }

    void rangeReadsAtArbitraryOffsets() {
        TempDir dir;
        const auto key = keyFromSeed(3);
        auto file = dir.path / "range";
        Bytes data = randomBytes(200'000, 11);
        {
            EncryptedRecordingWriter w(file.string(), key, {4096, std::chrono::milliseconds(1000)});
            writeInPieces(w, data, 5000, 12);
            w.finish();
        }
        EncryptedRecordingReader r(file.string(), key);
        std::mt19937 rng(13);
        for (int i = 0; i < 500; ++i) {
            std::uint64_t off = rng() % (data.size() + 100);
            std::size_t len = rng() % 20000;
            Bytes out(len);
            std::size_t n = r.read(off, out);
            std::size_t expectedN = off >= data.size() ? 0 : std::min<std::size_t>(len, data.size() - off);
            CPPUNIT_ASSERT_EQUAL(expectedN, n);
            CPPUNIT_ASSERT(std::equal(out.begin(), out.begin() + static_cast<long>(n),
                                      data.begin() + static_cast<long>(std::min<std::uint64_t>(off, data.size()))));
        }
        // The last byte, a chunk boundary, and an empty read.
        Bytes one(1);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, r.read(data.size() - 1, one));
        CPPUNIT_ASSERT_EQUAL(data.back(), one[0]);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, r.read(4096, one));
        CPPUNIT_ASSERT_EQUAL(data[4096], one[0]);
        CPPUNIT_ASSERT_EQUAL(std::size_t{0}, r.read(data.size(), one));
    }

    void wrongKeyIsReportedAsWrongKey() {
        TempDir dir;
        auto file = dir.path / "wk";
        {
            EncryptedRecordingWriter w(file.string(), keyFromSeed(4));
            w.write(randomBytes(100, 1));
            w.finish();
        }
        CPPUNIT_ASSERT(openAndReadAll(file, keyFromSeed(5)) == RecordingErrorKind::WrongKey);
        // A key forged to carry the right id is impossible; but if the header's
        // key id is edited to match another key, authentication still fails.
        Bytes raw = readFile(file);
        auto other = keyFromSeed(5);
        std::copy(other.id().begin(), other.id().end(), raw.begin() + 16);
        writeFile(file, raw);
        CPPUNIT_ASSERT(openAndReadAll(file, other) == RecordingErrorKind::Tampered);
        CPPUNIT_ASSERT(openAndReadAll(file, keyFromSeed(4)) == RecordingErrorKind::WrongKey);
    }

    void everySingleByteTamperIsDetected() {
        TempDir dir;
        const auto key = keyFromSeed(6);
        auto file = dir.path / "tamper";
        {
            EncryptedRecordingWriter w(file.string(), key, {64, std::chrono::milliseconds(0)});
            w.write(randomBytes(64 * 3 + 20, 2));
            w.finish();
        }
        const Bytes original = readFile(file);
        CPPUNIT_ASSERT(!openAndReadAll(file, key));
        auto tampered = dir.path / "t";
        for (std::size_t i = 0; i < original.size(); ++i) {
            for (std::uint8_t flip : {0x01, 0x80}) {
                Bytes raw = original;
                raw[i] ^= flip;
                writeFile(tampered, raw);
                auto result = openAndReadAll(tampered, key);
                if (!result)
                    CPPUNIT_FAIL("flipping bit " + std::to_string(flip) + " of byte " + std::to_string(i) +
                                 " went unnoticed");
            }
        }
    }

    void everyTruncationIsDetected() {
        TempDir dir;
        const auto key = keyFromSeed(7);
        auto file = dir.path / "trunc";
        {
            EncryptedRecordingWriter w(file.string(), key, {64, std::chrono::milliseconds(0)});
            w.write(randomBytes(64 * 4, 3));  // exact multiple: final chunk is empty
            w.finish();
        }
        const Bytes original = readFile(file);
        auto cut = dir.path / "cut";
        for (std::size_t len = 0; len < original.size(); ++len) {
            writeFile(cut, Bytes(original.begin(), original.begin() + static_cast<long>(len)));
            auto result = openAndReadAll(cut, key);
            if (!result) CPPUNIT_FAIL("truncation to " + std::to_string(len) + " bytes went unnoticed");
            // Cuts at slot boundaries look like a complete file but for the final flag.
            if (len > kHeaderSize && (len - kHeaderSize) % (64 + kSlotOverhead) == 0)
                CPPUNIT_ASSERT(*result == RecordingErrorKind::Truncated);
        }
        // Appending anything after the final chunk is also refused.
        Bytes longer = original;
        longer.push_back(0);
        writeFile(cut, longer);
        CPPUNIT_ASSERT(openAndReadAll(cut, key).has_value());
    }

    void reorderedAndDuplicatedChunksAreDetected() {
        TempDir dir;
        const auto key = keyFromSeed(8);
        auto file = dir.path / "order";
        const std::size_t stride = 64 + kSlotOverhead;
        {
            EncryptedRecordingWriter w(file.string(), key, {64, std::chrono::milliseconds(0)});
            w.write(randomBytes(64 * 3 + 5, 4));
            w.finish();
        }
        const Bytes original = readFile(file);
        auto slot = [&](const Bytes& b, std::size_t i) {
            auto from = b.begin() + static_cast<long>(kHeaderSize + i * stride);
            return Bytes(from, from + static_cast<long>(stride));
        };
        auto put = [&](Bytes& b, std::size_t i, const Bytes& s) {
            std::copy(s.begin(), s.end(), b.begin() + static_cast<long>(kHeaderSize + i * stride));
        };
        auto swapped = original;
        put(swapped, 0, slot(original, 1));
        put(swapped, 1, slot(original, 0));
        writeFile(dir.path / "swap", swapped);
        CPPUNIT_ASSERT(openAndReadAll(dir.path / "swap", key) == RecordingErrorKind::Tampered);
        auto duplicated = original;
        put(duplicated, 2, slot(original, 1));
        writeFile(dir.path / "dup", duplicated);
        CPPUNIT_ASSERT(openAndReadAll(dir.path / "dup", key) == RecordingErrorKind::Tampered);
        // A chunk taken from another recording under the same key does not fit either.
        auto file2 = dir.path / "other";
        {
            EncryptedRecordingWriter w(file2.string(), key, {64, std::chrono::milliseconds(0)});
            w.write(randomBytes(64 * 3 + 5, 4));
            w.finish();
        }
        auto mixed = original;
        put(mixed, 1, slot(readFile(file2), 1));
        writeFile(dir.path / "mixed", mixed);
        CPPUNIT_ASSERT(openAndReadAll(dir.path / "mixed", key) == RecordingErrorKind::Tampered);
    }

    void noncesAreNeverReused() {
        TempDir dir;
        const auto key = keyFromSeed(9);
        auto a = dir.path / "a";
        auto b = dir.path / "b";
        Bytes data = randomBytes(300, 5);
        for (const auto& f : {a, b}) {
            EncryptedRecordingWriter w(f.string(), key, {100, std::chrono::milliseconds(0)});
            w.write(data);
            for (int i = 0; i < 5; ++i) {  // rewrite sealed chunk 0 repeatedly
                w.seek(3);
                w.write(std::span(data.data(), 4));
            }
            w.finish();
        }
        Bytes ra = readFile(a), rb = readFile(b);
        // Different random nonce prefix per file, so equal plaintext encrypts differently.
        CPPUNIT_ASSERT(!std::equal(ra.begin() + 24, ra.begin() + 32, rb.begin() + 24));
        CPPUNIT_ASSERT(!std::equal(ra.begin() + kHeaderSize, ra.end(), rb.begin() + kHeaderSize));
        // Sequence numbers of the surviving slots are distinct, and chunk 0's is
        // the latest one, after five rewrites.
        std::set<std::uint32_t> seqs;
        const std::size_t stride = 100 + kSlotOverhead;
        for (std::size_t off = kHeaderSize; off + kSlotOverhead <= ra.size(); off += stride) {
            std::uint32_t seq = (ra[off + 4] << 24) | (ra[off + 5] << 16) | (ra[off + 6] << 8) | ra[off + 7];
            CPPUNIT_ASSERT(seqs.insert(seq).second);
        }
        std::uint32_t seq0 = (ra[kHeaderSize + 6] << 8) | ra[kHeaderSize + 7];
        CPPUNIT_ASSERT(seq0 >= 5);
    }

    void abandonedWriterIsTruncatedAndRepairable() {
        TempDir dir;
        const auto key = keyFromSeed(10);
        auto file = dir.path / "crash.webm.partial";
        Bytes data = randomBytes(2500, 6);
        {
            EncryptedRecordingWriter w(file.string(), key, {1000, std::chrono::hours(1)});
            w.write(data);
            w.flush();  // what the interval timer does while recording
            // no finish(): the process "dies" here
        }
        CPPUNIT_ASSERT(openAndReadAll(file, key) == RecordingErrorKind::Truncated);
        RepairReport report = repairEncryptedRecording(file.string(), key);
        CPPUNIT_ASSERT(report.outcome == RepairReport::Outcome::Repaired);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2500}, report.plaintextBytes);
        EncryptedRecordingReader r(file.string(), key);
        CPPUNIT_ASSERT(readAll(r) == data);
        // Repairing again changes nothing.
        CPPUNIT_ASSERT(repairEncryptedRecording(file.string(), key).outcome ==
                       RepairReport::Outcome::AlreadyComplete);

        // A writer destroyed without finish() (an exception unwinding the
        // recorder) flushes its tail, so nothing written is lost either.
        auto file2 = dir.path / "crash2";
        {
            EncryptedRecordingWriter w(file2.string(), key, {1000, std::chrono::hours(1)});
            w.write(data);
        }
        CPPUNIT_ASSERT(openAndReadAll(file2, key) == RecordingErrorKind::Truncated);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2500}, repairEncryptedRecording(file2.string(), key).plaintextBytes);

        // A crash in the middle of the tail slot (cut inside it) keeps the full chunks.
        Bytes raw = readFile(file);
        auto file3 = dir.path / "crash3";
        writeFile(file3, Bytes(raw.begin(), raw.end() - 7));
        report = repairEncryptedRecording(file3.string(), key);
        CPPUNIT_ASSERT(report.outcome == RepairReport::Outcome::Repaired);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2000}, report.plaintextBytes);
        EncryptedRecordingReader r3(file3.string(), key);
        CPPUNIT_ASSERT(readAll(r3) == Bytes(data.begin(), data.begin() + 2000));
    }

    void repairDropsGarbageAndRefusesEmptyOrForeignFiles() {
        TempDir dir;
        const auto key = keyFromSeed(11);
        auto file = dir.path / "g";
        Bytes data = randomBytes(1500, 7);
        {
            EncryptedRecordingWriter w(file.string(), key, {1000, std::chrono::milliseconds(0)});
            w.write(data);
            w.finish();
        }
        Bytes raw = readFile(file);
        raw.insert(raw.end(), 100, 0xAB);
        writeFile(file, raw);
        CPPUNIT_ASSERT(openAndReadAll(file, key).has_value());
        auto report = repairEncryptedRecording(file.string(), key);
        CPPUNIT_ASSERT(report.outcome == RepairReport::Outcome::Repaired);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{100}, report.droppedBytes);
        CPPUNIT_ASSERT(!openAndReadAll(file, key));

        // Header only: nothing to recover, the file is left as is.
        auto empty = dir.path / "e";
        {
            EncryptedRecordingWriter w(empty.string(), key);
            w.flush();
        }
        CPPUNIT_ASSERT_EQUAL(std::uintmax_t{kHeaderSize}, fs::file_size(empty));
        CPPUNIT_ASSERT(repairEncryptedRecording(empty.string(), key).outcome ==
                       RepairReport::Outcome::Unrecoverable);
        // Not a recording at all.
        writeFile(dir.path / "junk", randomBytes(500, 8));
        CPPUNIT_ASSERT(repairEncryptedRecording((dir.path / "junk").string(), key).outcome ==
                       RepairReport::Outcome::Unrecoverable);
        CPPUNIT_ASSERT(openAndReadAll(dir.path / "junk", key) == RecordingErrorKind::BadHeader);
        // Another key: an error, never a "repair" that would destroy the file.
        try {
            repairEncryptedRecording(file.string(), keyFromSeed(12));
            CPPUNIT_FAIL("repair with the wrong key must throw");
        } catch (const RecordingError& e) {
            CPPUNIT_ASSERT(e.kind() == RecordingErrorKind::WrongKey);
        }
    }

    void keyFilesRawHexAndPermissions() {
        TempDir dir;
        Bytes raw = randomBytes(32, 9);
        writeFile(dir.path / "raw", raw);
        ::chmod((dir.path / "raw").c_str(), 0600);
        bool tooOpen = true;
        auto k1 = RecordingKey::loadFromFile((dir.path / "raw").string(), &tooOpen);
        CPPUNIT_ASSERT(!tooOpen);
        CPPUNIT_ASSERT(std::equal(raw.begin(), raw.end(), k1.bytes().begin()));
        std::string hex;
        for (auto b : raw) {
            static const char* digits = "0123456789abcdef";
            hex += digits[b >> 4];
            hex += digits[b & 15];
        }
        hex += "\n";
        writeFile(dir.path / "hex", Bytes(hex.begin(), hex.end()));
        ::chmod((dir.path / "hex").c_str(), 0644);
        auto k2 = RecordingKey::loadFromFile((dir.path / "hex").string(), &tooOpen);
        CPPUNIT_ASSERT(tooOpen);
        // 0640 with the process's own group (root:consultd for the package) is fine.
        ::chown((dir.path / "hex").c_str(), static_cast<uid_t>(-1), ::getegid());
        ::chmod((dir.path / "hex").c_str(), 0640);
        RecordingKey::loadFromFile((dir.path / "hex").string(), &tooOpen);
        CPPUNIT_ASSERT(!tooOpen);
        ::chmod((dir.path / "hex").c_str(), 0644);
        CPPUNIT_ASSERT(k1.id() == k2.id());
        CPPUNIT_ASSERT_EQUAL(std::size_t{16}, k1.idHex().size());
        for (std::size_t n : {0ul, 31ul, 33ul, 64ul}) {
            writeFile(dir.path / "bad", randomBytes(n, 1));
            CPPUNIT_ASSERT_THROW(RecordingKey::loadFromFile((dir.path / "bad").string()), RecordingError);
        }
        CPPUNIT_ASSERT_THROW(RecordingKey::loadFromFile((dir.path / "missing").string()), RecordingError);
    }

    void existingFileIsNotOverwritten() {
        TempDir dir;
        writeFile(dir.path / "x", Bytes{1, 2, 3});
        CPPUNIT_ASSERT_THROW(EncryptedRecordingWriter((dir.path / "x").string(), keyFromSeed(1)), RecordingError);
        CPPUNIT_ASSERT(readFile(dir.path / "x") == (Bytes{1, 2, 3}));
        // The writer creates files private to the service.
        {
            EncryptedRecordingWriter w((dir.path / "y").string(), keyFromSeed(1));
            w.finish();
        }
        CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(fs::status(dir.path / "y").permissions()) & 0777u);
    }

    void fileSizeLimitFailsTheWriterCleanly() {
        // In a child process: RLIMIT_FSIZE is per process and must not leak
        // into the other tests. Exit codes say which expectation failed.
        TempDir dir;
        pid_t pid = ::fork();
        CPPUNIT_ASSERT(pid >= 0);
        if (pid == 0) {
            std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
            rlimit limit{20000, 20000};
            if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(10);
            EncryptedRecordingWriter w((dir.path / "big").string(), keyFromSeed(1), {4096, std::chrono::milliseconds(0)});
            Bytes data = randomBytes(4096, 1);
            try {
                for (int i = 0; i < 100; ++i) w.write(data);
                ::_exit(11);
            } catch (const RecordingError& e) {
                if (e.kind() != RecordingErrorKind::Io) ::_exit(12);
                if (std::string(e.what()).find("too large") == std::string::npos) ::_exit(13);
            }
            if (!w.failure()) ::_exit(14);
            try {
                w.write(data);
                ::_exit(15);
            } catch (const RecordingError& e) {
                if (e.kind() != RecordingErrorKind::Usage) ::_exit(16);
            }
            try {
                w.finish();
                ::_exit(17);
            } catch (const RecordingError&) {
            }
            ::_exit(0);
        }
        int status = 0;
        CPPUNIT_ASSERT_EQUAL(pid, ::waitpid(pid, &status, 0));
        CPPUNIT_ASSERT(WIFEXITED(status));
        CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(status));
        // What was sealed before the failure is still recoverable, and so is
        // the part of the torn tail chunk that fitted (the writer re-seals it).
        auto report = repairEncryptedRecording((dir.path / "big").string(), keyFromSeed(1));
        CPPUNIT_ASSERT(report.outcome == RepairReport::Outcome::Repaired);
        CPPUNIT_ASSERT(report.plaintextBytes > 4 * 4096);
        EncryptedRecordingReader r((dir.path / "big").string(), keyFromSeed(1));
        // The child wrote the same 4096-byte block again and again.
        const Bytes block = randomBytes(4096, 1);
        const Bytes recovered = readAll(r);
        CPPUNIT_ASSERT_EQUAL(std::size_t{report.plaintextBytes}, recovered.size());
        for (std::size_t i = 0; i < recovered.size(); ++i)
            if (recovered[i] != block[i % block.size()]) CPPUNIT_FAIL("recovered byte " + std::to_string(i) + " differs");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RecordingCryptoTest);
