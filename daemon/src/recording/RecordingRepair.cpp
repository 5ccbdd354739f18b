#include "recording/RecordingRepair.h"

#include "recording/EncryptedRecordingReader.h"
#include "recording/RecordingFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace consultd::recording {
namespace {

std::uint32_t readU32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}


// --- Matroska duration after a crash -------------------------------------
// matroskamux writes Duration = 0 up front and the real value at EOS. After a
// crash the recovered WebM plays but claims no length; walking the clusters
// gives the last block's time, which is patched into the (fixed-size) Duration
// element inside the encrypted file. The segment size is already "unknown"
// while recording, which players accept; only the seek index (Cues) is lost.

constexpr std::uint32_t kEbmlId = 0x1A45DFA3, kSegmentId = 0x18538067, kInfoId = 0x1549A966,
                        kTimecodeScaleId = 0x2AD7B1, kDurationId = 0x4489, kClusterId = 0x1F43B675,
                        kTimecodeId = 0xE7, kSimpleBlockId = 0xA3, kBlockGroupId = 0xA0, kBlockId = 0xA1;

struct Element {
    std::uint32_t id = 0;
    std::uint64_t dataOffset = 0;
    std::optional<std::uint64_t> size;  // nullopt = unknown size
};

class PlainView {
public:
    explicit PlainView(EncryptedRecordingReader& reader) : reader_(reader) {}
    std::uint64_t size() const { return reader_.size(); }
    bool read(std::uint64_t offset, std::uint8_t* out, std::size_t n) {
        return reader_.read(offset, std::span(out, n)) == n;
    }
    // Reads one EBML element header at `offset`; nullopt if cut or malformed.
    std::optional<Element> element(std::uint64_t offset) {
        std::uint8_t b[12];
        std::size_t avail = std::min<std::uint64_t>(sizeof b, size() > offset ? size() - offset : 0);
        if (avail < 2 || !read(offset, b, avail)) return std::nullopt;
        int idLen = std::countl_zero(b[0]) + 1;
        if (idLen > 4 || static_cast<std::size_t>(idLen) >= avail) return std::nullopt;
        Element e;
        for (int i = 0; i < idLen; ++i) e.id = (e.id << 8) | b[i];
        std::uint8_t first = b[idLen];
        int sizeLen = std::countl_zero(first) + 1;
        if (sizeLen > 8 || static_cast<std::size_t>(idLen + sizeLen) > avail) return std::nullopt;
        std::uint64_t value = first & (0xFFu >> sizeLen);
        bool allOnes = value == (0xFFu >> sizeLen);
        for (int i = 1; i < sizeLen; ++i) {
            value = (value << 8) | b[idLen + i];
            allOnes = allOnes && b[idLen + i] == 0xFF;
        }
        e.dataOffset = offset + idLen + sizeLen;
        if (!allOnes) e.size = value;
        return e;
    }
    std::uint64_t readUnsigned(std::uint64_t offset, std::uint64_t n) {
        std::uint8_t b[8];
        if (n == 0 || n > 8 || !read(offset, b, n)) return 0;
        std::uint64_t v = 0;
        for (std::uint64_t i = 0; i < n; ++i) v = (v << 8) | b[i];
        return v;
    }

private:
    EncryptedRecordingReader& reader_;
};

struct DurationFix {
    std::uint64_t durationOffset = 0;  // plaintext offset of the Duration value
    std::uint64_t durationSize = 0;    // 4 or 8
    double newValue = 0;               // in TimecodeScale units
};

