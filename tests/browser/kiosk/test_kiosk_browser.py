#!/usr/bin/python3
"""browser_kiosk: the kiosk page in Debian's Chromium (kiosk.spec.mjs):
enrollment with a code from POST /devices, idle screen, browser restart with a
persistent profile, automatic join when the doctor's session for this device
starts (native WebRTC through the embedded TURN relay), back to idle after the
end. Checks the device's last_seen_at afterwards and that neither the code nor
the device cookie reached the log."""

import datetime
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "join"))

from calldaemon import call_daemon, create_session, invite, publish_screenshot  # noqa: E402
from browser_harness import artifacts_dir, run_node_spec  # noqa: E402


class KioskBrowserTest(unittest.TestCase):
    def test_enroll_idle_restart_autojoin_and_back(self):
        d = call_daemon(self, "browser-kiosk")
        key = d.create_api_key("admin")
        d.start()
        r = d.request("POST", "/api/v1/devices", {"name": "Room 3 kiosk", "room_name": "Exam room 3"}, key=key)
        self.assertEqual(r.status, 201, r.describe())
        device = r.json()
        d.issued_secrets.append(device["enrollment_code"])
        # In five minutes: inside the join window (15 min before), so the doctor can wait in the room.
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
        s = create_session(d, key, device_id=device["id"], scheduled_at=soon.strftime("%Y-%m-%dT%H:%M:%SZ"))
        doctor = invite(d, key, s["id"], "dr-house")
        run_node_spec(self, HERE / "kiosk.spec.mjs", {
            "CONSULTD_API_KEY": key, "SESSION_ID": s["id"], "DOCTOR_INVITE": doctor,
            "ENROLLMENT_CODE": device["enrollment_code"], "ROOM_NAME": "Exam room 3",
        }, daemon=d, timeout=240)
        listed = {x["id"]: x for x in d.request("GET", "/api/v1/devices", key=key).json()["devices"]}
        self.assertEqual(listed[device["id"]]["status"], "enrolled")
        self.assertIsNotNone(listed[device["id"]]["last_seen_at"])
        log = d.stderr_text()
        self.assertNotIn(device["enrollment_code"], log)
        self.assertNotIn(device["enrollment_code"].replace("-", ""), log)
        publish_screenshot(artifacts_dir("kiosk") / "kiosk-idle.png", "kiosk-idle.png")
        publish_screenshot(artifacts_dir("kiosk") / "kiosk-in-call.png", "kiosk-in-call.png")


if __name__ == "__main__":
    unittest.main(verbosity=2)
