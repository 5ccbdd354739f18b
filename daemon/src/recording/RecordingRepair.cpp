#include "recording/RecordingRepair.h"

#include "recording/RecordingFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace consultd::recording {
namespace {

std::uint32_t readU32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

}  // namespace

RepairReport repairEncryptedRecording(const std::string& path, const RecordingKey& key) {
    RepairReport report;
    FileDescriptor fd = openFile(path, O_RDWR);
    const std::uint64_t total = fileSize(fd.get(), path);
    std::array<std::uint8_t, kHeaderSize> headerBytes{};
    std::size_t got = readFully(fd.get(), 0, headerBytes, path);
    RecordingHeader header;
    try {
        header = RecordingHeader::parse(std::span<const std::uint8_t>(headerBytes.data(), got));
    } catch (const RecordingError& e) {
        report.detail = e.what();
        return report;
    }
    if (header.keyId != key.id())
        throw RecordingError(RecordingErrorKind::WrongKey,
                             path + ": recording was encrypted with another key (key id mismatch)");
    ChunkCipher cipher(key, header);
    const std::uint64_t stride = std::uint64_t{header.chunkSize} + kSlotOverhead;

    // Walk the slots in order; stop at the first that is cut, fails
    // authentication, or cannot be followed by another (short or final).
    std::uint64_t good = 0;
    std::uint64_t end = kHeaderSize;
    bool lastFinal = false;
    std::uint32_t maxSeq = 0;
    std::string lastPlain;
    std::vector<std::uint8_t> slot(stride);
    for (std::uint64_t index = 0;; ++index) {
        const std::uint64_t offset = header.slotOffset(index);
        if (offset + kSlotOverhead > total) break;
        std::size_t n = readFully(fd.get(), offset, std::span(slot.data(), std::min<std::uint64_t>(stride, total - offset)), path);
        // Remember every sequence number seen, even in broken slots, so the
        // re-seal below cannot reuse a nonce.
        maxSeq = std::max(maxSeq, readU32(slot.data() + 4));
        std::uint64_t length = readU32(slot.data()) & 0x7fffffffu;
        if (length > header.chunkSize || length + kSlotOverhead > n) break;
        try {
            auto opened = cipher.open(index, std::span(slot.data(), length + kSlotOverhead));
            ++good;
            end = offset + length + kSlotOverhead;
            lastFinal = opened.final;
            lastPlain = std::move(opened.plain);
        } catch (const RecordingError&) {
            break;
        }
        if (lastFinal || length < header.chunkSize) break;
    }
    report.chunks = good;
    if (good == 0) {
        report.detail = path + ": no authenticated chunk; nothing to recover";
        return report;
    }
    report.plaintextBytes = (good - 1) * header.chunkSize + lastPlain.size();
    report.droppedBytes = total - end;
    if (lastFinal && end == total) {
        report.outcome = RepairReport::Outcome::AlreadyComplete;
        report.detail = path + ": complete, nothing to repair";
        return report;
    }
    if (!lastFinal) {
        if (maxSeq == UINT32_MAX)
            throw RecordingError(RecordingErrorKind::Usage, path + ": sequence numbers exhausted");
        std::string sealed = cipher.seal(good - 1, maxSeq + 1, true,
                                         std::span(reinterpret_cast<const std::uint8_t*>(lastPlain.data()),
                                                   lastPlain.size()));
        writeFully(fd.get(), header.slotOffset(good - 1),
                   std::span(reinterpret_cast<const std::uint8_t*>(sealed.data()), sealed.size()), path);
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(end)) != 0 || ::fdatasync(fd.get()) != 0)
        throw RecordingError(RecordingErrorKind::Io, path + ": " + std::strerror(errno));
    fd.close(path);
    report.outcome = RepairReport::Outcome::Repaired;
    report.detail = path + ": kept " + std::to_string(good) + " chunks (" +
                    std::to_string(report.plaintextBytes) + " bytes), dropped " +
                    std::to_string(report.droppedBytes) + " trailing bytes";
    return report;
}

}  // namespace consultd::recording
