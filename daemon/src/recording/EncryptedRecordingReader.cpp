#include "recording/EncryptedRecordingReader.h"

#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace consultd::recording {
struct EncryptedRecordingReader::Opening {
    FileDescriptor fd;
    RecordingHeader header;
};

EncryptedRecordingReader::Opening EncryptedRecordingReader::openAndParse(const std::string& path, const RecordingKey& key) {
    EncryptedRecordingReader::Opening o{openFile(path, O_RDONLY), {}};
    std::array<std::uint8_t, kHeaderSize> bytes{};
    std::size_t got = readFully(o.fd.get(), 0, bytes, path);
    o.header = RecordingHeader::parse(std::span<const std::uint8_t>(bytes.data(), got));
    if (o.header.keyId != key.id())
        throw RecordingError(RecordingErrorKind::WrongKey,
                             path + ": recording was encrypted with another key (key id mismatch)");
    return o;
}

namespace {

std::uint32_t wordLength(const std::uint8_t* p) {
    std::uint32_t word = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                         (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    return word & 0x7fffffffu;
}

}  // namespace

EncryptedRecordingReader::EncryptedRecordingReader(const std::string& path, const RecordingKey& key)
    : EncryptedRecordingReader(path, key, openAndParse(path, key)) {}

EncryptedRecordingReader::EncryptedRecordingReader(const std::string& path, const RecordingKey& key,
                                                   Opening&& opening)
    : path_(path), fd_(std::move(opening.fd)), header_(opening.header), cipher_(key, header_) {
    const std::uint64_t total = fileSize(fd_.get(), path_);
    const std::uint64_t stride = std::uint64_t{header_.chunkSize} + kSlotOverhead;
    if (total <= kHeaderSize)
        throw RecordingError(RecordingErrorKind::Truncated, path_ + ": no chunks (recording cut short)");
    const std::uint64_t body = total - kHeaderSize;
    chunkCount_ = (body + stride - 1) / stride;
    const std::uint64_t lastIndex = chunkCount_ - 1;
    const std::uint64_t lastBytes = body - lastIndex * stride;
    if (lastBytes < kSlotOverhead)
        throw RecordingError(RecordingErrorKind::Truncated,
                             path_ + ": file ends inside chunk " + std::to_string(lastIndex));
    std::vector<std::uint8_t> slot(lastBytes);
    readFully(fd_.get(), header_.slotOffset(lastIndex), slot, path_);
    std::uint64_t declared = wordLength(slot.data());
    if (declared + kSlotOverhead > lastBytes)
        throw RecordingError(RecordingErrorKind::Truncated,
                             path_ + ": file ends inside chunk " + std::to_string(lastIndex));
    auto opened = cipher_.open(lastIndex, slot);
    if (!opened.final)
        throw RecordingError(RecordingErrorKind::Truncated,
                             path_ + ": final chunk missing (recording cut short or writer crashed)");
    size_ = lastIndex * header_.chunkSize + opened.plain.size();
    // Kept for the reader's lifetime: it is the only chunk of irregular size.
    finalChunk_ = std::move(opened.plain);
}

const std::string& EncryptedRecordingReader::loadChunk(std::uint64_t index) {
    if (index + 1 == chunkCount_) return finalChunk_;
    if (cachedIndex_ && *cachedIndex_ == index) return cached_;
    // Non-final chunks are always full, so the slot length is known up front.
    std::vector<std::uint8_t> slot(header_.chunkSize + kSlotOverhead);
    std::size_t got = readFully(fd_.get(), header_.slotOffset(index), slot, path_);
    if (got != slot.size())
        throw RecordingError(RecordingErrorKind::Tampered,
                             path_ + ": chunk " + std::to_string(index) + " is short");
    auto opened = cipher_.open(index, slot);
    if (opened.final)  // a final flag before the last chunk: cannot be produced by our writer
        throw RecordingError(RecordingErrorKind::Tampered,
                             path_ + ": chunk " + std::to_string(index) + " is marked final");
    cachedIndex_ = index;
    cached_ = std::move(opened.plain);
    return cached_;
}

std::size_t EncryptedRecordingReader::read(std::uint64_t offset, std::span<std::uint8_t> out) {
    std::size_t done = 0;
    while (done < out.size() && offset < size_) {
        std::uint64_t index = offset / header_.chunkSize;
        std::uint64_t within = offset % header_.chunkSize;
        const std::string& chunk = loadChunk(index);
        if (within >= chunk.size()) break;
        std::size_t n = std::min<std::uint64_t>(out.size() - done, chunk.size() - within);
        std::memcpy(out.data() + done, chunk.data() + within, n);
        done += n;
        offset += n;
    }
    return done;
}

void EncryptedRecordingReader::verifyAll() {
    for (std::uint64_t i = 0; i + 1 < chunkCount_; ++i) loadChunk(i);
}

}  // namespace consultd::recording
