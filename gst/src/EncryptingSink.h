#pragma once
// The recorder's file sink: a fakesink whose sink pad is probed so that the
// muxer's byte stream, including its seek-backs (BYTES segment events, used
// by matroskamux to patch sizes, duration and cues), goes through
// EncryptedRecordingWriter. Plaintext never reaches the disk, and there is no
// second pass over a finished file. The probe also answers the SEEKING query
// as filesink does: a muxer told "not seekable" falls back to "streamable"
// output without duration or index (matroskamux 1.22 assumes seekable when
// nobody answers; the explicit answer does not rely on that).

#include "GstPtr.h"

#include "recording/EncryptedRecordingWriter.h"

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace consultd::media {

/// State shared between the muxer's streaming thread (the probe) and the
/// branch on the loop thread. All members are guarded by the internal mutex.
class EncryptingSink {
public:
    /// Outcome notifications from the streaming thread; must only post work.
    struct Events {
        std::function<void()> onEos;
        std::function<void(const std::string& reason)> onFailure;
    };

    /// Creates "<finalPath>.partial" (throws recording::RecordingError) and a fakesink probed to write it.
    EncryptingSink(std::filesystem::path finalPath, const recording::RecordingKey& key, Events events);
    ~EncryptingSink();
    EncryptingSink(const EncryptingSink&) = delete;
    EncryptingSink& operator=(const EncryptingSink&) = delete;

    /// The fakesink element to add to the pipeline (owned by this object too).
    GstElement* element() const noexcept { return sink_.get(); }
    /// Waits until EOS reached the sink or writing failed; true if either happened in time.
    bool waitForEnd(std::chrono::milliseconds timeout);
    /// Finalises the file if the EOS path did not (call only when no streaming
    /// thread runs any more, i.e. after the pipeline went to NULL). Renames to
    /// the final path on success and to ".failed" on failure.
    void finishAfterStop();
    bool complete() const;
    std::optional<std::string> failure() const;
    std::uint64_t bytes() const;
    /// Where the file is now (final, ".partial" or ".failed").
    std::filesystem::path currentPath() const;

private:
    static GstPadProbeReturn probe(GstPad* pad, GstPadProbeInfo* info, gpointer self);
    GstPadProbeReturn onData(GstPadProbeInfo* info);
    void finishLocked();
    void failLocked(const std::string& reason);

    std::filesystem::path finalPath_;
    std::filesystem::path partialPath_;
    std::filesystem::path currentPath_;
    Events events_;
    GstRef<GstElement> sink_;
    mutable std::mutex mutex_;
    std::condition_variable ended_;
    std::unique_ptr<recording::EncryptedRecordingWriter> writer_;
    bool eos_ = false;
    bool complete_ = false;
    std::optional<std::string> failure_;
    gulong probeId_ = 0;
    std::uint64_t bytesAtEnd_ = 0;
};

}  // namespace consultd::media
