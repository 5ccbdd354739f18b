#!/usr/bin/python3
"""browser_join: the join page in Debian's Chromium (join.spec.mjs): a doctor
and a patient join one native WebRTC session from invite links through the
embedded TURN relay (relay-only ICE), see each other's video, chat, the doctor
ends the call; a browser with the camera permission denied gets the
explanation. Checks afterwards that media really crossed the relay and that
no invite or token reached the log."""

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calldaemon import call_daemon, create_session, invite, publish_screenshot, turn_bytes  # noqa: E402
from browser_harness import artifacts_dir, run_node_spec  # noqa: E402


class JoinBrowserTest(unittest.TestCase):
    def test_doctor_and_patient_call_then_denied_camera(self):
        d = call_daemon(self, "browser-join")
        key = d.create_api_key("admin")
        d.start()
        s = create_session(d, key)
        doctor = invite(d, key, s["id"], "dr-house")
        patient = invite(d, key, s["id"], "pat-1")
        other = create_session(d, key)
        denied = invite(d, key, other["id"], "pat-1")
        nodevice = invite(d, key, create_session(d, key)["id"], "pat-1")
        before = turn_bytes(d, key)
        run_node_spec(self, HERE / "join.spec.mjs", {
            "CONSULTD_API_KEY": key, "SESSION_ID": s["id"], "DOCTOR_INVITE": doctor, "PATIENT_INVITE": patient,
            "DENIED_INVITE": denied, "DENIED_SESSION_ID": other["id"], "NODEVICE_INVITE": nodevice,
        }, daemon=d, timeout=240)
        relayed = turn_bytes(d, key) - before
        print(f"bytes relayed by the embedded TURN relay during the call: {relayed}")
        self.assertGreater(relayed, 50_000, "the media did not cross the embedded relay")
        log = d.stderr_text()
        for secret in (doctor.rsplit("/", 1)[1], patient.rsplit("/", 1)[1], key):
            self.assertNotIn(secret, log)
        publish_screenshot(artifacts_dir("join") / "join-call-doctor.png", "join-call.png")
        publish_screenshot(artifacts_dir("join") / "join-call-patient-phone.png", "join-call-phone.png")
        publish_screenshot(artifacts_dir("join") / "join-camera-denied.png", "join-camera-denied.png")


if __name__ == "__main__":
    unittest.main(verbosity=2)
