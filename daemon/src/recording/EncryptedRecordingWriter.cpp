#include "recording/EncryptedRecordingWriter.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace consultd::recording {
namespace {

RecordingHeader makeHeader(const RecordingKey& key, std::uint32_t chunkSize) {
    if (chunkSize == 0 || chunkSize > kMaxChunkSize)
        throw RecordingError(RecordingErrorKind::Usage, "chunk size out of range");
    RecordingHeader h;
    h.chunkSize = chunkSize;
    h.keyId = key.id();
    // A fresh random prefix per file keeps nonces unique across files sharing the key.
    secureRandom(h.noncePrefix);
    return h;
}

}  // namespace

EncryptedRecordingWriter::EncryptedRecordingWriter(const std::string& path, const RecordingKey& key,
                                                   Options options)
    : path_(path),
      options_(options),
      header_(makeHeader(key, options.chunkSize)),
      cipher_(key, header_),
      fd_(openFile(path, O_RDWR | O_CREAT | O_EXCL, 0600)),
      lastFlush_(std::chrono::steady_clock::now()) {
    tail_.reserve(header_.chunkSize);
    try {
        auto bytes = header_.serialize();
        writeFully(fd_.get(), 0, bytes, path_);
    } catch (...) {
        // Do not leave a header-less file that repair would have to mark failed.
        fd_ = FileDescriptor();
        ::unlink(path_.c_str());
        throw;
    }
}

EncryptedRecordingWriter::~EncryptedRecordingWriter() {
    if (finished_ || failure_ || fd_.get() < 0) return;
    try {
        flush();
    } catch (const RecordingError&) {
        // Destructors must not throw; the file is already detectably incomplete.
    }
}

std::uint64_t EncryptedRecordingWriter::size() const noexcept {
    return sealedChunks_ * header_.chunkSize + tail_.size();
}

void EncryptedRecordingWriter::checkUsable() const {
    if (failure_)
        throw RecordingError(RecordingErrorKind::Usage, "recording writer failed earlier: " + *failure_);
    if (finished_) throw RecordingError(RecordingErrorKind::Usage, "recording writer already finished");
}

template <typename F>
void EncryptedRecordingWriter::guarded(F&& body) {
    checkUsable();
    try {
        body();
    } catch (const RecordingError& e) {
        failure_ = e.what();
        throw;
    }
}

void EncryptedRecordingWriter::writeSlot(std::uint64_t index, bool final, std::span<const std::uint8_t> plain) {
    if (nextSeq_ == UINT32_MAX)
        throw RecordingError(RecordingErrorKind::Usage, "sequence numbers exhausted");
    std::string slot = cipher_.seal(index, nextSeq_++, final, plain);
    try {
        writeFully(fd_.get(), header_.slotOffset(index),
                   {reinterpret_cast<const std::uint8_t*>(slot.data()), slot.size()}, path_);
    } catch (const RecordingError&) {
        if (index == sealedChunks_) salvageTail(plain);
        throw;
    }
}

void EncryptedRecordingWriter::salvageTail(std::span<const std::uint8_t> plain) noexcept {
    // A write that failed part-way (disk full, file size limit) has torn the
    // tail slot, destroying the provisional copy written before it. Seal again
    // as much of the tail as fits in the space the file already has, so the
    // failed recording keeps an authenticated prefix that repair can recover.
    try {
        const std::uint64_t offset = header_.slotOffset(sealedChunks_);
        const std::uint64_t have = fileSize(fd_.get(), path_);
        if (have <= offset + kSlotOverhead || nextSeq_ == UINT32_MAX) return;
        const std::size_t fits = std::min<std::uint64_t>(plain.size(), have - offset - kSlotOverhead);
        std::string slot = cipher_.seal(sealedChunks_, nextSeq_++, false, plain.first(fits));
        writeFully(fd_.get(), offset, {reinterpret_cast<const std::uint8_t*>(slot.data()), slot.size()}, path_);
        if (::ftruncate(fd_.get(), static_cast<off_t>(offset + slot.size())) != 0) return;
    } catch (const RecordingError&) {
        // Nothing more can be saved; the caller reports the original error.
    }
}

void EncryptedRecordingWriter::patchSealedChunk(std::uint64_t index, std::uint32_t offset,
                                                std::span<const std::uint8_t> data) {
    std::vector<std::uint8_t> slot(header_.chunkSize + kSlotOverhead);
    std::size_t got = readFully(fd_.get(), header_.slotOffset(index), slot, path_);
    if (got != slot.size())
        throw RecordingError(RecordingErrorKind::Io, path_ + ": sealed chunk " + std::to_string(index) +
                                                         " is short on disk");
    auto opened = cipher_.open(index, slot);
    std::memcpy(opened.plain.data() + offset, data.data(), data.size());
    writeSlot(index, false,
              {reinterpret_cast<const std::uint8_t*>(opened.plain.data()), opened.plain.size()});
}

void EncryptedRecordingWriter::sealFullTail() {
    writeSlot(sealedChunks_, false, tail_);
    ++sealedChunks_;
    tail_.clear();
    tailDirty_ = false;
}

void EncryptedRecordingWriter::write(std::span<const std::uint8_t> data) {
    guarded([&] {
        const std::uint64_t chunk = header_.chunkSize;
        while (!data.empty()) {
            std::uint64_t index = position_ / chunk;
            auto offset = static_cast<std::uint32_t>(position_ % chunk);
            std::size_t n = std::min<std::uint64_t>(data.size(), chunk - offset);
            if (index < sealedChunks_) {
                patchSealedChunk(index, offset, data.first(n));
            } else {
                // Writing past the tail (a seek beyond the end): fill whole zero chunks first.
                while (index > sealedChunks_) {
                    tail_.resize(chunk, 0);
                    sealFullTail();
                }
                if (tail_.size() < offset + n) tail_.resize(offset + n, 0);
                std::memcpy(tail_.data() + offset, data.data(), n);
                tailDirty_ = true;
                if (tail_.size() == chunk) sealFullTail();
            }
            position_ += n;
            data = data.subspan(n);
        }
        if (tailDirty_ && std::chrono::steady_clock::now() - lastFlush_ >= options_.flushInterval) {
            writeSlot(sealedChunks_, false, tail_);
            tailDirty_ = false;
            lastFlush_ = std::chrono::steady_clock::now();
        }
    });
}

void EncryptedRecordingWriter::seek(std::uint64_t offset) {
    checkUsable();
    position_ = offset;
}

void EncryptedRecordingWriter::flush() {
    guarded([&] {
        if (tailDirty_) writeSlot(sealedChunks_, false, tail_);
        tailDirty_ = false;
        lastFlush_ = std::chrono::steady_clock::now();
    });
}

void EncryptedRecordingWriter::finish() {
    if (finished_) return;
    guarded([&] {
        // The final chunk may be empty: then it only marks the end of the file.
        writeSlot(sealedChunks_, true, tail_);
        std::uint64_t end = header_.slotOffset(sealedChunks_) + kSlotOverhead + tail_.size();
        // A provisional tail written earlier can never be longer than the final
        // one (the tail only grows), but trim anyway so the file ends exactly here.
        if (::ftruncate(fd_.get(), static_cast<off_t>(end)) != 0 || ::fdatasync(fd_.get()) != 0)
            throw RecordingError(RecordingErrorKind::Io, path_ + ": sync: " + std::strerror(errno));
        fd_.close(path_);
        finished_ = true;
    });
}

}  // namespace consultd::recording