// Finds the Duration element and the last block time; nullopt when the file
// is not Matroska or already has a duration.
std::optional<DurationFix> planDurationFix(EncryptedRecordingReader& reader) {
    PlainView v(reader);
    auto ebml = v.element(0);
    if (!ebml || ebml->id != kEbmlId || !ebml->size) return std::nullopt;
    auto segment = v.element(ebml->dataOffset + *ebml->size);
    if (!segment || segment->id != kSegmentId) return std::nullopt;
    const std::uint64_t end = segment->size ? std::min(v.size(), segment->dataOffset + *segment->size) : v.size();
    std::optional<DurationFix> fix;
    std::int64_t lastTime = -1;
    std::uint64_t pos = segment->dataOffset;
    while (pos < end) {
        auto e = v.element(pos);
        if (!e) break;
        const std::uint64_t childEnd = e->size ? e->dataOffset + *e->size : end;
        if (e->id == kInfoId && e->size) {
            for (std::uint64_t p = e->dataOffset; p < childEnd;) {
                auto c = v.element(p);
                if (!c || !c->size) break;
                if (c->id == kDurationId && (*c->size == 4 || *c->size == 8)) {
                    std::uint64_t raw = v.readUnsigned(c->dataOffset, *c->size);
                    double current = *c->size == 8 ? std::bit_cast<double>(raw)
                                                   : std::bit_cast<float>(static_cast<std::uint32_t>(raw));
                    if (current > 0) return std::nullopt;  // finalised properly
                    fix = DurationFix{c->dataOffset, *c->size, 0};
                }
                p = c->dataOffset + *c->size;
            }
        } else if (e->id == kClusterId) {
            std::int64_t clusterTime = 0;
            for (std::uint64_t p = e->dataOffset; p < std::min(childEnd, end);) {
                auto c = v.element(p);
                if (!c) break;
                if (c->id == kClusterId) break;  // unknown-size cluster ends at the next one
                if (!c->size || c->dataOffset + *c->size > v.size()) break;  // cut inside: stop
                if (c->id == kTimecodeId) {
                    clusterTime = static_cast<std::int64_t>(v.readUnsigned(c->dataOffset, *c->size));
                } else if (c->id == kSimpleBlockId || c->id == kBlockGroupId) {
                    std::uint64_t block = c->dataOffset;
                    if (c->id == kBlockGroupId) {
                        auto inner = v.element(c->dataOffset);
                        if (!inner || inner->id != kBlockId) {
                            p = c->dataOffset + *c->size;
                            continue;
                        }
                        block = inner->dataOffset;
                    }
                    std::uint8_t head[3];
                    if (v.read(block, head, 1)) {
                        int trackLen = std::countl_zero(head[0]) + 1;
                        std::uint8_t rel[2];
                        if (trackLen <= 8 && v.read(block + trackLen, rel, 2)) {
                            auto relative = static_cast<std::int16_t>((rel[0] << 8) | rel[1]);
                            lastTime = std::max(lastTime, clusterTime + relative);
                        }
                    }
                }
                p = c->dataOffset + *c->size;
            }
            if (!e->size) {
                // Continue from wherever the unknown-size cluster's children stopped.
                std::uint64_t p = e->dataOffset;
                while (p < end) {
                    auto c = v.element(p);
                    if (!c || c->id == kClusterId || !c->size) break;
                    p = c->dataOffset + *c->size;
                }
                if (p >= end) break;
                pos = p;
                continue;
            }
        }
        if (!e->size) break;
        pos = childEnd;
    }
    if (!fix || lastTime <= 0) return std::nullopt;
    fix->newValue = static_cast<double>(lastTime);
    return fix;
}

// Rewrites plaintext bytes [offset, offset+data.size()) inside a complete
// encrypted file, resealing each touched chunk with a fresh sequence number.
void patchPlaintext(int fd, const std::string& path, const RecordingHeader& header, ChunkCipher& cipher,
                    std::uint64_t chunkCount, std::uint32_t& nextSeq, std::uint64_t offset,
                    std::span<const std::uint8_t> data) {
    const std::uint64_t stride = std::uint64_t{header.chunkSize} + kSlotOverhead;
    std::vector<std::uint8_t> slot(stride);
    while (!data.empty()) {
        std::uint64_t index = offset / header.chunkSize;
        std::uint64_t within = offset % header.chunkSize;
        if (index >= chunkCount) throw RecordingError(RecordingErrorKind::Usage, path + ": patch beyond the end");
        std::size_t got = readFully(fd, header.slotOffset(index), slot, path);
        std::uint64_t length = readU32(slot.data()) & 0x7fffffffu;
        if (length + kSlotOverhead > got) throw RecordingError(RecordingErrorKind::Tampered, path + ": short chunk");
        auto opened = cipher.open(index, std::span(slot.data(), length + kSlotOverhead));
        std::size_t n = std::min<std::uint64_t>(data.size(), opened.plain.size() - within);
        std::memcpy(opened.plain.data() + within, data.data(), n);
        std::string sealed = cipher.seal(index, nextSeq++, opened.final,
                                         std::span(reinterpret_cast<const std::uint8_t*>(opened.plain.data()),
                                                   opened.plain.size()));
        writeFully(fd, header.slotOffset(index),
                   std::span(reinterpret_cast<const std::uint8_t*>(sealed.data()), sealed.size()), path);
        data = data.subspan(n);
        offset += n;
    }
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
    report.outcome = RepairReport::Outcome::Repaired;

    // The container is whole again; now give a crashed Matroska file its length.
    std::uint32_t nextSeq = maxSeq + 2;  // maxSeq + 1 sealed the final chunk above
    EncryptedRecordingReader reader(path, key);
    if (auto fix = planDurationFix(reader)) {
        std::uint8_t bytes[8];
        std::uint64_t raw = fix->durationSize == 8
                                ? std::bit_cast<std::uint64_t>(fix->newValue)
                                : std::bit_cast<std::uint32_t>(static_cast<float>(fix->newValue));
        for (std::uint64_t i = 0; i < fix->durationSize; ++i)
            bytes[i] = static_cast<std::uint8_t>(raw >> (8 * (fix->durationSize - 1 - i)));
        patchPlaintext(fd.get(), path, header, cipher, good, nextSeq, fix->durationOffset,
                       std::span(bytes, fix->durationSize));
        if (::fdatasync(fd.get()) != 0)
            throw RecordingError(RecordingErrorKind::Io, path + ": " + std::strerror(errno));
        report.matroskaDurationFixed = true;
    }
    fd.close(path);
    report.detail = path + ": kept " + std::to_string(good) + " chunks (" +
                    std::to_string(report.plaintextBytes) + " bytes), dropped " +
                    std::to_string(report.droppedBytes) + " trailing bytes" +
                    (report.matroskaDurationFixed ? "; Matroska duration restored" : "");
    return report;
}

}  // namespace consultd::recording
