#pragma once
// Small POSIX file helpers shared by the recording writer, reader and repair
// tool: an owning descriptor and full-length pread/pwrite that turn short
// writes (ENOSPC, EFBIG) into RecordingError(Io) with the OS reason.

#include "recording/RecordingCrypto.h"

#include <cstdint>
#include <span>
#include <string>

namespace consultd::recording {

/// Owns one file descriptor; closes it on destruction. Move-only.
class FileDescriptor {
public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
    ~FileDescriptor();
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept;
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;

    int get() const noexcept { return fd_; }
    int release() noexcept {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    /// Closes now and reports a close() error (NFS and some FUSE report ENOSPC here).
    void close(const std::string& what);

private:
    int fd_ = -1;
};

/// Opens `path` with open(2) flags; throws RecordingError(Io) naming the file.
FileDescriptor openFile(const std::string& path, int flags, unsigned mode = 0600);
/// Writes all bytes at `offset` or throws RecordingError(Io) with the reason.
void writeFully(int fd, std::uint64_t offset, std::span<const std::uint8_t> data, const std::string& what);
/// Reads up to out.size() bytes at `offset`; returns the count (short only at EOF).
std::size_t readFully(int fd, std::uint64_t offset, std::span<std::uint8_t> out, const std::string& what);
/// Current size of the open file.
std::uint64_t fileSize(int fd, const std::string& what);

}  // namespace consultd::recording
