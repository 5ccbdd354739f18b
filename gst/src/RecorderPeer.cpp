#include "consultd/media/RecorderPeer.h"

#include "EncryptingSink.h"
#include "GstPtr.h"
#include "LoopThread.h"

#include "recording/RecordingCrypto.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <map>
#include <mutex>
#include <stdexcept>

namespace consultd::media {
namespace {

constexpr const char* kTransportCcUri =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

void initGstreamerOnce() {
    static std::once_flag once;
    static std::string error;
    std::call_once(once, [] {
        GError* err = nullptr;
        if (!gst_init_check(nullptr, nullptr, &err)) {
            error = err ? err->message : "gst_init failed";
            if (err) g_error_free(err);
            return;
        }
        // Element -> Debian package that provides it, for a useful message.
        static const std::pair<const char*, const char*> kNeeded[] = {
            {"webrtcbin", "gstreamer1.0-plugins-bad"}, {"nicesrc", "gstreamer1.0-nice"},
            {"rtpvp8depay", "gstreamer1.0-plugins-good"}, {"rtpopusdepay", "gstreamer1.0-plugins-good"},
            {"opusparse", "gstreamer1.0-plugins-bad"}, {"matroskamux", "gstreamer1.0-plugins-good"},
            {"webmmux", "gstreamer1.0-plugins-good"}, {"h264parse", "gstreamer1.0-plugins-bad"},
            {"fakesink", "libgstreamer1.0-0"}, {"queue", "libgstreamer1.0-0"}};
        for (const auto& [element, package] : kNeeded) {
            GstRef<GstElementFactory> f = GstRef<GstElementFactory>::adopt(gst_element_factory_find(element));
            if (!f) error += std::string(error.empty() ? "" : "; ") + "GStreamer element " + element +
                             " missing (install " + package + ")";
        }
    });
    if (!error.empty()) throw std::runtime_error(error);
}

std::string percentEncode(const std::string& in) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : in) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

std::string sanitiseForFileName(const std::string& in) {
    std::string out;
    for (unsigned char c : in) out.push_back(std::isalnum(c) || c == '-' || c == '_' ? static_cast<char>(c) : '_');
    return out.empty() ? "_" : out.substr(0, 64);
}

std::string utcStamp() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

SdpPtr parseSdp(const std::string& text) {
    GstSDPMessage* raw = nullptr;
    gst_sdp_message_new(&raw);
    SdpPtr sdp(raw);
    if (gst_sdp_message_parse_buffer(reinterpret_cast<const guint8*>(text.data()),
                                     static_cast<guint>(text.size()), sdp.get()) != GST_SDP_OK ||
        gst_sdp_message_medias_len(sdp.get()) == 0)
        throw std::invalid_argument("unparsable SDP or no media lines");
    return sdp;
}

std::string sdpToString(const GstSDPMessage* sdp) {
    GCharPtr text(gst_sdp_message_as_text(sdp));
    return text ? text.get() : "";
}

/// The first real codec of an m-line (rtx/red/fec are helpers, not tracks).
std::string primaryCodec(const GstSDPMedia* media) {
    for (guint i = 0; i < gst_sdp_media_formats_len(media); ++i) {
        int pt = std::atoi(gst_sdp_media_get_format(media, i));
        CapsPtr caps(gst_sdp_media_get_caps_from_media(media, pt));
        if (!caps || gst_caps_is_empty(caps.get())) continue;
        const char* name = gst_structure_get_string(gst_caps_get_structure(caps.get(), 0), "encoding-name");
        if (!name) continue;
        std::string upper = name;
        std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
        if (upper == "RTX" || upper == "RED" || upper == "ULPFEC" || upper == "FLEXFEC-03" || upper == "TELEPHONE-EVENT")
            continue;
        return upper;
    }
    return {};
}

/// Media the file will hold, from the negotiated (answer) SDP.
struct PlannedTrack {
    unsigned mline = 0;
    std::string kind;   // "audio" / "video"
    std::string codec;  // "VP8", "OPUS", ...
};

/// `remote`: the SDP came from the sender (its directions are the mirror of ours).
std::vector<PlannedTrack> planTracks(const GstSDPMessage* answer, bool remote) {
    // Port 0 rejects an m-line unless it is bundled (max-bundle puts port 0 +
    // a=bundle-only on every m-line but the first).
    std::vector<std::string> bundled;
    for (guint i = 0; i < gst_sdp_message_attributes_len(answer); ++i) {
        const GstSDPAttribute* attr = gst_sdp_message_get_attribute(answer, i);
        if (g_strcmp0(attr->key, "group") != 0 || !attr->value) continue;
        std::string value = attr->value;
        if (value.rfind("BUNDLE", 0) != 0) continue;
        std::size_t pos = 6;
        while (pos < value.size()) {
            std::size_t next = value.find(' ', pos + 1);
            std::string mid = value.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
            if (!mid.empty()) bundled.push_back(mid);
            pos = next == std::string::npos ? value.size() : next;
        }
    }
    std::vector<PlannedTrack> tracks;
    for (guint i = 0; i < gst_sdp_message_medias_len(answer); ++i) {
        const GstSDPMedia* media = gst_sdp_message_get_media(answer, i);
        std::string kind = gst_sdp_media_get_media(media);
        if (kind != "audio" && kind != "video") continue;
        const char* mid = gst_sdp_media_get_attribute_val(media, "mid");
        bool inBundle = gst_sdp_media_get_attribute_val(media, "bundle-only") != nullptr ||
                        (mid && std::find(bundled.begin(), bundled.end(), mid) != bundled.end());
        if (gst_sdp_media_get_port(media) == 0 && !inBundle) continue;
        // Nothing will be received on an inactive m-line, nor on one where the
        // side that wrote this SDP only receives.
        if (gst_sdp_media_get_attribute_val(media, "inactive") ||
            gst_sdp_media_get_attribute_val(media, remote ? "recvonly" : "sendonly"))
            continue;
        std::string codec = primaryCodec(media);
        if (!codec.empty()) tracks.push_back({i, kind, codec});
    }
    return tracks;
}

/// The offer's transport-cc extension id on `media`, or 0.
int transportCcId(const GstSDPMedia* media) {
    for (guint i = 0; i < gst_sdp_media_attributes_len(media); ++i) {
        const GstSDPAttribute* attr = gst_sdp_media_get_attribute(media, i);
        if (g_strcmp0(attr->key, "extmap") != 0 || !attr->value) continue;
        std::string value = attr->value;
        if (value.find(kTransportCcUri) != std::string::npos) return std::atoi(value.c_str());
    }
    return 0;
}

}  // namespace

