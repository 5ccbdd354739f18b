"""Crash safety: SIGKILL the recorder mid-recording. The encrypted file is left
as "<name>.partial" (never silently lost); readers refuse it as truncated;
`consultd recording repair` keeps its authenticated prefix and renames it;
the decrypted result must still show both streams in gst-discoverer-1.0
with most of the recorded time."""
import os
import signal
import sys
import tempfile
import time

from webrtc_peers import GstSender, Harness, Failure, TOOL, check, decrypt, discover, make_key, wait_for_media
import subprocess

RECORD_SECONDS = 4.0


def main():
    with tempfile.TemporaryDirectory() as d:
        rec_dir = os.path.join(d, "recordings")
        os.mkdir(rec_dir)
        key = make_key(d)
        harness = Harness(rec_dir, key)
        sender = None
        try:
            sender = GstSender(harness, "bob")
            started = wait_for_media(harness, "bob")
            time.sleep(RECORD_SECONDS)
            recorded = time.monotonic() - started
            os.kill(harness.proc.pid, signal.SIGKILL)
            harness.proc.wait(timeout=10)
        finally:
            if sender:
                sender.close()
            harness.kill()

        partials = [n for n in os.listdir(rec_dir) if n.endswith(".webm.partial")]
        check(len(partials) == 1, "crash left exactly one .partial: %s" % os.listdir(rec_dir))
        partial = os.path.join(rec_dir, partials[0])
        rc, text = decrypt(partial, os.path.join(d, "early.webm"), key)
        check(rc == 1 and "truncated" in text, "unrepaired file refused as truncated: " + text.strip())

        p = subprocess.run([TOOL, "recording", "repair", partial, "--key-file", key],
                           capture_output=True, text=True, timeout=60)
        print(p.stdout + p.stderr)
        repaired = partial[:-len(".partial")]
        check(p.returncode == 0 and os.path.exists(repaired) and not os.path.exists(partial),
              "repair kept the authenticated prefix and renamed the file")
        check("Matroska duration restored" in p.stdout, "repair restored the WebM duration")
        plain = os.path.join(d, "repaired.webm")
        rc, text = decrypt(repaired, plain, key)
        check(rc == 0, "repaired recording decrypts: " + text.strip())
        video, audio, duration, out = discover(plain)
        print(out)
        check(video == 1 and audio == 1, "discoverer: %d video, %d audio stream(s)" % (video, audio))
        # The writer flushes at least every second and clusters are at most
        # 1 s, so at most ~2 s of media may be lost to the kill.
        check(duration is not None and recorded - 2.5 <= duration <= recorded + 1.0,
              "duration %s s of %.2f s recorded before the kill" % (duration, recorded))


try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
