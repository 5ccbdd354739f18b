#pragma once
// Owning wrappers for GLib/GStreamer references: every ref the recorder takes
// is released by a destructor, never by hand.

#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include <memory>
#include <utility>

namespace consultd::media {

/// unique_ptr with a C release function.
template <typename T, void (*Release)(T*)>
struct CRelease {
    void operator()(T* p) const noexcept {
        if (p) Release(p);
    }
};

inline void unrefObject(GstObject* p) { gst_object_unref(p); }

/// An owned GstObject-derived reference (element, pad, bus...). Adopt with
/// GstRef<T>::adopt(ptr) for "transfer full" returns; share with ref().
template <typename T>
class GstRef {
public:
    GstRef() = default;
    static GstRef adopt(T* p) noexcept { return GstRef(p); }
    static GstRef ref(T* p) noexcept { return GstRef(p ? static_cast<T*>(gst_object_ref(p)) : nullptr); }
    /// For floating refs (freshly made elements): sink them so we own one ref.
    static GstRef sink(T* p) noexcept { return GstRef(p ? static_cast<T*>(gst_object_ref_sink(p)) : nullptr); }
    ~GstRef() { reset(); }
    GstRef(GstRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    GstRef& operator=(GstRef&& o) noexcept {
        if (this != &o) {
            reset();
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    GstRef(const GstRef& o) noexcept : p_(o.p_ ? static_cast<T*>(gst_object_ref(o.p_)) : nullptr) {}
    GstRef& operator=(const GstRef& o) noexcept {
        if (this != &o) *this = GstRef(o);
        return *this;
    }
    void reset() noexcept {
        if (p_) gst_object_unref(p_);
        p_ = nullptr;
    }
    T* get() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    explicit GstRef(T* p) noexcept : p_(p) {}
    T* p_ = nullptr;
};

inline void releaseCaps(GstCaps* c) { gst_caps_unref(c); }
inline void releaseSdp(GstSDPMessage* m) { gst_sdp_message_free(m); }
inline void releaseDesc(GstWebRTCSessionDescription* d) { gst_webrtc_session_description_free(d); }
inline void releasePromise(GstPromise* p) { gst_promise_unref(p); }
inline void releaseEvent(GstEvent* e) { gst_event_unref(e); }
inline void releaseGFree(gchar* s) { g_free(s); }
inline void releaseStructure(GstStructure* s) { gst_structure_free(s); }
inline void releaseArray(GArray* a) { g_array_unref(a); }
inline void releaseGObject(GObject* o) { g_object_unref(o); }
inline void releaseMainContext(GMainContext* c) { g_main_context_unref(c); }
inline void releaseMainLoop(GMainLoop* l) { g_main_loop_unref(l); }
inline void releaseSource(GSource* s) { g_source_unref(s); }

using CapsPtr = std::unique_ptr<GstCaps, CRelease<GstCaps, releaseCaps>>;
using SdpPtr = std::unique_ptr<GstSDPMessage, CRelease<GstSDPMessage, releaseSdp>>;
using DescPtr = std::unique_ptr<GstWebRTCSessionDescription, CRelease<GstWebRTCSessionDescription, releaseDesc>>;
using PromisePtr = std::unique_ptr<GstPromise, CRelease<GstPromise, releasePromise>>;
using GCharPtr = std::unique_ptr<gchar, CRelease<gchar, releaseGFree>>;
using StructurePtr = std::unique_ptr<GstStructure, CRelease<GstStructure, releaseStructure>>;
using GArrayPtr = std::unique_ptr<GArray, CRelease<GArray, releaseArray>>;
using GObjectPtr = std::unique_ptr<GObject, CRelease<GObject, releaseGObject>>;
using MainContextPtr = std::unique_ptr<GMainContext, CRelease<GMainContext, releaseMainContext>>;
using MainLoopPtr = std::unique_ptr<GMainLoop, CRelease<GMainLoop, releaseMainLoop>>;
using SourcePtr = std::unique_ptr<GSource, CRelease<GSource, releaseSource>>;

}  // namespace consultd::media