std::optional<std::string> toWebrtcbinUri(const IceServer& server) {
    std::string url = server.url;
    std::string scheme;
    for (const char* s : {"stun", "turns", "turn"}) {
        std::string p = std::string(s) + ":";
        if (url.rfind(p, 0) == 0) {
            scheme = s;
            url = url.substr(p.size());
            break;
        }
    }
    if (scheme.empty()) return std::nullopt;
    if (url.rfind("//", 0) == 0) url = url.substr(2);
    if (url.empty()) return std::nullopt;
    if (scheme == "stun") return "stun://" + url;
    // Time-limited TURN usernames are "expiry:user" and passwords base64: both
    // must be percent-encoded or webrtcbin's URI parser fails without an error.
    return scheme + "://" + percentEncode(server.username) + ":" + percentEncode(server.credential) + "@" + url;
}

/// One sending participant: webrtcbin -> depayloaders -> muxer -> encrypting sink,
/// in a pipeline of its own. Created, driven and destroyed on the loop thread;
/// the pad-added and probe handlers run on streaming threads and touch only the
/// mutex-guarded members.
class Branch : public std::enable_shared_from_this<Branch> {
public:
    Branch(std::string participantId, const RecorderConfig& config, LoopThread& loop,
           std::function<void(std::string, std::string)> log,
           std::function<void(std::shared_ptr<Branch>, std::string)> ended)
        : participantId_(std::move(participantId)), config_(config), loop_(loop), log_(std::move(log)),
          ended_(std::move(ended)) {}

    ~Branch() { teardown(); }

    const std::string& participantId() const { return participantId_; }

