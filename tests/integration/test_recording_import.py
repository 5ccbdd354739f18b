"""Provider recording import through the real daemon: a signed Vonage archive
callback (status available, url) makes the daemon download the archive from
the fake Vonage server over verified HTTPS (its self-signed CA in
recording_import.ca_file) into the encrypted recording store:

  * success: the recording becomes available with exactly the served bytes
    (GET /recordings/{id}/media decrypts them back);
  * truncated transfer: the first response breaks off, the download resumes
    with Range (206) and the result is still exact;
  * server error mid-download: a break-off followed by 500s; with fewer
    failures than attempts it succeeds, with more it fails and nothing is
    marked available (no file left behind);
  * oversized file: refused before or while downloading, row failed;
  * a host outside recording_import.allowed_hosts is refused (no request made).
"""

import hashlib
import json
import os
import time
import uuid

import jwt

import harness
from fake_vonage_process import APP_ID as VONAGE_APP_ID, FakeVonage
from harness import ApiTestCase, Daemon, session_body, wait_until

SECRET = "vonage-signature-secret-" + "ef" * 16


def archive_bytes(size):
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"archive-%d" % counter).digest()
        counter += 1
    return bytes(out[:size])


class RecordingImportTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(name="import", jaas=False)
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.fake = FakeVonage(cls.daemon.tmp).start(tls=True)
        cls.addClassCleanup(cls.fake.stop)
        harness.write_secret(cls.daemon.secrets_dir / "vonage_webhook", SECRET + "\n")
        cls.daemon.update_config({
            "providers": {"vonage": cls.fake.provider_config(cls.daemon, webhook_secret_file="secrets/vonage_webhook")},
            "recording_import": {"enabled": True, "allowed_hosts": ["vonage:127.0.0.1"],
                                 "ca_file": str(cls.fake.ca_file), "max_bytes": 1000000, "timeout_seconds": 5,
                                 "max_attempts": 3, "retry_initial_seconds": 1, "retry_max_seconds": 1},
        })
        cls.key = cls.daemon.create_api_key("admin")
        cls.daemon.start()

    def api(self, method, path, body=None):
        return self.daemon.request(method, "/api/v1" + path, body, key=self.key)

    def session_with_room(self):
        session = self.assertStatus(self.api("POST", "/sessions", session_body(provider="vonage")), 201).json()
        grant = self.assertStatus(self.api("POST", f"/sessions/{session['id']}/token", {"participant_id": "pat-1"}),
                                  200).json()
        return session, grant["room"]

    def announce(self, room, archive_id, url, size=None, new_event=True):
        body = {"id": archive_id, "event": "archive", "status": "available", "sessionId": room,
                "createdAt": int(time.time() * 1000), "duration": 12, "url": url}
        if size is not None:
            body["size"] = size
        raw = json.dumps(body).encode()
        token = jwt.encode({"iat": int(time.time()), "jti": str(uuid.uuid4()), "iss": "Vonage",
                            "payload_hash": hashlib.sha256(raw).hexdigest(), "api_key": "46123456",
                            "application_id": VONAGE_APP_ID}, SECRET, algorithm="HS256")
        r = self.daemon.request("POST", "/api/v1/webhooks/vonage", raw=raw, headers={"Authorization": "Bearer " + token})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["stored"], 1 if new_event else 0, r.describe())

    def imported(self, session_id):
        def settled():
            rows = self.api("GET", f"/recordings?session_id={session_id}").json().get("recordings", [])
            rows = [r for r in rows if r["source"] == "import"]
            return rows if rows and all(r["status"] in ("available", "failed") for r in rows) else None
        return wait_until(settled, 40, "the import to finish")[0]

    def archive_url(self, name):
        return f"{self.fake.base_url}/_archives/{name}.mp4"

    def assertImportedExactly(self, row, size):
        self.assertEqual(row["status"], "available", row)
        self.assertEqual(row["bytes"], size, row)
        media = self.api("GET", f"/recordings/{row['id']}/media")
        self.assertStatus(media, 200)
        self.assertEqual(hashlib.sha256(media.body).hexdigest(), hashlib.sha256(archive_bytes(size)).hexdigest())

    def no_stray_files(self):
        rec_dir = self.daemon.tmp / "state" / "recordings"
        return [p for p in os.listdir(rec_dir) if p.endswith(".download")] if rec_dir.exists() else []

    def test_success(self):
        self.fake.set_download(size=200000, mode="ok")
        session, room = self.session_with_room()
        self.announce(room, "arch-ok", self.archive_url("arch-ok"), size=200000)
        row = self.imported(session["id"])
        self.assertImportedExactly(row, 200000)
        downloads = self.fake.stats()["downloads"]
        self.assertEqual(len(downloads), 1, downloads)
        events = [e["type"] for e in self.api("GET", f"/sessions/{session['id']}/events").json()["events"]]
        self.assertIn("recording_available", events)
        self.assertIn("recording_imported", events)
        # The pre-signed link is a credential: the events API shows its host only.
        raw_events = self.api("GET", f"/sessions/{session['id']}/events").text
        self.assertNotIn("/_archives/", raw_events)
        self.assertIn('"download_host":"127.0.0.1"', raw_events)
        # A redelivered callback (fresh signature, same archive status) imports nothing twice.
        self.announce(room, "arch-ok", self.archive_url("arch-ok"), size=200000, new_event=False)
        time.sleep(0.5)
        self.assertEqual(len(self.fake.stats()["downloads"]), 1)

    def test_truncated_transfer_resumes_with_range(self):
        self.fake.set_download(size=300000, mode="truncate_once")
        session, room = self.session_with_room()
        self.announce(room, "arch-trunc", self.archive_url("arch-trunc"))
        row = self.imported(session["id"])
        self.assertImportedExactly(row, 300000)
        downloads = self.fake.stats()["downloads"]
        self.assertEqual(len(downloads), 2, downloads)
        # The first answer broke off after 150000 bytes; the second continues
        # where the stored file ends (bytes still in flight at the break are
        # asked for again) and carries only the rest.
        self.assertTrue(downloads[1]["range"].startswith("bytes="), downloads)
        resumed_at = int(downloads[1]["range"][len("bytes="):-1])
        self.assertTrue(0 < resumed_at <= 150000, downloads)
        self.assertEqual(downloads[1]["status"], 206)
        self.assertEqual(downloads[1]["bytes"], 300000 - resumed_at)

    def test_server_ignoring_range_starts_over(self):
        self.fake.set_download(size=150000, mode="no_range")
        session, room = self.session_with_room()
        self.announce(room, "arch-norange", self.archive_url("arch-norange"))
        self.assertImportedExactly(self.imported(session["id"]), 150000)

    def test_server_error_mid_download(self):
        # Broken off, then one 500, then fine: within max_attempts (3).
        self.fake.set_download(size=120000, mode="error_mid", failures=1)
        session, room = self.session_with_room()
        self.announce(room, "arch-err1", self.archive_url("arch-err1"))
        self.assertImportedExactly(self.imported(session["id"]), 120000)

        # Broken off, then 500s beyond the attempts: failed, nothing available, no stray file.
        self.fake.set_download(size=120000, mode="error_mid", failures=10)
        session, room = self.session_with_room()
        self.announce(room, "arch-err2", self.archive_url("arch-err2"))
        row = self.imported(session["id"])
        self.assertEqual(row["status"], "failed", row)
        self.assertEqual(len(self.fake.stats()["downloads"]), 3)
        self.assertEqual(self.no_stray_files(), [])
        self.assertStatus(self.api("GET", f"/recordings/{row['id']}/media"), 409)

    def test_oversized_file(self):
        # Announced too big: refused without a request.
        self.fake.set_download(size=2000000, mode="ok")
        session, room = self.session_with_room()
        self.announce(room, "arch-big1", self.archive_url("arch-big1"), size=2000000)
        self.assertEqual(self.imported(session["id"])["status"], "failed")
        self.assertEqual(self.fake.stats()["downloads"], [])
        # Not announced: the server's Content-Length is checked before the body.
        session, room = self.session_with_room()
        self.announce(room, "arch-big2", self.archive_url("arch-big2"))
        row = self.imported(session["id"])
        self.assertEqual(row["status"], "failed", row)
        self.assertIn("max_bytes", row["reason"])
        self.assertEqual(self.no_stray_files(), [])

    def test_host_not_allowed(self):
        self.fake.set_download(size=1000, mode="ok")
        session, room = self.session_with_room()
        self.announce(room, "arch-ssrf", f"https://localhost:{self.fake.port}/_archives/x.mp4")
        row = self.imported(session["id"])
        self.assertEqual(row["status"], "failed", row)
        self.assertIn("allowed_hosts", row["reason"])
        self.assertEqual(self.fake.stats()["downloads"], [])


if __name__ == "__main__":
    harness.main()
