#include "recording/RecordingCli.h"

#include "recording/EncryptedRecordingReader.h"
#include "recording/RecordingFile.h"
#include "recording/RecordingRepair.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace consultd::recording {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr const char* kUsageText =
    "usage: consultd recording decrypt IN OUT --key-file K\n"
    "       consultd recording repair FILE --key-file K\n"
    "       consultd recording info FILE [--key-file K]\n";

struct Args {
    std::vector<std::string> positional;
    std::string keyFile;
    bool help = false;
};

bool parseArgs(int argc, char** argv, int from, Args& args) {
    for (int i = from; i < argc; ++i) {
        std::string word = argv[i];
        if (word == "--key-file" && i + 1 < argc) {
            args.keyFile = argv[++i];
        } else if (word.rfind("--key-file=", 0) == 0) {
            args.keyFile = word.substr(11);
        } else if (word == "--help" || word == "-h") {
            args.help = true;
        } else if (word.rfind("--", 0) == 0) {
            std::cerr << "consultd recording: unknown option " << word << "\n";
            return false;
        } else {
            args.positional.push_back(word);
        }
    }
    return true;
}

RecordingKey loadKey(const std::string& file) {
    bool tooOpen = false;
    RecordingKey key = RecordingKey::loadFromFile(file, &tooOpen);
    if (tooOpen)
        std::cerr << "warning: key file " << file
                  << " is readable by others or by a group that is not this process's; chmod 0600 it\n";
    return key;
}

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int decrypt(const Args& args) {
    if (args.positional.size() != 2 || args.keyFile.empty()) {
        std::cerr << kUsageText;
        return kUsage;
    }
    const std::string& in = args.positional[0];
    const std::string& out = args.positional[1];
    RecordingKey key = loadKey(args.keyFile);
    EncryptedRecordingReader reader(in, key);
    // Authenticate everything before the first plaintext byte leaves, so a
    // tampered file never yields a partial export.
    reader.verifyAll();

    const bool toStdout = out == "-";
    const std::string tmp = out + ".decrypting";
    FileDescriptor fd = toStdout ? FileDescriptor(::dup(STDOUT_FILENO))
                                 : openFile(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd.get() < 0) throw RecordingError(RecordingErrorKind::Io, std::string("stdout: ") + std::strerror(errno));
    std::vector<std::uint8_t> buffer(reader.chunkSize());
    std::uint64_t offset = 0;
    try {
        while (offset < reader.size()) {
            std::size_t n = reader.read(offset, buffer);
            if (n == 0) break;
            std::size_t done = 0;
            while (done < n) {  // not pwrite: stdout may be a pipe
                ssize_t w = ::write(fd.get(), buffer.data() + done, n - done);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0)
                    throw RecordingError(RecordingErrorKind::Io, out + ": write: " + std::strerror(errno));
                done += static_cast<std::size_t>(w);
            }
            offset += n;
        }
        if (!toStdout) {
            if (::fsync(fd.get()) != 0)
                throw RecordingError(RecordingErrorKind::Io, out + ": sync: " + std::strerror(errno));
            fd.close(out);
            if (std::rename(tmp.c_str(), out.c_str()) != 0)
                throw RecordingError(RecordingErrorKind::Io, out + ": rename: " + std::strerror(errno));
        }
    } catch (...) {
        if (!toStdout) ::unlink(tmp.c_str());
        throw;
    }
    std::cerr << "decrypted " << offset << " bytes to " << out << "\n";
    return kOk;
}

int repair(const Args& args) {
    if (args.positional.size() != 1 || args.keyFile.empty()) {
        std::cerr << kUsageText;
        return kUsage;
    }
    const std::string& file = args.positional[0];
    RecordingKey key = loadKey(args.keyFile);
    RepairReport report = repairEncryptedRecording(file, key);
    const bool partial = endsWith(file, kPartialSuffix);
    const std::string base = partial ? file.substr(0, file.size() - std::strlen(kPartialSuffix)) : file;
    if (report.outcome == RepairReport::Outcome::Unrecoverable) {
        if (!partial) {
            std::cout << "failed: " << report.detail << "\n";
            return kFailed;
        }
        // A crashed recording with nothing to recover: marked, never silently dropped.
        const std::string failed = base + kFailedSuffix;
        if (std::rename(file.c_str(), failed.c_str()) != 0)
            throw RecordingError(RecordingErrorKind::Io, failed + ": rename: " + std::strerror(errno));
        std::cout << "failed: " << report.detail << "; marked " << failed << "\n";
        return kFailed;
    }
    if (partial) {
        if (::access(base.c_str(), F_OK) == 0)
            throw RecordingError(RecordingErrorKind::Io, base + " already exists; not overwriting it");
        if (std::rename(file.c_str(), base.c_str()) != 0)
            throw RecordingError(RecordingErrorKind::Io, base + ": rename: " + std::strerror(errno));
    }
    std::cout << (report.outcome == RepairReport::Outcome::Repaired ? "repaired: " : "ok: ")
              << report.detail << (partial ? "; now " + base : std::string()) << "\n";
    return kOk;
}

int info(const Args& args) {
    if (args.positional.size() != 1) {
        std::cerr << kUsageText;
        return kUsage;
    }
    const std::string& file = args.positional[0];
    FileDescriptor fd = openFile(file, O_RDONLY);
    std::array<std::uint8_t, kHeaderSize> bytes{};
    std::size_t got = readFully(fd.get(), 0, bytes, file);
    RecordingHeader header = RecordingHeader::parse(std::span<const std::uint8_t>(bytes.data(), got));
    static constexpr char kHex[] = "0123456789abcdef";
    std::string keyId;
    for (auto b : header.keyId) {
        keyId.push_back(kHex[b >> 4]);
        keyId.push_back(kHex[b & 15]);
    }
    std::cout << "format: CDREC v" << kFormatVersion << " (AES-256-GCM)\n"
              << "chunk_size: " << header.chunkSize << "\n"
              << "key_id: " << keyId << "\n"
              << "file_bytes: " << fileSize(fd.get(), file) << "\n";
    if (args.keyFile.empty()) return kOk;
    EncryptedRecordingReader reader(file, loadKey(args.keyFile));
    reader.verifyAll();
    std::cout << "plaintext_bytes: " << reader.size() << "\nintegrity: ok\n";
    return kOk;
}

}  // namespace

int runRecordingCommand(int argc, char** argv) {
    int from = 1;
    if (argc > from && std::string(argv[from]) == "recording") ++from;
    if (argc <= from) {
        std::cerr << kUsageText;
        return kUsage;
    }
    const std::string command = argv[from];
    Args args;
    if (!parseArgs(argc, argv, from + 1, args)) return kUsage;
    if (args.help) {
        std::cout << kUsageText;
        return kOk;
    }
    try {
        if (command == "decrypt") return decrypt(args);
        if (command == "repair") return repair(args);
        if (command == "info") return info(args);
    } catch (const RecordingError& e) {
        std::cerr << "consultd recording " << command << ": " << toString(e.kind()) << ": " << e.what() << "\n";
        return e.kind() == RecordingErrorKind::Usage ? kUsage : kFailed;
    } catch (const std::exception& e) {
        std::cerr << "consultd recording " << command << ": " << e.what() << "\n";
        return kFailed;
    }
    std::cerr << "consultd recording: unknown command " << command << "\n" << kUsageText;
    return kUsage;
}

}  // namespace consultd::recording