    void start(const RecorderCallbacks& callbacks) {
        callbacks_ = callbacks;
        pipeline_ = GstRef<GstElement>::sink(gst_pipeline_new(nullptr));
        webrtc_ = GstRef<GstElement>::sink(gst_element_factory_make("webrtcbin", nullptr));
        if (!pipeline_ || !webrtc_) throw std::runtime_error("cannot create webrtcbin pipeline");
        g_object_set(webrtc_.get(), "latency", config_.jitterLatencyMs, nullptr);
        // Browsers and webrtcbin senders offer max-bundle (port 0 + bundle-only
        // on all but the first m-line); with the default policy the answer
        // would reject those m-lines and lose the audio track.
        g_object_set(webrtc_.get(), "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, nullptr);
        g_object_set(webrtc_.get(), "ice-transport-policy",
                     config_.icePolicy == IceTransportPolicy::RelayOnly ? GST_WEBRTC_ICE_TRANSPORT_POLICY_RELAY
                                                                         : GST_WEBRTC_ICE_TRANSPORT_POLICY_ALL,
                     nullptr);
        for (const auto& server : config_.iceServers) {
            auto uri = toWebrtcbinUri(server);
            if (!uri) {
                log("ignoring ICE server with unsupported URL " + server.url);
                continue;
            }
            if (uri->rfind("stun://", 0) == 0) {
                g_object_set(webrtc_.get(), "stun-server", uri->c_str(), nullptr);
            } else {
                gboolean added = FALSE;
                g_signal_emit_by_name(webrtc_.get(), "add-turn-server", uri->c_str(), &added);
                if (!added) log("webrtcbin refused TURN server " + server.url);
            }
        }
        gst_bin_add(GST_BIN(pipeline_.get()), GST_ELEMENT(gst_object_ref(webrtc_.get())));
        g_signal_connect(webrtc_.get(), "on-ice-candidate", G_CALLBACK(&Branch::onIceCandidate), this);
        g_signal_connect(webrtc_.get(), "pad-added", G_CALLBACK(&Branch::onPadAdded), this);
        g_signal_connect(webrtc_.get(), "notify::ice-gathering-state", G_CALLBACK(&Branch::onGatheringState), this);
        g_signal_connect(webrtc_.get(), "notify::ice-connection-state", G_CALLBACK(&Branch::onIceState), this);
        // The internal rtpbin tells us when a sender's SSRC went silent (~5 s)
        // long before ICE notices (~44 s): that ends the track's branch.
        GstRef<GstElement> rtpbin =
            GstRef<GstElement>::adopt(gst_bin_get_by_name(GST_BIN(webrtc_.get()), "rtpbin"));
        if (rtpbin) {
            g_signal_connect(rtpbin.get(), "on-timeout", G_CALLBACK(&Branch::onSsrcTimeout), this);
            g_signal_connect(rtpbin.get(), "on-bye-ssrc", G_CALLBACK(&Branch::onSsrcTimeout), this);
            rtpbin_ = std::move(rtpbin);
        }
        GstRef<GstBus> bus = GstRef<GstBus>::adopt(gst_element_get_bus(pipeline_.get()));
        busWatch_.reset(gst_bus_create_watch(bus.get()));
        g_source_set_callback(busWatch_.get(), G_SOURCE_FUNC(&Branch::onBusMessage), this, nullptr);
        g_source_attach(busWatch_.get(), loop_.context());
        // webrtcbin refuses descriptions while in NULL ("webrtcbin is closed").
        if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
            throw std::runtime_error("webrtc pipeline refused to start");
        GObject* agent = nullptr;
        g_object_get(webrtc_.get(), "ice-agent", &agent, nullptr);
        GObjectPtr agentRef(agent);
        if (agentRef && g_object_class_find_property(G_OBJECT_GET_CLASS(agentRef.get()), "agent")) {
            // libnice would otherwise look for a UPnP gateway (SSDP multicast on
            // the LAN) and try to open ports on it: never wanted on a clinic network.
            GObject* nice = nullptr;
            g_object_get(agentRef.get(), "agent", &nice, nullptr);
            GObjectPtr niceRef(nice);
            if (niceRef && g_object_class_find_property(G_OBJECT_GET_CLASS(niceRef.get()), "upnp"))
                g_object_set(niceRef.get(), "upnp", FALSE, nullptr);
        }
        for (const auto& address : config_.localAddresses) {
            gboolean ok = FALSE;
            if (agentRef) g_signal_emit_by_name(agentRef.get(), "add-local-ip-address", address.c_str(), &ok);
            if (!ok) log("ICE agent refused local address " + address);
        }
    }

    void handleOffer(const std::string& sdpText) {
        SdpPtr offer = parseSdp(sdpText);
        // One recvonly transceiver per offered audio/video m-line, made before
        // the offer is applied so webrtcbin associates them with it: they ask
        // for NACKs and carry the offer's transport-wide CC header extension
        // into the answer (webrtcbin drops it otherwise, and Chrome then keeps
        // its send rate at the floor).
        // On a renegotiation the existing transceivers are matched again.
        for (guint mline = 0; !negotiated_ && mline < gst_sdp_message_medias_len(offer.get()); ++mline) {
            const GstSDPMedia* media = gst_sdp_message_get_media(offer.get(), mline);
            std::string kind = gst_sdp_media_get_media(media);
            if (kind != "audio" && kind != "video") continue;
            int ccId = transportCcId(media);
            CapsPtr prefs(gst_caps_new_empty());
            for (guint f = 0; f < gst_sdp_media_formats_len(media); ++f) {
                CapsPtr caps(gst_sdp_media_get_caps_from_media(media, std::atoi(gst_sdp_media_get_format(media, f))));
                if (!caps) continue;
                caps.reset(gst_caps_make_writable(caps.release()));
                GstStructure* s = gst_caps_get_structure(caps.get(), 0);
                gst_structure_set_name(s, "application/x-rtp");
                gst_structure_set(s, "media", G_TYPE_STRING, kind.c_str(), nullptr);
                if (ccId > 0)
                    gst_structure_set(s, ("extmap-" + std::to_string(ccId)).c_str(), G_TYPE_STRING, kTransportCcUri, nullptr);
                gst_caps_append(prefs.get(), caps.release());
            }
            GstWebRTCRTPTransceiver* t = nullptr;
            g_signal_emit_by_name(webrtc_.get(), "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
                                  gst_caps_is_empty(prefs.get()) ? nullptr : prefs.get(), &t);
            if (!t) throw std::runtime_error("webrtcbin refused a " + kind + " transceiver");
            if (kind == "video") g_object_set(t, "do-nack", TRUE, nullptr);
            gst_object_unref(t);
        }
        setDescription("set-remote-description", GST_WEBRTC_SDP_TYPE_OFFER, offer.get());
        DescPtr answer = createDescription("create-answer");
        buildRecorder(answer->sdp, false);
        setDescription("set-local-description", GST_WEBRTC_SDP_TYPE_ANSWER, answer->sdp);
        negotiated_ = true;
        emitDescription("answer", answer->sdp);
    }

    void createOffer(bool audio, bool video) {
        // Without transceivers first the offer has no media lines at all.
        auto add = [&](const char* capsText) {
            CapsPtr caps(gst_caps_from_string(capsText));
            GstWebRTCRTPTransceiver* t = nullptr;
            g_signal_emit_by_name(webrtc_.get(), "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
                                  caps.get(), &t);
            if (t) gst_object_unref(t);
        };
        const std::string cc = std::string(",extmap-3=(string)") + kTransportCcUri;
        if (video)
            add(("application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000,rtcp-fb-nack=(boolean)true,"
                 "rtcp-fb-nack-pli=(boolean)true,rtcp-fb-ccm-fir=(boolean)true,rtcp-fb-transport-cc=(boolean)true" + cc + ";"
                 "application/x-rtp,media=video,encoding-name=VP9,payload=98,clock-rate=90000,rtcp-fb-nack=(boolean)true,"
                 "rtcp-fb-nack-pli=(boolean)true,rtcp-fb-transport-cc=(boolean)true" + cc + ";"
                 "application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,"
                 "packetization-mode=(string)1,profile-level-id=(string)42e01f,level-asymmetry-allowed=(string)1,"
                 "rtcp-fb-nack=(boolean)true,rtcp-fb-nack-pli=(boolean)true,rtcp-fb-transport-cc=(boolean)true" + cc)
                    .c_str());
        if (audio)
            add(("application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,"
                 "encoding-params=(string)2,rtcp-fb-transport-cc=(boolean)true" + cc)
                    .c_str());
        DescPtr offer = createDescription("create-offer");
        setDescription("set-local-description", GST_WEBRTC_SDP_TYPE_OFFER, offer->sdp);
        emitDescription("offer", offer->sdp);
    }

    void handleAnswer(const std::string& sdpText) {
        SdpPtr answer = parseSdp(sdpText);
        // What the sender agreed to send decides the container and the mux pads.
        buildRecorder(answer.get(), true);
        setDescription("set-remote-description", GST_WEBRTC_SDP_TYPE_ANSWER, answer.get());
        negotiated_ = true;
    }

    void addRemoteCandidate(unsigned mline, const std::string& candidate) {
        // webrtcbin queues candidates that arrive before the remote description.
        g_signal_emit_by_name(webrtc_.get(), "add-ice-candidate", mline, candidate.c_str());
    }

    /// Ends the recording: EOS through every track, wait for the muxer to
    /// finish at the sink, stop the pipeline. Returns the result (once).
    RecordingResult finalise(const std::string& reason) {
        RecordingResult result;
        result.participantId = participantId_;
        result.reason = endReason_.empty() ? reason : endReason_;
        {
            std::lock_guard lock(mutex_);
            finalising_ = true;
            for (const auto& t : trackNames_) result.tracks.push_back(t);
            result.duration = std::chrono::nanoseconds(
                lastPts_ != GST_CLOCK_TIME_NONE && firstPts_ != GST_CLOCK_TIME_NONE ? lastPts_ - firstPts_ : 0);
        }
        if (sink_) {
            sendEosToAllTracks();
            if (!sink_->waitForEnd(config_.finaliseTimeout))
                result.reason += "; muxer did not finish within the timeout";
        }
        if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
        if (sink_) {
            sink_->finishAfterStop();
            result.file = sink_->currentPath();
            result.bytes = sink_->bytes();
            result.ok = sink_->complete() && !sink_->failure() && !pipelineError_;
            if (auto failure = sink_->failure()) result.reason = *failure;
            else if (pipelineError_) result.reason = *pipelineError_;
        } else {
            result.reason = "no media was negotiated" + (pipelineError_ ? ": " + *pipelineError_ : std::string());
        }
        teardown();
        return result;
    }

    /// A failure noticed on a streaming thread or the bus: end this branch.
    void failFromStreaming(const std::string& reason) {
        auto self = weak_from_this();
        loop_.post([self, reason] {
            auto branch = self.lock();
            if (!branch) return;
            if (branch->endReason_.empty()) branch->endReason_ = reason;  // loop thread only
            branch->ended_(branch, reason);
        });
    }

    /// True until the first description was applied (a failed first
    /// negotiation leaves nothing worth keeping).
    bool negotiated() const { return negotiated_; }
    /// True once the muxer and its file exist.
    bool hasRecording() const { return sink_ != nullptr; }

private:
    struct Track {
        std::string kind;
        std::string codec;
        unsigned ssrc = 0;
        GstRef<GstPad> head;    // first pad of the depayload chain
        GstRef<GstPad> muxPad;  // its muxer pad
        bool eosSent = false;
    };

    void log(const std::string& line) {
        if (log_) log_(participantId_, line);
    }

    DescPtr createDescription(const char* signal) {
        PromisePtr promise(gst_promise_new());
        g_signal_emit_by_name(webrtc_.get(), signal, nullptr, promise.get());
        // webrtcbin answers on its own thread; waiting here does not need our loop.
        if (gst_promise_wait(promise.get()) != GST_PROMISE_RESULT_REPLIED)
            throw std::runtime_error(std::string(signal) + " got no reply");
        const GstStructure* reply = gst_promise_get_reply(promise.get());
        GstWebRTCSessionDescription* desc = nullptr;
        const char* field = std::string(signal) == "create-offer" ? "offer" : "answer";
        if (!reply || !gst_structure_get(reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr)) {
            GError* error = nullptr;
            if (reply) gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
            std::string message = error ? error->message : "no description";
            if (error) g_error_free(error);
            throw std::invalid_argument(std::string(signal) + " failed: " + message);
        }
        return DescPtr(desc);
    }

    void setDescription(const char* signal, GstWebRTCSDPType type, const GstSDPMessage* sdp) {
        GstSDPMessage* copy = nullptr;
        gst_sdp_message_copy(sdp, &copy);
        DescPtr desc(gst_webrtc_session_description_new(type, copy));
        PromisePtr promise(gst_promise_new());
        g_signal_emit_by_name(webrtc_.get(), signal, desc.get(), promise.get());
        gst_promise_wait(promise.get());
        const GstStructure* reply = gst_promise_get_reply(promise.get());
        GError* error = nullptr;
        if (reply && gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr) && error) {
            std::string message = error->message;
            g_error_free(error);
            throw std::invalid_argument(std::string(signal) + " failed: " + message);
        }
    }

