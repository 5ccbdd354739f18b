#pragma once
// Streaming writer for the encrypted recording container (RecordingCrypto.h).
//
// The recorder's muxer writes through it as it records: nothing unencrypted
// ever reaches the disk. Matroska muxers seek back to patch sizes and the
// header (cluster sizes after each cluster, duration and cues at the end), so
// the writer supports writes at any offset: a write into an already sealed
// chunk decrypts it, patches it and seals it again with a fresh sequence
// number (never reusing a nonce). The unsealed tail chunk is written
// provisionally at least every `flushInterval`, so a crash (SIGKILL) loses at
// most that much; such a file has no final chunk, readers refuse it as
// truncated and `consultd recording repair` recovers the authenticated prefix.

#include "recording/RecordingCrypto.h"
#include "recording/RecordingFile.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace consultd::recording {

/// Writes one encrypted recording. Not thread-safe: use it from one thread at
/// a time (the recorder calls it from the muxer's streaming thread only).
class EncryptedRecordingWriter {
public:
    /// Tunables; the defaults suit recording.
    struct Options {
        /// Plaintext bytes per chunk (the unit of authentication and random access).
        std::uint32_t chunkSize = kDefaultChunkSize;
        /// Longest time written data may stay only in memory.
        std::chrono::milliseconds flushInterval{1000};
    };

    /// Creates `path` exclusively (O_EXCL, mode 0600) and writes the header.
    /// Throws RecordingError(Io) if the file exists or cannot be written.
    EncryptedRecordingWriter(const std::string& path, const RecordingKey& key, Options options);
    EncryptedRecordingWriter(const std::string& path, const RecordingKey& key)
        : EncryptedRecordingWriter(path, key, Options{}) {}
    /// An unfinished writer flushes its tail (best effort) and closes: the file
    /// stays detectably incomplete, exactly as after a crash.
    ~EncryptedRecordingWriter();
    EncryptedRecordingWriter(const EncryptedRecordingWriter&) = delete;
    EncryptedRecordingWriter& operator=(const EncryptedRecordingWriter&) = delete;

    /// Writes `data` at position() and advances it. Throws RecordingError(Io)
    /// on disk errors; after any error the writer is failed and every further
    /// call throws RecordingError(Usage) carrying the first error's message.
    void write(std::span<const std::uint8_t> data);
    /// Moves the write position (beyond the end the gap reads as zeros).
    void seek(std::uint64_t offset);
    /// Current write position in plaintext bytes.
    std::uint64_t position() const noexcept { return position_; }
    /// Plaintext size written so far.
    std::uint64_t size() const noexcept;
    /// Writes the unsealed tail provisionally now.
    void flush();
    /// Seals the final chunk, syncs and closes. Idempotent after success.
    void finish();
    /// True after finish() succeeded.
    bool finished() const noexcept { return finished_; }
    /// The first error's message, if the writer failed.
    const std::optional<std::string>& failure() const noexcept { return failure_; }
    /// The file being written.
    const std::string& path() const noexcept { return path_; }

private:
    void checkUsable() const;
    void writeSlot(std::uint64_t index, bool final, std::span<const std::uint8_t> plain);
    void patchSealedChunk(std::uint64_t index, std::uint32_t offset, std::span<const std::uint8_t> data);
    void sealFullTail();
    void salvageTail(std::span<const std::uint8_t> plain) noexcept;
    template <typename F>
    void guarded(F&& body);

    std::string path_;
    Options options_;
    RecordingHeader header_;
    ChunkCipher cipher_;
    FileDescriptor fd_;
    std::uint64_t sealedChunks_ = 0;    // chunks [0, sealedChunks_) are full and on disk
    std::vector<std::uint8_t> tail_;    // plaintext of chunk sealedChunks_
    std::uint64_t position_ = 0;
    std::uint32_t nextSeq_ = 0;
    bool tailDirty_ = false;
    bool finished_ = false;
    std::optional<std::string> failure_;
    std::chrono::steady_clock::time_point lastFlush_;
};

}  // namespace consultd::recording
