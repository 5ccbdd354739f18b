"""An independent WebRTC stack as the sender: python3-aiortc (its own ICE,
DTLS, SRTP, VP8/H264 and Opus encoders) offers to the RecorderPeer over
loopback: "grace" sends VP8 (-> WebM), "heidi" H264 (-> Matroska), both
with Opus, at the same time.
As MEDIA-NOTES says, aiortc 1.4 gives each m-line its own ICE credentials
inside a BUNDLE group, which webrtcbin rejects, so the a=group:BUNDLE line is
removed from its offer. The recording must show one video and one audio
stream per file with a duration within 1 s of the time recorded."""
import asyncio
import os
import sys
import tempfile
import time

import aioice.ice

from webrtc_peers import Harness, Failure, check, decrypt, discover, make_key, wait_for_media

# Loopback only: aioice skips 127.0.0.1 when it lists host addresses (the
# same thing libnice does, see MEDIA-NOTES); give it exactly that address.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []

from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack  # noqa: E402
from aiortc.rtcrtpsender import RTCRtpSender  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack  # noqa: E402

RECORD_SECONDS = 4.0


def strip_bundle(sdp):
    return "".join(line + "\r\n" for line in sdp.splitlines() if line and not line.startswith("a=group:BUNDLE"))


def add_candidates(sdp, candidates):
    """Puts the recorder's trickled candidates into its answer (aiortc takes them from the SDP)."""
    out, section = [], -1
    lines = [l for l in sdp.splitlines() if l]
    for i, line in enumerate(lines):
        out.append(line)
        if line.startswith("m="):
            section += 1
        last_of_section = i + 1 == len(lines) or lines[i + 1].startswith("m=")
        if section >= 0 and last_of_section:
            out += ["a=" + c for m, c in candidates if m == section]
            out.append("a=end-of-candidates")
    return "\r\n".join(out) + "\r\n"


async def send_from_aiortc(harness, who, video_codec):
    """One aiortc peer offering `video_codec` (its own encoder) plus Opus; returns when its media flows."""
    pc = RTCPeerConnection()
    video = pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    preferred = [c for c in RTCRtpSender.getCapabilities("video").codecs
                 if c.mimeType in ("video/" + video_codec, "video/rtx")]
    video.setCodecPreferences(preferred)
    await pc.setLocalDescription(await pc.createOffer())
    offer = strip_bundle(pc.localDescription.sdp)
    check(" 127.0.0.1 " in offer and "a=group:BUNDLE" not in offer,
          "%s: aiortc offer with loopback candidates, no BUNDLE group" % who)

    state = {"candidates": [], "answer": None, "gathered": False}

    def on_event(e):
        if e.get("participant") != who:
            return
        if e["event"] == "candidate" and " 127.0.0.1 " in e["candidate"]:
            state["candidates"].append((e["mline"], e["candidate"]))
        elif e["event"] == "description":
            state["answer"] = e["sdp"]
        elif e["event"] == "log" and e["line"].startswith("ICE gathering complete"):
            state["gathered"] = True
    harness.handlers.append(on_event)
    harness.send(cmd="offer", participant=who, sdp=offer)
    deadline = time.monotonic() + 20
    while not (state["answer"] and state["gathered"]):
        if time.monotonic() > deadline:
            raise Failure("%s: no answer / ICE gathering from the recorder" % who)
        await asyncio.sleep(0.05)
    check(bool(state["candidates"]), "%s: recorder trickled %d loopback candidates" % (who, len(state["candidates"])))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=add_candidates(state["answer"], state["candidates"]),
                                                        type="answer"))
    loop = asyncio.get_running_loop()
    started = await loop.run_in_executor(None, wait_for_media, harness, who, 30)
    return pc, started


async def run(harness):
    peers = await asyncio.gather(send_from_aiortc(harness, "grace", "VP8"), send_from_aiortc(harness, "heidi", "H264"))
    await asyncio.sleep(RECORD_SECONDS)
    stopped_at = time.monotonic()
    finished = await asyncio.get_running_loop().run_in_executor(None, harness.stop)
    for pc, _ in peers:
        await pc.close()
    return finished, {"grace": stopped_at - peers[0][1], "heidi": stopped_at - peers[1][1]}


def main():
    with tempfile.TemporaryDirectory() as d:
        rec_dir = os.path.join(d, "recordings")
        os.mkdir(rec_dir)
        key = make_key(d)
        harness = Harness(rec_dir, key)
        try:
            finished, recorded = asyncio.run(asyncio.wait_for(run(harness), 90))
        finally:
            harness.kill()
        check(sorted(r["participant"] for r in finished) == ["grace", "heidi"], "one result per sender: %s" % finished)
        expected = {"grace": ("VP8", ".webm", "video/x-vp8"), "heidi": ("H264", ".mkv", "video/x-h264")}
        for result in finished:
            who = result["participant"]
            codec, ext, caps = expected[who]
            check(result["ok"], "%s: recording finalised: %s" % (who, result["reason"]))
            check(sorted(result["tracks"]) == ["audio/OPUS", "video/" + codec], "%s: tracks %s" % (who, result["tracks"]))
            check(result["file"].endswith(ext), "%s: %s recorded into %s" % (who, codec, result["file"]))
            plain = os.path.join(d, who + ext)
            rc, text = decrypt(result["file"], plain, key)
            check(rc == 0, "%s: decrypt: %s" % (who, text.strip()))
            video, audio, duration, out = discover(plain)
            check(video == 1 and audio == 1 and caps in out,
                  "%s: discoverer: %d video (%s), %d audio stream(s)" % (who, video, caps, audio))
            check(duration is not None and abs(duration - recorded[who]) <= 1.0,
                  "%s: duration %s s vs recorded %.2f s (within 1 s)" % (who, duration, recorded[who]))

try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