    void emitDescription(const char* type, const GstSDPMessage* sdp) {
        if (callbacks_.onLocalDescription) callbacks_.onLocalDescription(participantId_, type, sdpToString(sdp));
    }

    /// Creates muxer, sink and one mux pad per negotiated track before any
    /// media flows: matroskamux writes its header once, when every pad has
    /// data, so a pad requested later is rejected ("Headers were already written").
    void buildRecorder(const GstSDPMessage* negotiated, bool remote) {
        if (sink_) return;  // renegotiation keeps the file and its tracks
        auto planned = planTracks(negotiated, remote);
        if (planned.empty()) throw std::invalid_argument("no audio or video to receive in the negotiated SDP");
        bool matroska = std::any_of(planned.begin(), planned.end(), [](const PlannedTrack& t) {
            return t.codec != "VP8" && t.codec != "VP9" && t.codec != "OPUS";
        });
        for (const auto& t : planned)
            if (t.codec != "VP8" && t.codec != "VP9" && t.codec != "OPUS" && t.codec != "H264")
                throw std::invalid_argument("codec " + t.codec + " cannot be recorded without re-encoding");
        std::filesystem::path file;
        if (config_.fileFor) {
            std::vector<std::string> names;
            for (const auto& t : planned) names.push_back(t.kind + "/" + t.codec);
            // The daemon's catalog names the file (and records that it exists) before a byte is written.
            file = config_.fileFor(participantId_, matroska ? "matroska" : "webm", names);
        } else {
            file = config_.outputDir / (sanitiseForFileName(config_.sessionId) + "-" +
                                        sanitiseForFileName(participantId_) + "-" + utcStamp() +
                                        (matroska ? ".mkv" : ".webm"));
        }
        auto self = weak_from_this();
        LoopThread* loop = &loop_;
        EncryptingSink::Events events;
        events.onEos = [self, loop] {
            loop->post([self] {
                if (auto b = self.lock()) b->ended_(b, "all tracks ended (sender timed out or left)");
            });
        };
        events.onFailure = [self, loop](const std::string& reason) {
            loop->post([self, reason] {
                if (auto b = self.lock()) {
                    if (b->endReason_.empty()) b->endReason_ = reason;
                    b->ended_(b, reason);
                }
            });
        };
        sink_ = std::make_unique<EncryptingSink>(file, *config_.key, std::move(events));
        mux_ = GstRef<GstElement>::sink(gst_element_factory_make(matroska ? "matroskamux" : "webmmux", nullptr));
        // Start at 0 whatever the ICE/DTLS delay was, and cap clusters at 1 s so
        // a crash loses little and size patches stay close to the write position.
        g_object_set(mux_.get(), "offset-to-zero", TRUE, "max-cluster-duration", G_GINT64_CONSTANT(1000000000),
                     "streamable", FALSE, nullptr);
        gst_bin_add_many(GST_BIN(pipeline_.get()), GST_ELEMENT(gst_object_ref(mux_.get())),
                         GST_ELEMENT(gst_object_ref(sink_->element())), nullptr);
        if (!gst_element_link(mux_.get(), sink_->element())) throw std::runtime_error("cannot link muxer to sink");
        std::lock_guard lock(mutex_);
        for (const auto& t : planned) {
            GstRef<GstPad> pad = GstRef<GstPad>::adopt(
                gst_element_request_pad_simple(mux_.get(), t.kind == "video" ? "video_%u" : "audio_%u"));
            if (!pad) throw std::runtime_error("muxer refused a " + t.kind + " pad");
            muxPadsByMline_[t.mline] = pad;
            trackNames_.push_back(t.kind + "/" + t.codec);
        }
        gst_element_sync_state_with_parent(sink_->element());
        gst_element_sync_state_with_parent(mux_.get());
        log("recording to " + file.string() + ".partial (" + std::to_string(planned.size()) + " tracks)");
    }

