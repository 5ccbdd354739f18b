#include "recording/RecordingFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace consultd::recording {

FileDescriptor::~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

void FileDescriptor::close(const std::string& what) {
    int fd = release();
    if (fd >= 0 && ::close(fd) != 0)
        throw RecordingError(RecordingErrorKind::Io, what + ": close: " + std::strerror(errno));
}

FileDescriptor openFile(const std::string& path, int flags, unsigned mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0)
        throw RecordingError(RecordingErrorKind::Io, path + ": " + std::strerror(errno));
    return FileDescriptor(fd);
}

void writeFully(int fd, std::uint64_t offset, std::span<const std::uint8_t> data, const std::string& what) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                             static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw RecordingError(RecordingErrorKind::Io, what + ": write: " + std::strerror(errno));
        }
        if (n == 0)  // should not happen for regular files; avoid spinning
            throw RecordingError(RecordingErrorKind::Io, what + ": write: no progress");
        done += static_cast<std::size_t>(n);
    }
}

std::size_t readFully(int fd, std::uint64_t offset, std::span<std::uint8_t> out, const std::string& what) {
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw RecordingError(RecordingErrorKind::Io, what + ": read: " + std::strerror(errno));
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

std::uint64_t fileSize(int fd, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw RecordingError(RecordingErrorKind::Io, what + ": stat: " + std::strerror(errno));
    return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace consultd::recording
