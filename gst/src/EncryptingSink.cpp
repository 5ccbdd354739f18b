#include "EncryptingSink.h"

#include <cstdio>
#include <system_error>

namespace consultd::media {

EncryptingSink::EncryptingSink(std::filesystem::path finalPath, const recording::RecordingKey& key, Events events)
    : finalPath_(std::move(finalPath)),
      partialPath_(finalPath_.string() + ".partial"),
      currentPath_(partialPath_),
      events_(std::move(events)),
      sink_(GstRef<GstElement>::sink(gst_element_factory_make("fakesink", nullptr))) {
    if (!sink_) throw std::runtime_error("GStreamer element fakesink missing (gstreamer1.0-plugins-base? core)");
    // Not synchronised to the clock (a file), and no preroll: the pipeline is live.
    g_object_set(sink_.get(), "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
    writer_ = std::make_unique<recording::EncryptedRecordingWriter>(partialPath_.string(), key);
    GstRef<GstPad> pad = GstRef<GstPad>::adopt(gst_element_get_static_pad(sink_.get(), "sink"));
    probeId_ = gst_pad_add_probe(
        pad.get(),
        static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                     GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM),
        &EncryptingSink::probe, this, nullptr);
}

EncryptingSink::~EncryptingSink() {
    GstRef<GstPad> pad = GstRef<GstPad>::adopt(gst_element_get_static_pad(sink_.get(), "sink"));
    if (pad && probeId_) gst_pad_remove_probe(pad.get(), probeId_);
}

GstPadProbeReturn EncryptingSink::probe(GstPad*, GstPadProbeInfo* info, gpointer self) {
    return static_cast<EncryptingSink*>(self)->onData(info);
}

void EncryptingSink::failLocked(const std::string& reason) {
    if (failure_) return;
    failure_ = reason;
    ended_.notify_all();
    if (events_.onFailure) events_.onFailure(reason);
}

void EncryptingSink::finishLocked() {
    if (complete_ || failure_ || !writer_) return;
    try {
        writer_->finish();
    } catch (const recording::RecordingError& e) {
        failLocked(std::string("finalising the recording failed: ") + e.what());
        return;
    }
    if (std::rename(partialPath_.c_str(), finalPath_.c_str()) != 0) {
        failLocked("renaming " + partialPath_.string() + " failed");
        return;
    }
    currentPath_ = finalPath_;
    complete_ = true;
}

GstPadProbeReturn EncryptingSink::onData(GstPadProbeInfo* info) {
    std::unique_lock lock(mutex_);
    if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM) {
        GstQuery* query = GST_PAD_PROBE_INFO_QUERY(info);
        if (GST_QUERY_TYPE(query) == GST_QUERY_SEEKING) {
            GstFormat format = GST_FORMAT_UNDEFINED;
            gst_query_parse_seeking(query, &format, nullptr, nullptr, nullptr);
            // Like filesink: seekable in bytes, which lets matroskamux write duration and cues.
            gst_query_set_seeking(query, format, format == GST_FORMAT_BYTES, 0, -1);
            return GST_PAD_PROBE_HANDLED;
        }
        return GST_PAD_PROBE_OK;
    }
    auto writeBuffer = [this](GstBuffer* buffer) {
        GstMapInfo map;
        if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
            failLocked("cannot map a muxer buffer");
            return;
        }
        try {
            writer_->write({map.data, map.size});
        } catch (const recording::RecordingError& e) {
            failLocked(std::string("writing the recording failed: ") + e.what());
        }
        gst_buffer_unmap(buffer, &map);
    };
    if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
        if (!failure_ && !complete_) writeBuffer(GST_PAD_PROBE_INFO_BUFFER(info));
        // The data is on disk (or the recording failed); fakesink need not see it.
        return GST_PAD_PROBE_DROP;
    }
    if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
        GstBufferList* list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
        for (guint i = 0; i < gst_buffer_list_length(list) && !failure_ && !complete_; ++i)
            writeBuffer(gst_buffer_list_get(list, i));
        return GST_PAD_PROBE_DROP;
    }
    GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
    if (!event) return GST_PAD_PROBE_OK;
    if (GST_EVENT_TYPE(event) == GST_EVENT_SEGMENT) {
        const GstSegment* segment = nullptr;
        gst_event_parse_segment(event, &segment);
        // matroskamux seeks by pushing a new BYTES segment starting at the target offset.
        if (segment->format == GST_FORMAT_BYTES && !failure_ && !complete_) {
            try {
                writer_->seek(segment->start);
            } catch (const recording::RecordingError& e) {
                failLocked(std::string("seeking in the recording failed: ") + e.what());
            }
        }
    } else if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
        finishLocked();
        eos_ = true;
        ended_.notify_all();
        if (events_.onEos) events_.onEos();
    }
    return GST_PAD_PROBE_OK;
}

bool EncryptingSink::waitForEnd(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return ended_.wait_for(lock, timeout, [this] { return eos_ || failure_.has_value(); });
}

void EncryptingSink::finishAfterStop() {
    std::unique_lock lock(mutex_);
    finishLocked();
    if (failure_ && !complete_) {
        // Make the failure visible on disk too: never a silent ".partial".
        bytesAtEnd_ = writer_ ? writer_->size() : bytesAtEnd_;
        writer_.reset();  // flushes what it can and closes
        std::filesystem::path failed = finalPath_.string() + ".failed";
        std::error_code ec;
        std::filesystem::rename(partialPath_, failed, ec);
        if (!ec) currentPath_ = failed;
    }
}

bool EncryptingSink::complete() const {
    std::lock_guard lock(mutex_);
    return complete_;
}

std::optional<std::string> EncryptingSink::failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
}

std::uint64_t EncryptingSink::bytes() const {
    std::lock_guard lock(mutex_);
    return writer_ ? writer_->size() : bytesAtEnd_;
}

std::filesystem::path EncryptingSink::currentPath() const {
    std::lock_guard lock(mutex_);
    return currentPath_;
}

}  // namespace consultd::media
