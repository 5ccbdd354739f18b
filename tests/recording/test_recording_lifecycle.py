"""Native recording lifecycle through the real daemon, real webrtcbin peers:

  * record: true: the recording starts by itself when the session becomes
    active (nobody in the room yet); participants who join later offer to the
    recorder and it answers;
  * a participant leaving finalises their file (available, reason
    "participant left") while the others go on;
  * SIGTERM mid-recording: the daemon finalises the file before it exits (exit
    0); `consultd recording list/export` (CLI) then give a file that
    gst-discoverer-1.0 reports with video + audio; after a restart nothing is
    left "recording";
  * disk full (recording.dir on a 256 KiB tmpfs; an unwritable folder when
    mounting is not permitted): the recording fails with the reason as a
    session event, and the call, the session and the API go on.
"""
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mediapeer import MediaPeer, discover, harness, webrtc_recording_daemon  # noqa: E402


def events_of(d, key, sid):
    return d.request("GET", f"/api/v1/sessions/{sid}/events", key=key).json()["events"]


class RecordingLifecycleTest(unittest.TestCase):
    def test_auto_start_leave_and_sigterm(self):
        d = webrtc_recording_daemon(self, "rec-life")
        d.start()
        admin = d.create_api_key("admin")
        r = d.request("POST", "/api/v1/sessions", harness.session_body(provider="webrtc", record=True), key=admin)
        self.assertEqual(201, r.status, r.describe())
        sid = r.json()["id"]
        self.assertEqual(200, d.request("POST", f"/api/v1/sessions/{sid}/start", {}, key=admin).status)
        harness.wait_until(lambda: "recording_started" in [e["type"] for e in events_of(d, admin, sid)], 20,
                           "the automatic recording_started event")

        async def scenario():
            host = MediaPeer(d, admin, sid, "dr-house")
            patient = MediaPeer(d, admin, sid, "pat-1")
            try:
                joined = await host.join()
                self.assertEqual(["consultd-recorder"], [p["id"] for p in joined["participants"]])
                self.assertEqual("recorder", joined["participants"][0]["role"])
                await patient.join()
                for who in ("dr-house", "pat-1"):
                    await asyncio.to_thread(d.wait_for_log, rf"recorder/{who}: media flowing", 40)
                await host.wait_receiving("pat-1")
                await asyncio.sleep(2.0)
                await patient.leave()  # its file is finalised now
                def patient_done():
                    rows = d.request("GET", f"/api/v1/recordings?session_id={sid}", key=admin).json()["recordings"]
                    return [x for x in rows if x["participant_id"] == "pat-1" and x["status"] == "available"]
                done = await host.wait_for(patient_done, "the patient's file to be finalised")
                self.assertEqual("participant left", done[0]["reason"])
                await asyncio.sleep(1.5)
                # SIGTERM mid-recording (the host still sends).
                rc = await asyncio.to_thread(d.stop)
                self.assertEqual(0, rc, d.stderr_text()[-3000:])
            finally:
                await host.close()
                await patient.close()

        asyncio.run(asyncio.wait_for(scenario(), 180))

        listed = json.loads(d.cli("recording", "list", "--session", sid, "--json", "--config",
                                  str(d.config_path)).stdout)["recordings"]
        self.assertEqual(2, len(listed), listed)
        host_row = [x for x in listed if x["participant_id"] == "dr-house"][0]
        self.assertEqual("available", host_row["status"], host_row)
        self.assertEqual("stopped", host_row["reason"])
        self.assertGreater(host_row["duration_seconds"], 2.5)
        out = d.tmp / "host-export.webm"
        d.cli("recording", "export", host_row["id"], str(out), "--config", str(d.config_path))
        video, audio, duration, text = discover(out)
        self.assertEqual((1, 1), (video, audio), text)
        self.assertAlmostEqual(host_row["duration_seconds"], duration, delta=1.0)
        recordings_dir = d.tmp / "state" / "recordings"
        self.assertFalse([n for n in os.listdir(recordings_dir) if n.endswith(".partial")],
                         os.listdir(recordings_dir))

        # After a restart: nothing to recover, the stop is a session event.
        d.start()
        rows = d.request("GET", f"/api/v1/recordings?session_id={sid}", key=admin).json()["recordings"]
        self.assertEqual({"available"}, {x["status"] for x in rows})
        stops = [e for e in events_of(d, admin, sid) if e["type"] == "recording_stopped"]
        self.assertEqual(1, len(stops))
        self.assertEqual("daemon stopping", stops[0]["data"]["reason"])
        self.assertNotIn("recording_recovered", [e["type"] for e in events_of(d, admin, sid)])

    def test_disk_full_fails_the_recording_not_the_call(self):
        mount_dir = Path(tempfile.mkdtemp(prefix="consultd-recfull-"))
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0750", "tmpfs", str(mount_dir)],
                                 capture_output=True).returncode == 0
        if mounted:
            self.addCleanup(lambda: (subprocess.run(["umount", str(mount_dir)]), mount_dir.rmdir()))
            rec_dir, expected = mount_dir, "No space left on device"
        else:
            # Not allowed to mount (not root): a folder under a regular file cannot be made or written.
            blocker = mount_dir / "file"
            blocker.write_text("x")
            rec_dir, expected = blocker / "recordings", "does not exist"
        d = webrtc_recording_daemon(self, "rec-full", config={"recording": {"dir": str(rec_dir)}})
        d.start()
        admin = d.create_api_key("admin")
        r = d.request("POST", "/api/v1/sessions", harness.session_body(provider="webrtc"), key=admin)
        sid = r.json()["id"]
        self.assertEqual(200, d.request("POST", f"/api/v1/sessions/{sid}/start", {}, key=admin).status)

        async def scenario():
            host = MediaPeer(d, admin, sid, "dr-house")
            patient = MediaPeer(d, admin, sid, "pat-1")
            try:
                await host.join()
                await patient.join()
                await host.wait_receiving("pat-1")
                r = d.request("POST", f"/api/v1/sessions/{sid}/recording/start", key=admin)
                if not mounted:
                    # The folder cannot exist: the recorder refuses at once, with the reason.
                    self.assertEqual((503, "RECORDING_UNAVAILABLE"), (r.status, r.error_code()), r.describe())
                else:
                    self.assertEqual(200, r.status, r.describe())

                def failed():
                    return [e for e in events_of(d, admin, sid) if e["type"] == "recording_failed"]
                fails = await host.wait_for(failed, "recording_failed events", deadline=60)
                self.assertTrue(any(expected in e["data"]["reason"] for e in fails), fails)
                # The call goes on: media still flows between the peers, the room is open.
                before = host.links["pat-1"].received()[0]
                await host.wait_for(lambda: host.links["pat-1"].received()[0] > before + 20,
                                    "media between the peers after the recording failed")
                self.assertFalse(host.seen("ended"))
                self.assertEqual("active", d.request("GET", f"/api/v1/sessions/{sid}", key=admin).json()["status"])
                if mounted:
                    r = d.request("POST", f"/api/v1/sessions/{sid}/recording/stop", key=admin)
                    self.assertEqual(200, r.status, r.describe())
            finally:
                await host.close()
                await patient.close()

        asyncio.run(asyncio.wait_for(scenario(), 180))
        if not mounted:
            return
        rows = d.request("GET", f"/api/v1/recordings?session_id={sid}", key=admin).json()["recordings"]
        self.assertTrue(rows, "a failed recording is listed, never lost silently")
        self.assertIn("failed", {x["status"] for x in rows}, rows)
        self.assertTrue(any(expected in (x["reason"] or "") for x in rows), rows)
        self.assertNotIn("recording", {x["status"] for x in rows})
        self.assertEqual(200, d.request("GET", "/readyz").status)


if __name__ == "__main__":
    unittest.main(verbosity=2)
