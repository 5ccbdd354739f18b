"""Disk full: the recorder runs with RLIMIT_FSIZE (SIGXFSZ ignored, so writes
fail with EFBIG exactly like a full disk fails with ENOSPC). The recording
must fail cleanly: reported once with the OS reason, the file marked
".failed" (never a silent ".partial"), the process alive and able to stop
normally, and what was written before the failure still recoverable."""
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

from webrtc_peers import GstSender, Harness, Failure, TOOL, check, decrypt, discover, make_key, wait_for_media

LIMIT = 48 * 1024


def limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def main():
    with tempfile.TemporaryDirectory() as d:
        rec_dir = os.path.join(d, "recordings")
        os.mkdir(rec_dir)
        key = make_key(d)
        harness = Harness(rec_dir, key, preexec_fn=limit_file_size)
        sender = None
        try:
            sender = GstSender(harness, "dave")
            wait_for_media(harness, "dave")
            failed = harness.wait_for(lambda e: e["event"] == "finished", 40, "the recording to fail")
            check(not failed["ok"], "recording reported as failed")
            check("File too large" in failed["reason"], "reason names the OS error: " + failed["reason"])
            check(failed["file"].endswith(".webm.failed") and os.path.exists(failed["file"]),
                  "file marked failed on disk: " + failed["file"])
            time.sleep(1)
            check(harness.proc.poll() is None, "recorder process still running after the failure")
            rest = harness.stop()
            check(harness.proc.returncode == 0, "recorder stopped normally")
            check(rest == [], "the failed branch is not reported twice: %s" % rest)
        finally:
            if sender:
                sender.close()
            harness.kill()
        check(not any(n.endswith(".partial") for n in os.listdir(rec_dir)), "no .partial left: %s" % os.listdir(rec_dir))

        # What reached the disk before the limit is still authenticated and recoverable.
        p = subprocess.run([TOOL, "recording", "repair", failed["file"], "--key-file", key],
                           capture_output=True, text=True, timeout=60)
        print(p.stdout + p.stderr)
        check(p.returncode == 0, "repair of the failed recording")
        plain = os.path.join(d, "salvaged.webm")
        rc, text = decrypt(failed["file"], plain, key)
        check(rc == 0, "salvaged part decrypts: " + text.strip())
        video, audio, duration, out = discover(plain)
        check(video == 1 and audio == 1 and duration and duration > 0.5,
              "salvaged part has both streams (%d video, %d audio, %s s)" % (video, audio, duration))


try:
    main()
except Failure as e:
    print("FAILED: %s" % e)
    sys.exit(1)
