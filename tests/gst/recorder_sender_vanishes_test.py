"""A sender that disappears without any signaling (its pipeline just stops)
must not leave its recording open until ICE gives up (~44 s): the internal
rtpbin's on-timeout / on-bye-ssrc ends each track, and the file is finalised
by itself, reported once, and plays with the time actually recorded."""
import os
import sys
import tempfile
import time

from webrtc_peers import GstSender, Harness, Failure, check, decrypt, discover, make_key, wait_for_media

RECORD_SECONDS = 3.0


def main():
    with tempfile.TemporaryDirectory() as d:
        rec_dir = os.path.join(d, "recordings")
        os.mkdir(rec_dir)
        key = make_key(d)
        harness = Harness(rec_dir, key)
        sender = None
        try:
            sender = GstSender(harness, "henry")
            started = wait_for_media(harness, "henry")
            time.sleep(RECORD_SECONDS)
            vanished_at = time.monotonic()
            sender.close()  # no "leave", no signaling at all
            result = harness.wait_for(lambda e: e["event"] == "finished", 30, "the recorder to notice")
            noticed = time.monotonic() - vanished_at
            rest = harness.stop()
        finally:
            if sender:
                sender.close()
            harness.kill()
        print("noticed after %.1f s" % noticed)
        check(noticed < 15, "ended %.1f s after the sender vanished (ICE alone would take ~44 s)" % noticed)
        check(result["ok"] and "tracks ended" in result["reason"], "finalised by itself: %s" % result["reason"])
        check(rest == [], "not reported again at stop: %s" % rest)
        plain = os.path.join(d, "vanished.webm")
        rc, text = decrypt(result["file"], plain, key)
        check(rc == 0, "decrypt: " + text.strip())
        video, audio, duration, _ = discover(plain)
        recorded = vanished_at - started
        check(video == 1 and audio == 1 and duration is not None and abs(duration - recorded) <= 1.0,
              "discoverer: %d video, %d audio, %s s of %.2f s sent" % (video, audio, duration, recorded))


try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
