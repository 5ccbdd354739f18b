#pragma once
// The daemon's native recorder: a RecorderPeer that takes part in a session's
// signaling room as the in-process participant "consultd-recorder" (role
// recorder). Implements recording::LiveRecorderFactory for the daemon's
// RecordingService (daemon/src/recording/LiveRecorder.h).
//
// Negotiation follows the room's glare rule (docs/webrtc.md): whoever joins
// later offers. So the recorder offers (recvonly audio + video) to everyone
// already in the room when it joins, and answers the offers of participants
// who join after it. Offers, answers and ICE candidates go through the room
// like any client's; participant-left ends that participant's file; `ended`
// (the session ended) or the room closing detaches the recorder.
//
// Threading: messages from the room are queued by the room (under its lock)
// and handled on one thread of the recording; RecorderPeer callbacks run on
// the peer's thread. stop() may be called from any thread, once or more.

#include "recording/LiveRecorder.h"

#include <memory>

namespace consultd::media {

/// The GStreamer recorder factory the `consultd` executable plugs in.
std::unique_ptr<recording::LiveRecorderFactory> makeSignalingRecorderFactory();

}  // namespace consultd::media
