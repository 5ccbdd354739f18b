"""End to end with two independent GStreamer webrtcbin senders (VP8 + Opus)
recorded in one session over loopback: "alice" offers and the RecorderPeer
answers; for "erin" the RecorderPeer is the offerer (recvonly transceivers)
and the sender answers. ~5 s are recorded; stop() finalises; the project's
own tool decrypts; gst-discoverer-1.0 must see one video and one audio
stream per file and a duration within 1 s of the time recorded."""
import os
import sys
import tempfile
import time

from webrtc_peers import (GstSender, Harness, Failure, TRANSPORT_CC, check, decrypt, discover, make_key,
                          matroska_layout, wait_for_media)

RECORD_SECONDS = 5.0


def main():
    with tempfile.TemporaryDirectory() as d:
        rec_dir = os.path.join(d, "recordings")
        os.mkdir(rec_dir)
        key = make_key(d)
        harness = Harness(rec_dir, key)
        senders = []
        try:
            alice = GstSender(harness, "alice")
            senders.append(alice)
            erin = GstSender(harness, "erin", recorder_offers=True)
            senders.append(erin)
            harness.send(cmd="create-offer", participant="erin")
            started = {"alice": wait_for_media(harness, "alice")}
            started["erin"] = wait_for_media(harness, "erin")
            time.sleep(RECORD_SECONDS)
            stopped_at = time.monotonic()
            finished = harness.stop()
        finally:
            for s in senders:
                s.close()
            harness.kill()

        check(alice.answer_sdp is not None and "a=recvonly" in alice.answer_sdp, "recorder answered recvonly")
        check(TRANSPORT_CC in (alice.answer_sdp or ""), "answer carries the transport-cc header extension")
        offer = erin.offer_sdp or ""
        check(offer.count("m=") == 2 and offer.count("a=recvonly") == 2 and TRANSPORT_CC in offer,
              "recorder's own offer: two recvonly m-lines with transport-cc")
        check(sorted(r["participant"] for r in finished) == ["alice", "erin"],
              "one finished recording per participant: %s" % finished)
        for result in finished:
            who = result["participant"]
            recorded = stopped_at - started[who]
            check(result["ok"], "%s: recording finalised ok: %s" % (who, result["reason"]))
            check(sorted(result["tracks"]) == ["audio/OPUS", "video/VP8"], "%s: tracks %s" % (who, result["tracks"]))
            enc = result["file"]
            check(enc.endswith(".webm") and os.path.exists(enc), "%s: file at its final name %s" % (who, enc))
            raw = open(enc, "rb").read()
            check(raw[:5] == b"CDREC" and b"\x1a\x45\xdf\xa3" not in raw[:4096],
                  "%s: file on disk is encrypted (no EBML header)" % who)
            check(os.stat(enc).st_mode & 0o777 == 0o600, "%s: recording is mode 0600" % who)
            plain = os.path.join(d, who + ".webm")
            rc, text = decrypt(enc, plain, key)
            check(rc == 0, "%s: decrypt with the project's tool: %s" % (who, text.strip()))
            video, audio, duration, out = discover(plain)
            check(video == 1 and audio == 1, "%s: discoverer: %d video, %d audio stream(s)" % (who, video, audio))
            check("VP8" in out and "Opus" in out, "%s: codecs VP8 and Opus" % who)
            check(duration is not None and abs(duration - recorded) <= 1.0,
                  "%s: duration %s s vs recorded %.2f s (within 1 s)" % (who, duration, recorded))
            # Finalised, not merely playable: the muxer could seek back through
            # the encrypting sink to write segment size, Duration and Cues.
            sized, cues, written = matroska_layout(plain)
            check(sized and cues and written and written > 0,
                  "%s: muxer finalised the file (segment size %s, cues %s, Duration %s)" % (who, sized, cues, written))
        check(not any(n.endswith(".partial") for n in os.listdir(rec_dir)), "no .partial left")


try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
