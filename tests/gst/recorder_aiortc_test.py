"""An independent WebRTC stack as the sender: python3-aiortc (its own ICE,
DTLS, SRTP, VP8 and Opus encoders) offers to the RecorderPeer over loopback.
As MEDIA-NOTES says, aiortc 1.4 gives each m-line its own ICE credentials
inside a BUNDLE group, which webrtcbin rejects, so the a=group:BUNDLE line is
removed from its offer. The recording must show one video and one audio
stream with a duration within 1 s of the time recorded."""
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


async def run(harness):
    pc = RTCPeerConnection()
    pc.addTrack(VideoStreamTrack())
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    offer = strip_bundle(pc.localDescription.sdp)
    check(" 127.0.0.1 " in offer and "a=group:BUNDLE" not in offer, "aiortc offer: loopback candidates, no BUNDLE group")

    candidates = []
    harness.handlers.append(lambda e: e.get("participant") == "grace" and e["event"] == "candidate"
                            and " 127.0.0.1 " in e["candidate"] and candidates.append((e["mline"], e["candidate"])))
    harness.send(cmd="offer", participant="grace", sdp=offer)
    loop = asyncio.get_running_loop()
    answer = await loop.run_in_executor(None, harness.wait_for, lambda e: e["event"] == "description", 20, "answer")
    await loop.run_in_executor(None, harness.wait_for,
                               lambda e: e["event"] == "log" and e["line"].startswith("ICE gathering complete"),
                               20, "recorder ICE gathering")
    check(bool(candidates), "recorder trickled %d loopback candidates" % len(candidates))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=add_candidates(answer["sdp"], candidates), type="answer"))
    started = await loop.run_in_executor(None, wait_for_media, harness, "grace", 30)
    await asyncio.sleep(RECORD_SECONDS)
    stopped_at = time.monotonic()
    finished = await loop.run_in_executor(None, harness.stop)
    await pc.close()
    return finished, stopped_at - started


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
        check(len(finished) == 1 and finished[0]["ok"], "recording finalised: %s" % finished)
        check(sorted(finished[0]["tracks"]) == ["audio/OPUS", "video/VP8"], "tracks %s" % finished[0]["tracks"])
        plain = os.path.join(d, "aiortc.webm")
        rc, text = decrypt(finished[0]["file"], plain, key)
        check(rc == 0, "decrypt: " + text.strip())
        video, audio, duration, _ = discover(plain)
        check(video == 1 and audio == 1, "discoverer: %d video, %d audio stream(s)" % (video, audio))
        check(duration is not None and abs(duration - recorded) <= 1.0,
              "duration %s s vs recorded %.2f s (within 1 s)" % (duration, recorded))


try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
