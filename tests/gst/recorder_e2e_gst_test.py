"""End to end: an independent GStreamer webrtcbin sender (VP8 + Opus) offers to
the RecorderPeer over loopback; ~5 s are recorded; stop() finalises; the
project's own tool decrypts; gst-discoverer-1.0 must see one video and one
audio stream and a duration within 1 s of the time recorded."""
import os
import sys
import tempfile
import time

from webrtc_peers import (GstSender, Harness, Failure, TRANSPORT_CC, check, decrypt, discover, make_key,
                          wait_for_media)

RECORD_SECONDS = 5.0


def main():
    with tempfile.TemporaryDirectory() as d:
        rec_dir = os.path.join(d, "recordings")
        os.mkdir(rec_dir)
        key = make_key(d)
        harness = Harness(rec_dir, key)
        sender = None
        try:
            sender = GstSender(harness, "alice")
            started = wait_for_media(harness, "alice")
            time.sleep(RECORD_SECONDS)
            stopped_at = time.monotonic()
            finished = harness.stop()
            recorded = stopped_at - started
        finally:
            if sender:
                sender.close()
            harness.kill()

        check(sender.answer_sdp is not None and "a=recvonly" in sender.answer_sdp, "recorder answered recvonly")
        check(TRANSPORT_CC in (sender.answer_sdp or ""), "answer carries the transport-cc header extension")
        check(len(finished) == 1, "one finished recording reported: %s" % finished)
        result = finished[0]
        check(result["ok"], "recording finalised ok: %s" % result["reason"])
        check(sorted(result["tracks"]) == ["audio/OPUS", "video/VP8"], "tracks %s" % result["tracks"])
        enc = result["file"]
        check(enc.endswith(".webm") and os.path.exists(enc), "file at its final name: " + enc)
        check(not any(n.endswith(".partial") for n in os.listdir(rec_dir)), "no .partial left")
        raw = open(enc, "rb").read()
        check(raw[:5] == b"CDREC" and b"\x1a\x45\xdf\xa3" not in raw[:4096], "file on disk is encrypted (no EBML header)")
        check(os.stat(enc).st_mode & 0o777 == 0o600, "recording is mode 0600")

        plain = os.path.join(d, "out.webm")
        rc, text = decrypt(enc, plain, key)
        check(rc == 0, "decrypt with the project's tool: " + text.strip())
        video, audio, duration, out = discover(plain)
        print(out)
        check(video == 1 and audio == 1, "discoverer: %d video, %d audio stream(s)" % (video, audio))
        check("VP8" in out and "Opus" in out, "codecs VP8 and Opus")
        check(duration is not None and abs(duration - recorded) <= 1.0,
              "duration %s s vs recorded %.2f s (within 1 s)" % (duration, recorded))


try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