    static void onIceCandidate(GstElement*, guint mline, gchar* candidate, Branch* self) {
        std::string c = candidate ? candidate : "";
        if (c.find(" typ relay") != std::string::npos) ++self->relayCandidates_;
        else if (c.find(" typ srflx") != std::string::npos || c.find(" typ prflx") != std::string::npos) ++self->srflxCandidates_;
        else if (!c.empty()) ++self->hostCandidates_;
        auto weak = self->weak_from_this();
        self->loop_.post([weak, mline, c] {
            if (auto b = weak.lock())
                if (b->callbacks_.onLocalCandidate) b->callbacks_.onLocalCandidate(b->participantId_, mline, c);
        });
    }

    static void onGatheringState(GstElement* webrtc, GParamSpec*, Branch* self) {
        GstWebRTCICEGatheringState state{};
        g_object_get(webrtc, "ice-gathering-state", &state, nullptr);
        if (state != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) return;
        // A wrong TURN password gives no relay candidates and no error: say so.
        int host = self->hostCandidates_, srflx = self->srflxCandidates_, relay = self->relayCandidates_;
        std::string line = "ICE gathering complete: " + std::to_string(host) + " host, " + std::to_string(srflx) +
                           " srflx, " + std::to_string(relay) + " relay candidates";
        if (relay == 0 && self->config_.icePolicy == IceTransportPolicy::RelayOnly)
            line += " (relay-only policy and no relay candidate: check the TURN URL and credentials)";
        auto weak = self->weak_from_this();
        self->loop_.post([weak, line] {
            if (auto b = weak.lock()) b->log(line);
        });
    }

