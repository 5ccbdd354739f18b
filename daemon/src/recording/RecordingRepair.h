#pragma once
// Recovery of an encrypted recording whose writer never finished (daemon
// crash, SIGKILL, power loss): keeps the longest authenticated prefix of
// chunks and seals its last chunk again as the final one, so readers accept
// the file, and gives a Matroska/WebM payload whose muxer never finished its
// duration back (from the last block's timestamp). The recorder writes to "<name>.partial" and renames on success,
// so any ".partial" left behind is exactly the set of files that need this.

#include "recording/RecordingCrypto.h"

#include <cstdint>
#include <string>

namespace consultd::recording {

/// Suffix of a recording still being written (or left by a crash).
inline constexpr const char* kPartialSuffix = ".partial";
/// Suffix of a recording that could not be recovered.
inline constexpr const char* kFailedSuffix = ".failed";

/// What repairEncryptedRecording() did.
struct RepairReport {
    enum class Outcome {
        AlreadyComplete,  ///< the file had a valid final chunk; nothing changed
        Repaired,         ///< the authenticated prefix was kept and sealed as final
        Unrecoverable,    ///< no authenticated chunk (or no header); nothing changed
    };
    Outcome outcome = Outcome::Unrecoverable;
    std::uint64_t plaintextBytes = 0;  ///< bytes readable after the call
    std::uint64_t chunks = 0;          ///< chunks kept
    std::uint64_t droppedBytes = 0;    ///< file bytes cut off after the last good chunk
    bool matroskaDurationFixed = false;  ///< the WebM/Matroska inside got its Duration back
    std::string detail;                ///< human-readable reason / summary
};

/// Repairs `path` in place. Throws RecordingError(WrongKey) when the header
/// names another key (not a damaged file: do not mark it failed) and
/// RecordingError(Io) when the file cannot be read or written.
RepairReport repairEncryptedRecording(const std::string& path, const RecordingKey& key);

}  // namespace consultd::recording
