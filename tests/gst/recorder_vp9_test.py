"""VP9 (a GStreamer vp9enc sender) is recorded without re-encoding into
WebM next to its Opus audio, finalised and playable after decryption.
(H264 -> Matroska is covered by recorder_aiortc_test: Debian's openh264enc
fails with cmInitParaError on this machine type, aiortc's libx264 works.)"""
import os
import sys
import tempfile
import time

from webrtc_peers import (GstSender, Harness, Failure, check, decrypt, discover, make_key, matroska_layout,
                          wait_for_media)

RECORD_SECONDS = 3.0
CASES = {"judy": ("VP9", ".webm", "video/x-vp9", "video/webm")}


def main():
    with tempfile.TemporaryDirectory() as d:
        rec_dir = os.path.join(d, "recordings")
        os.mkdir(rec_dir)
        key = make_key(d)
        harness = Harness(rec_dir, key)
        senders = []
        try:
            for who, (codec, _, _, _) in CASES.items():
                senders.append(GstSender(harness, who, video=codec))
            started = {who: wait_for_media(harness, who) for who in CASES}
            time.sleep(RECORD_SECONDS)
            stopped_at = time.monotonic()
            finished = harness.stop()
        finally:
            for s in senders:
                s.close()
            harness.kill()
        check(sorted(r["participant"] for r in finished) == sorted(CASES), "one result per sender: %s" % finished)
        for result in finished:
            who = result["participant"]
            codec, ext, caps, container = CASES[who]
            check(result["ok"], "%s: finalised: %s" % (who, result["reason"]))
            check(sorted(result["tracks"]) == ["audio/OPUS", "video/" + codec], "%s: tracks %s" % (who, result["tracks"]))
            check(result["file"].endswith(ext), "%s: %s goes into %s" % (who, codec, result["file"]))
            plain = os.path.join(d, who + ext)
            rc, text = decrypt(result["file"], plain, key)
            check(rc == 0, "%s: decrypt: %s" % (who, text.strip()))
            video, audio, duration, out = discover(plain)
            recorded = stopped_at - started[who]
            check(video == 1 and audio == 1 and caps in out and container in out,
                  "%s: discoverer sees %s + Opus in %s" % (who, caps, container))
            check(duration is not None and abs(duration - recorded) <= 1.0,
                  "%s: duration %s s vs %.2f s" % (who, duration, recorded))
            sized, cues, written = matroska_layout(plain)
            check(sized and cues and written, "%s: finalised layout (%s, %s, %s)" % (who, sized, cues, written))


try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