    static void onIceState(GstElement* webrtc, GParamSpec*, Branch* self) {
        GstWebRTCICEConnectionState state{};
        g_object_get(webrtc, "ice-connection-state", &state, nullptr);
        static const char* kNames[] = {"new", "checking", "connected", "completed", "failed", "disconnected", "closed"};
        std::string line = std::string("ICE connection state: ") +
                           (static_cast<unsigned>(state) < 7 ? kNames[state] : "unknown");
        auto weak = self->weak_from_this();
        self->loop_.post([weak, line, state] {
            if (auto b = weak.lock()) {
                b->log(line);
                if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED) b->failFromStreaming("ICE connection failed");
            }
        });
    }

    static void onSsrcTimeout(GstElement*, guint session, guint ssrc, Branch* self) {
        auto weak = self->weak_from_this();
        self->loop_.post([weak, session, ssrc] {
            auto b = weak.lock();
            if (!b) return;
            std::lock_guard lock(b->mutex_);
            for (auto& t : b->tracks_) {
                if (t.ssrc != ssrc || t.eosSent) continue;
                b->log("sender SSRC " + std::to_string(ssrc) + " (session " + std::to_string(session) +
                       ") timed out or said BYE: ending its " + t.kind + " track");
                gst_pad_send_event(t.head.get(), gst_event_new_eos());
                t.eosSent = true;
            }
        });
    }

    static gboolean onBusMessage(GstBus*, GstMessage* message, Branch* self) {
        if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
            GError* error = nullptr;
            gchar* debug = nullptr;
            gst_message_parse_error(message, &error, &debug);
            std::string reason = std::string("pipeline error from ") + GST_OBJECT_NAME(GST_MESSAGE_SRC(message)) +
                                 ": " + (error ? error->message : "unknown");
            if (error) g_error_free(error);
            g_free(debug);
            self->log(reason);
            if (!self->pipelineError_) self->pipelineError_ = reason;
            self->failFromStreaming(reason);
        } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING) {
            GError* error = nullptr;
            gst_message_parse_warning(message, &error, nullptr);
            self->log(std::string("warning: ") + (error ? error->message : "unknown"));
            if (error) g_error_free(error);
        }
        return G_SOURCE_CONTINUE;
    }

    /// pad-added (streaming thread): depayload the new RTP stream into its mux pad.
    static void onPadAdded(GstElement*, GstPad* pad, Branch* self) {
        if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
        try {
            self->linkTrack(pad);
        } catch (const std::exception& e) {
            self->failFromStreaming(std::string("cannot record a received track: ") + e.what());
        }
    }

    void linkTrack(GstPad* pad) {
        CapsPtr caps(gst_pad_get_current_caps(pad));
        if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
        const GstStructure* s = gst_caps_get_structure(caps.get(), 0);
        std::string codec = gst_structure_get_string(s, "encoding-name") ? gst_structure_get_string(s, "encoding-name") : "";
        std::string kind = gst_structure_get_string(s, "media") ? gst_structure_get_string(s, "media") : "";
        guint ssrc = 0;
        gst_structure_get_uint(s, "ssrc", &ssrc);
        GstWebRTCRTPTransceiver* transceiver = nullptr;
        g_object_get(pad, "transceiver", &transceiver, nullptr);
        guint mline = 0;
        if (transceiver) {
            g_object_get(transceiver, "mlineindex", &mline, nullptr);
            gst_object_unref(transceiver);
        }
        std::vector<const char*> chain;
        if (codec == "VP8") chain = {"rtpvp8depay"};
        else if (codec == "VP9") chain = {"rtpvp9depay"};
        else if (codec == "H264") chain = {"rtph264depay", "h264parse"};
        // rtpopusdepay sets the rate webmmux needs only with sprop-maxcapturerate,
        // which browsers and aiortc do not send; opusparse fills it in.
        else if (codec == "OPUS") chain = {"rtpopusdepay", "opusparse"};
        else throw std::runtime_error("unsupported codec " + codec);
        chain.push_back("queue");

        std::lock_guard lock(mutex_);
        if (finalising_) return;
        auto muxIt = muxPadsByMline_.find(mline);
        if (muxIt == muxPadsByMline_.end()) {
            // A track added by renegotiation after the file header was written:
            // it cannot join this file, so it is dropped (and said so) rather
            // than failing the recording of the tracks we have.
            GstElement* drop = gst_element_factory_make("fakesink", nullptr);
            if (!drop) throw std::runtime_error("element fakesink missing");
            g_object_set(drop, "sync", FALSE, "async", FALSE, nullptr);
            gst_bin_add(GST_BIN(pipeline_.get()), drop);
            gst_element_sync_state_with_parent(drop);
            GstRef<GstPad> sinkPad = GstRef<GstPad>::adopt(gst_element_get_static_pad(drop, "sink"));
            gst_pad_link(pad, sinkPad.get());
            std::string line = "not recording " + kind + "/" + codec + " on m-line " + std::to_string(mline) +
                               ": it was added after the recording started";
            auto weak = weak_from_this();
            loop_.post([weak, line] {
                if (auto b = weak.lock()) b->log(line);
            });
            return;
        }
        std::vector<GstElement*> elements;
        for (const char* name : chain) {
            GstElement* e = gst_element_factory_make(name, nullptr);
            if (!e) throw std::runtime_error(std::string("element ") + name + " missing");
            elements.push_back(e);
            gst_bin_add(GST_BIN(pipeline_.get()), e);  // the bin takes the floating ref
        }
        for (std::size_t i = 0; i + 1 < elements.size(); ++i)
            if (!gst_element_link(elements[i], elements[i + 1])) throw std::runtime_error("cannot link " + codec + " chain");
        GstRef<GstPad> tail = GstRef<GstPad>::adopt(gst_element_get_static_pad(elements.back(), "src"));
        if (gst_pad_link(tail.get(), muxIt->second.get()) != GST_PAD_LINK_OK)
            throw std::runtime_error("muxer refused the " + codec + " track");
        for (GstElement* e : elements) gst_element_sync_state_with_parent(e);
        GstRef<GstPad> head = GstRef<GstPad>::adopt(gst_element_get_static_pad(elements.front(), "sink"));
        gst_pad_add_probe(head.get(), GST_PAD_PROBE_TYPE_BUFFER, &Branch::onTrackBuffer, this, nullptr);
        if (gst_pad_link(pad, head.get()) != GST_PAD_LINK_OK) throw std::runtime_error("cannot link webrtcbin pad");
        tracks_.push_back({kind, codec, ssrc, head, muxIt->second, false});
        linkedMlines_.push_back(mline);
        std::string line = "receiving " + kind + "/" + codec + " (ssrc " + std::to_string(ssrc) + ")";
        auto weak = weak_from_this();
        loop_.post([weak, line] {
            if (auto b = weak.lock()) b->log(line);
        });
    }

    static GstPadProbeReturn onTrackBuffer(GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* self = static_cast<Branch*>(data);
        GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
        GstClockTime pts = GST_BUFFER_PTS(buffer);
        if (pts == GST_CLOCK_TIME_NONE) return GST_PAD_PROBE_OK;
        bool first = false;
        {
            std::lock_guard lock(self->mutex_);
            if (self->firstPts_ == GST_CLOCK_TIME_NONE || pts < self->firstPts_) {
                first = self->firstPts_ == GST_CLOCK_TIME_NONE;
                self->firstPts_ = pts;
            }
            if (self->lastPts_ == GST_CLOCK_TIME_NONE || pts > self->lastPts_) self->lastPts_ = pts;
        }
        if (first) {
            auto weak = self->weak_from_this();
            self->loop_.post([weak] {
                if (auto b = weak.lock()) b->log("media flowing");
            });
        }
        return GST_PAD_PROBE_OK;
    }

    void sendEosToAllTracks() {
        std::lock_guard lock(mutex_);
        for (auto& t : tracks_) {
            if (t.eosSent) continue;
            gst_pad_send_event(t.head.get(), gst_event_new_eos());
            t.eosSent = true;
        }
        // A negotiated track that never sent RTP would block the muxer forever.
        for (auto& [mline, pad] : muxPadsByMline_) {
            if (std::find(linkedMlines_.begin(), linkedMlines_.end(), mline) != linkedMlines_.end()) continue;
            gst_pad_send_event(pad.get(), gst_event_new_eos());
        }
    }

    void teardown() {
        if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
        if (busWatch_) {
            g_source_destroy(busWatch_.get());
            busWatch_.reset();
        }
        // No streaming thread runs now: handlers can go, then the objects.
        if (webrtc_) g_signal_handlers_disconnect_by_data(webrtc_.get(), this);
        if (rtpbin_) g_signal_handlers_disconnect_by_data(rtpbin_.get(), this);
        {
            std::lock_guard lock(mutex_);
            tracks_.clear();
            muxPadsByMline_.clear();
        }
        if (mux_) {
            // Release requested pads so the muxer is freed with the pipeline.
            GstIterator* it = gst_element_iterate_sink_pads(mux_.get());
            GValue item = G_VALUE_INIT;
            std::vector<GstRef<GstPad>> pads;
            while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
                pads.push_back(GstRef<GstPad>::ref(GST_PAD(g_value_get_object(&item))));
                g_value_reset(&item);
            }
            g_value_unset(&item);
            gst_iterator_free(it);
            for (auto& p : pads) gst_element_release_request_pad(mux_.get(), p.get());
        }
        rtpbin_.reset();
        mux_.reset();
        webrtc_.reset();
        pipeline_.reset();
        sink_.reset();
    }

    std::string participantId_;
    const RecorderConfig& config_;
    LoopThread& loop_;
    std::function<void(std::string, std::string)> log_;
    std::function<void(std::shared_ptr<Branch>, std::string)> ended_;
    RecorderCallbacks callbacks_;
    GstRef<GstElement> pipeline_;
    GstRef<GstElement> webrtc_;
    GstRef<GstElement> rtpbin_;
    GstRef<GstElement> mux_;
    SourcePtr busWatch_;
    std::unique_ptr<EncryptingSink> sink_;
    std::optional<std::string> pipelineError_;
    std::string endReason_;

    std::mutex mutex_;  // guards the members below (streaming threads + loop thread)
    std::map<unsigned, GstRef<GstPad>> muxPadsByMline_;
    std::vector<unsigned> linkedMlines_;
    std::vector<Track> tracks_;
    std::vector<std::string> trackNames_;
    GstClockTime firstPts_ = GST_CLOCK_TIME_NONE;
    GstClockTime lastPts_ = GST_CLOCK_TIME_NONE;
    bool finalising_ = false;
    bool negotiated_ = false;  // loop thread only
    std::atomic<int> hostCandidates_{0}, srflxCandidates_{0}, relayCandidates_{0};
};

