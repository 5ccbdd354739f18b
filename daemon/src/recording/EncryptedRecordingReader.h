#pragma once
// Random-access reader for the encrypted recording container: decrypts on the
// fly, one chunk at a time, so `GET /recordings/{id}/media` can serve HTTP
// Range requests without ever writing plaintext to disk.

#include "recording/RecordingCrypto.h"
#include "recording/RecordingFile.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace consultd::recording {

/// Reads one complete encrypted recording. The constructor checks the header,
/// the key id and the final chunk (so truncation is reported before any byte
/// is served); every chunk is authenticated before its bytes are returned.
/// Not thread-safe: use one reader per request/thread.
class EncryptedRecordingReader {
public:
    /// Opens `path`. Throws RecordingError: Io, BadHeader, WrongKey,
    /// Truncated (final chunk missing or cut) or Tampered.
    EncryptedRecordingReader(const std::string& path, const RecordingKey& key);

    /// Plaintext size in bytes (the Content-Length of a full download).
    std::uint64_t size() const noexcept { return size_; }
    /// Plaintext bytes per chunk.
    std::uint32_t chunkSize() const noexcept { return header_.chunkSize; }
    /// Copies up to out.size() plaintext bytes starting at `offset` into `out`;
    /// returns the count (0 at or past the end). Throws RecordingError(Tampered)
    /// if a chunk it touches fails authentication.
    std::size_t read(std::uint64_t offset, std::span<std::uint8_t> out);
    /// Authenticates every chunk (what `consultd recording decrypt` relies on).
    void verifyAll();

private:
    struct Opening;
    static Opening openAndParse(const std::string& path, const RecordingKey& key);
    EncryptedRecordingReader(const std::string& path, const RecordingKey& key, Opening&& opening);
    const std::string& loadChunk(std::uint64_t index);

    std::string path_;
    FileDescriptor fd_;
    RecordingHeader header_;
    ChunkCipher cipher_;
    std::uint64_t chunkCount_ = 0;
    std::uint64_t size_ = 0;
    std::optional<std::uint64_t> cachedIndex_;
    std::string cached_;
    std::string finalChunk_;
};

}  // namespace consultd::recording
