"""Relay only: the sender and the RecorderPeer both use ICE transport policy
"relay" through a coturn on 127.0.0.1 with time-limited credentials. The
recorder gets the TURN server as a join grant carries it (turn: URL,
"expiry:user" username, base64 credential) and must percent-encode them
itself; a recording that works proves the relay path, since no host
candidate may be used."""
import os
import sys
import tempfile
import time

from webrtc_peers import Coturn, GstSender, Harness, Failure, check, decrypt, discover, make_key, wait_for_media

RECORD_SECONDS = 3.0


def main():
    with tempfile.TemporaryDirectory() as d:
        rec_dir = os.path.join(d, "recordings")
        os.mkdir(rec_dir)
        key = make_key(d)
        turn = Coturn(d)
        harness = sender = None
        try:
            harness = Harness(rec_dir, key, extra=["--relay-only", "--ice-server", "turn:127.0.0.1:%d" % turn.port,
                                                   "--username", turn.username, "--credential", turn.password])
            candidates = []
            harness.handlers.append(lambda e: e["event"] == "candidate" and e["candidate"] and candidates.append(e["candidate"]))
            sender = GstSender(harness, "frank", turn_uri=turn.uri())
            started = wait_for_media(harness, "frank")
            time.sleep(RECORD_SECONDS)
            stopped_at = time.monotonic()
            finished = harness.stop()
        finally:
            if sender:
                sender.close()
            if harness:
                harness.kill()
            turn.stop()
        check(candidates and all(" typ relay " in c for c in candidates),
              "recorder offered only relay candidates (%d)" % len(candidates))
        gathering = [e["line"] for e in harness.log if e["line"].startswith("ICE gathering complete")]
        check(gathering and " 0 relay" not in gathering[0], "gathering result logged: %s" % gathering)
        logs = [n for n in os.listdir(d) if n.startswith("turnserver")]
        log = "".join(open(os.path.join(d, n)).read() for n in logs)
        if os.environ.get("DEBUG_TURN"):
            print(logs, log[-3000:])
        check("ALLOCATE" in log and "success" in log, "coturn granted allocations")
        check(len(finished) == 1 and finished[0]["ok"], "recording through the relay finalised: %s" % finished)
        plain = os.path.join(d, "relay.webm")
        rc, text = decrypt(finished[0]["file"], plain, key)
        check(rc == 0, "decrypt: " + text.strip())
        video, audio, duration, _ = discover(plain)
        recorded = stopped_at - started
        check(video == 1 and audio == 1 and duration is not None and abs(duration - recorded) <= 1.0,
              "discoverer: %d video, %d audio, %s s of %.2f s" % (video, audio, duration, recorded))


try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