class RecorderPeer::Impl {
public:
    Impl(RecorderConfig config, RecorderCallbacks callbacks)
        : config_(std::move(config)), callbacks_(std::move(callbacks)) {
        initGstreamerOnce();
        if (!config_.key) throw std::invalid_argument("RecorderConfig.key is required");
        if (!std::filesystem::is_directory(config_.outputDir))
            throw std::invalid_argument("recording directory " + config_.outputDir.string() + " does not exist");
        loop_ = std::make_unique<LoopThread>();
    }

    ~Impl() {
        stop();
        loop_.reset();  // joins the thread before the config it reads goes away
    }

    std::shared_ptr<Branch> branchFor(const std::string& participantId, bool create) {
        auto it = branches_.find(participantId);
        if (it != branches_.end()) return it->second;
        if (!create) return nullptr;
        auto branch = std::make_shared<Branch>(
            participantId, config_, *loop_,
            [this](const std::string& who, const std::string& line) {
                if (callbacks_.onLog) callbacks_.onLog(who, line);
            },
            [this](const std::shared_ptr<Branch>& b, const std::string& reason) { endBranch(b, reason); });
        branch->start(callbacks_);
        branches_[participantId] = branch;
        return branch;
    }

    /// Loop thread: a branch ended by itself (error, all tracks timed out).
    void endBranch(const std::shared_ptr<Branch>& branch, const std::string& reason) {
        auto it = branches_.find(branch->participantId());
        if (it == branches_.end() || it->second != branch) return;  // already finalised
        branches_.erase(it);
        report(branch->finalise(reason));
    }

    /// A participant whose very first offer/answer failed has no recording:
    /// forget it silently (the caller gets the exception).
    void dropIfUnnegotiated(const std::shared_ptr<Branch>& branch) {
        if (branch->negotiated() || branch->hasRecording()) return;
        branches_.erase(branch->participantId());
        branch->finalise("negotiation failed");
    }

    void report(const RecordingResult& result) {
        if (callbacks_.onLog)
            callbacks_.onLog(result.participantId, std::string("recording ") + (result.ok ? "finalised" : "FAILED") +
                                                       ": " + result.file.string() + " (" + result.reason + ")");
        if (callbacks_.onRecordingFinished) callbacks_.onRecordingFinished(result);
    }

    std::vector<RecordingResult> stop() {
        return loop_->invoke([this] {
            std::vector<RecordingResult> results;
            auto branches = std::move(branches_);
            branches_.clear();
            for (auto& [id, branch] : branches) {
                results.push_back(branch->finalise("stopped"));
                report(results.back());
            }
            return results;
        });
    }

    RecorderConfig config_;
    RecorderCallbacks callbacks_;
    std::unique_ptr<LoopThread> loop_;
    std::map<std::string, std::shared_ptr<Branch>> branches_;  // loop thread only
};

RecorderPeer::RecorderPeer(RecorderConfig config, RecorderCallbacks callbacks)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(callbacks))) {}

RecorderPeer::~RecorderPeer() = default;

void RecorderPeer::handleOffer(const std::string& participantId, const std::string& sdp) {
    impl_->loop_->invoke([&] {
        auto branch = impl_->branchFor(participantId, true);
        try {
            branch->handleOffer(sdp);
        } catch (...) {
            impl_->dropIfUnnegotiated(branch);
            throw;
        }
    });
}

void RecorderPeer::createOffer(const std::string& participantId, bool audio, bool video) {
    if (!audio && !video) throw std::invalid_argument("createOffer needs audio or video");
    impl_->loop_->invoke([&] {
        auto branch = impl_->branchFor(participantId, true);
        try {
            branch->createOffer(audio, video);
        } catch (...) {
            impl_->dropIfUnnegotiated(branch);
            throw;
        }
    });
}

void RecorderPeer::handleAnswer(const std::string& participantId, const std::string& sdp) {
    impl_->loop_->invoke([&] {
        auto branch = impl_->branchFor(participantId, false);
        if (!branch) throw std::invalid_argument("answer from " + participantId + " without an offer");
        branch->handleAnswer(sdp);
    });
}

void RecorderPeer::addRemoteCandidate(const std::string& participantId, unsigned mlineIndex,
                                      const std::string& candidate) {
    impl_->loop_->invoke([&] {
        if (auto branch = impl_->branchFor(participantId, false)) branch->addRemoteCandidate(mlineIndex, candidate);
    });
}

void RecorderPeer::removeParticipant(const std::string& participantId) {
    impl_->loop_->invoke([&] {
        auto branch = impl_->branchFor(participantId, false);
        if (!branch) return;
        impl_->branches_.erase(participantId);
        impl_->report(branch->finalise("participant left"));
    });
}

std::vector<RecordingResult> RecorderPeer::stop() { return impl_->stop(); }

std::vector<std::string> RecorderPeer::participants() const {
    return impl_->loop_->invoke([this] {
        std::vector<std::string> ids;
        for (const auto& [id, branch] : impl_->branches_) ids.push_back(id);
        return ids;
    });
}

}  // namespace consultd::media
