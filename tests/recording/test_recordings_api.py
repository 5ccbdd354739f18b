"""Recordings through the real daemon, without media (no GStreamer needed):

  * crash recovery at start: rows a crash left in "recording" become failed
    (no file) or available (a cut .partial repaired), each with a session event;
  * GET /recordings (filters, paging, 422), GET /recordings/{id}, 404;
  * authorisation: no key 401, a key without recordings:read 403, media needs
    recording.media_scope; DELETE needs recordings:write;
  * GET /media: full, Range 206 + Content-Range, suffix range, 416, every
    access audited with the range;
  * DELETE: 204, file gone, row "deleted", audited; 409 while recording;
  * retention: a backdated recording is deleted by the sweeper with an audit
    entry (time made controllable: retention_days = 1 and a row created 3
    days ago, sweep every second);
  * recording/start on providers that cannot record: 422; on a session that
    is not active: 409; stop when nothing records: 409;
  * the CLI: `consultd recording list|export|delete --json`, export audited.
"""
import json
import os
import sqlite3
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import recfiles  # noqa: E402


class RecordingsApiTest(unittest.TestCase):
    def setUp(self):
        self.d = harness.Daemon(self, name="rec-api", config={
            "recording": {"retention_days": 1, "retention_interval_seconds": 1},
        })
        self.key_path = self.d.tmp / "state" / "recording.key"
        (self.d.tmp / "state" / "recordings").mkdir(parents=True, mode=0o750)
        # The daemon makes the key at first start; make it now so the test can write files first.
        self.key = recfiles.make_key(self.key_path)
        self.rec_dir = self.d.tmp / "state" / "recordings"

    def insert_row(self, db, rec_id, session_id, status, created_at, file_name, **extra):
        cols = {"id": rec_id, "session_id": session_id, "participant_id": "pat-1", "source": "native",
                "status": status, "file_name": file_name, "container": "webm", "tracks": "video/VP8 audio/OPUS",
                "bytes": extra.get("bytes", 0), "duration_ms": 4000, "created_at": created_at,
                "finished_at": extra.get("finished_at", 0)}
        db.execute("INSERT INTO recordings (%s) VALUES (%s)" % (", ".join(cols), ", ".join("?" * len(cols))),
                   list(cols.values()))

    def test_recordings_end_to_end_without_media(self):
        d = self.d
        admin = d.create_api_key("admin")
        # A session to hang recordings on (jitsi: the default provider here).
        d.start()
        sess = d.request("POST", "/api/v1/sessions", harness.session_body(), key=admin).json()
        d.stop()

        now_ms = int(time.time() * 1000)
        payload = os.urandom(300000)
        old_payload = os.urandom(5000)
        cut_payload = os.urandom(200000)
        recfiles.write_cdrec(self.rec_dir / "rec_availableaaaaaaaaaaaaaaaa.webm", self.key, payload)
        recfiles.write_cdrec(self.rec_dir / "rec_oldaaaaaaaaaaaaaaaaaaaaaa.webm", self.key, old_payload)
        # A crash left this one cut (no final chunk) under its .partial name.
        recfiles.write_cdrec(self.rec_dir / "rec_cutaaaaaaaaaaaaaaaaaaaaaa.webm.partial", self.key, cut_payload,
                             final=False)
        db = sqlite3.connect(d.db_path)
        with db:
            self.insert_row(db, "rec_availableaaaaaaaaaaaaaaaa", sess["id"], "available", now_ms - 60000,
                            "rec_availableaaaaaaaaaaaaaaaa.webm", bytes=len(payload), finished_at=now_ms - 50000)
            self.insert_row(db, "rec_oldaaaaaaaaaaaaaaaaaaaaaa", sess["id"], "available", now_ms - 3 * 86400000,
                            "rec_oldaaaaaaaaaaaaaaaaaaaaaa.webm", bytes=len(old_payload), finished_at=now_ms)
            self.insert_row(db, "rec_cutaaaaaaaaaaaaaaaaaaaaaa", sess["id"], "recording", now_ms - 30000,
                            "rec_cutaaaaaaaaaaaaaaaaaaaaaa.webm")
            self.insert_row(db, "rec_nofileaaaaaaaaaaaaaaaaaaa", sess["id"], "recording", now_ms - 30000,
                            "rec_nofileaaaaaaaaaaaaaaaaaaa.webm")
        db.close()

        d.start()
        reader = d.create_api_key("recordings:read")
        writer = d.create_api_key("recordings:write")
        sessions_only = d.create_api_key("sessions:read,sessions:write")

        # -- crash recovery at start
        r = d.request("GET", "/api/v1/recordings/rec_nofileaaaaaaaaaaaaaaaaaaa", key=reader)
        self.assertEqual(200, r.status, r.describe())
        self.assertEqual("failed", r.json()["status"])
        self.assertIn("no file", r.json()["reason"])
        r = d.request("GET", "/api/v1/recordings/rec_cutaaaaaaaaaaaaaaaaaaaaaa", key=reader)
        self.assertEqual("available", r.json()["status"], r.describe())
        self.assertIn("recovered", r.json()["reason"])
        self.assertTrue((self.rec_dir / "rec_cutaaaaaaaaaaaaaaaaaaaaaa.webm").exists())
        events = d.request("GET", "/api/v1/sessions/%s/events" % sess["id"], key=admin).json()["events"]
        types = [e["type"] for e in events]
        self.assertIn("recording_recovered", types)
        self.assertIn("recording_failed", types)

        # -- retention: the 3-day-old one goes (retention_days = 1), audited
        def expired():
            r = d.request("GET", "/api/v1/recordings/rec_oldaaaaaaaaaaaaaaaaaaaaaa", key=reader)
            return r.json()["status"] == "deleted"
        harness.wait_until(expired, 20, "retention to delete the old recording")
        self.assertFalse((self.rec_dir / "rec_oldaaaaaaaaaaaaaaaaaaaaaa.webm").exists())
        self.assertEqual("available",
                         d.request("GET", "/api/v1/recordings/rec_availableaaaaaaaaaaaaaaaa", key=reader).json()["status"])

        # -- list, filters, paging, validation
        r = d.request("GET", "/api/v1/recordings?session_id=%s&limit=2" % sess["id"], key=reader)
        self.assertEqual(200, r.status, r.describe())
        page = r.json()
        self.assertEqual(2, len(page["recordings"]))
        self.assertIsNotNone(page["next_cursor"])
        r2 = d.request("GET", "/api/v1/recordings?session_id=%s&limit=2&cursor=%s" % (sess["id"], page["next_cursor"]),
                       key=reader).json()
        self.assertEqual(2, len(r2["recordings"]))
        self.assertIsNone(r2["next_cursor"])
        rec = page["recordings"][0]
        for field in ("id", "session_id", "participant_id", "source", "status", "reason", "content_type", "tracks",
                      "bytes", "duration_seconds", "created_at", "finished_at"):
            self.assertIn(field, rec)
        self.assertEqual("video/webm", rec["content_type"])
        self.assertEqual(["video/VP8", "audio/OPUS"], rec["tracks"])
        self.assertTrue(rec["created_at"].endswith("Z"))
        avail = d.request("GET", "/api/v1/recordings?status=available", key=reader).json()["recordings"]
        self.assertEqual({"rec_availableaaaaaaaaaaaaaaaa", "rec_cutaaaaaaaaaaaaaaaaaaaaaa"}, {x["id"] for x in avail})
        self.assertEqual(422, d.request("GET", "/api/v1/recordings?status=lost", key=reader).status)
        self.assertEqual(422, d.request("GET", "/api/v1/recordings?limit=0", key=reader).status)
        self.assertEqual(422, d.request("GET", "/api/v1/recordings?cursor=zz", key=reader).status)
        r = d.request("GET", "/api/v1/recordings/rec_doesnotexistaaaaaaaaaaaa", key=reader)
        self.assertEqual((404, "RECORDING_NOT_FOUND"), (r.status, r.error_code()))

        # -- authorisation
        self.assertEqual(401, d.request("GET", "/api/v1/recordings").status)
        self.assertEqual(401, d.request("GET", "/api/v1/recordings/rec_availableaaaaaaaaaaaaaaaa/media").status)
        self.assertEqual(403, d.request("GET", "/api/v1/recordings", key=sessions_only).status)
        self.assertEqual(403, d.request("GET", "/api/v1/recordings/rec_availableaaaaaaaaaaaaaaaa/media",
                                        key=sessions_only).status)
        self.assertEqual(403, d.request("GET", "/api/v1/recordings/rec_availableaaaaaaaaaaaaaaaa/media",
                                        key=writer).status)
        self.assertEqual(403, d.request("DELETE", "/api/v1/recordings/rec_availableaaaaaaaaaaaaaaaa",
                                        key=reader).status)
        self.assertEqual(403, d.request("POST", "/api/v1/sessions/%s/recording/start" % sess["id"],
                                        key=sessions_only).status)

        # -- media: full, ranges, 416; each access audited
        rid = "rec_availableaaaaaaaaaaaaaaaa"
        r = d.request("GET", "/api/v1/recordings/%s/media" % rid, key=reader)
        self.assertEqual(200, r.status, r.describe())
        self.assertEqual(payload, r.body)
        self.assertEqual("video/webm", r.headers["content-type"])
        self.assertEqual("bytes", r.headers["accept-ranges"])
        r = d.request("GET", "/api/v1/recordings/%s/media" % rid, key=reader, headers={"Range": "bytes=70000-140009"})
        self.assertEqual(206, r.status, r.describe())
        self.assertEqual(payload[70000:140010], r.body)
        self.assertEqual("bytes 70000-140009/%d" % len(payload), r.headers["content-range"])
        r = d.request("GET", "/api/v1/recordings/%s/media" % rid, key=admin, headers={"Range": "bytes=-100"})
        self.assertEqual((206, payload[-100:]), (r.status, r.body))
        r = d.request("GET", "/api/v1/recordings/%s/media" % rid, key=reader,
                      headers={"Range": "bytes=%d-" % len(payload)})
        self.assertEqual((416, "RANGE_NOT_SATISFIABLE"), (r.status, r.error_code()), r.describe())
        self.assertEqual("bytes */%d" % len(payload), r.headers["content-range"])
        r = d.request("HEAD", "/api/v1/recordings/%s/media" % rid, key=reader)
        self.assertEqual((200, b""), (r.status, r.body))
        self.assertEqual(str(len(payload)), r.headers["content-length"])
        r = d.request("GET", "/api/v1/recordings/rec_nofileaaaaaaaaaaaaaaaaaaa/media", key=reader)
        self.assertEqual((409, "RECORDING_NOT_AVAILABLE"), (r.status, r.error_code()))

        audit = [json.loads(line) for line in d.cli("audit", "export", "--format", "jsonl", "--config",
                                                   str(d.config_path)).stdout.splitlines() if line.strip()]
        accessed = [a for a in audit if a["action"] == "recording.accessed" and a["target"] == rid]
        ranges = sorted(json.loads(a["details"])["range"] if isinstance(a["details"], str) else a["details"]["range"]
                        for a in accessed)
        self.assertEqual(sorted(["full", "bytes=70000-140009", "bytes=%d-%d" % (len(payload) - 100, len(payload) - 1),
                                 "bytes=%d-" % len(payload), "full"]), ranges)
        self.assertTrue(all(a["actor"].startswith("apikey:") for a in accessed))
        self.assertTrue(any(a["action"] == "recording.expired" and a["target"] == "rec_oldaaaaaaaaaaaaaaaaaaaaaa"
                            and a["actor"] == "system" for a in audit))

        # -- start/stop refusals
        r = d.request("POST", "/api/v1/sessions/%s/recording/start" % sess["id"], key=writer)
        self.assertEqual((409, "SESSION_NOT_ACTIVE"), (r.status, r.error_code()), r.describe())
        self.assertEqual(200, d.request("POST", "/api/v1/sessions/%s/start" % sess["id"], key=admin).status)
        r = d.request("POST", "/api/v1/sessions/%s/recording/start" % sess["id"], key=writer)
        self.assertEqual((422, "RECORDING_NOT_SUPPORTED"), (r.status, r.error_code()), r.describe())
        r = d.request("POST", "/api/v1/sessions/%s/recording/stop" % sess["id"], key=writer)
        self.assertEqual((409, "RECORDING_NOT_ACTIVE"), (r.status, r.error_code()), r.describe())
        r = d.request("POST", "/api/v1/sessions/ses_nonexistentaaaaaaaaaaaa/recording/start", key=writer)
        self.assertEqual((404, "SESSION_NOT_FOUND"), (r.status, r.error_code()), r.describe())
        r = d.request("POST", "/api/v1/sessions/%s/recording/start" % sess["id"], {"x": 1}, key=writer)
        self.assertEqual((422, "VALIDATION_FAILED"), (r.status, r.error_code()), r.describe())

        # -- DELETE via API: 204, file gone, row kept as deleted, audited
        r = d.request("DELETE", "/api/v1/recordings/%s" % rid, key=writer)
        self.assertEqual(204, r.status, r.describe())
        self.assertFalse((self.rec_dir / ("%s.webm" % rid)).exists())
        self.assertEqual("deleted", d.request("GET", "/api/v1/recordings/%s" % rid, key=reader).json()["status"])
        self.assertEqual(404, d.request("DELETE", "/api/v1/recordings/%s" % rid, key=writer).status)
        r = d.request("GET", "/api/v1/recordings/%s/media" % rid, key=reader)
        self.assertEqual((409, "RECORDING_NOT_AVAILABLE"), (r.status, r.error_code()))

        # -- the CLI, against the same database and folder while the daemon runs
        listed = json.loads(d.cli("recording", "list", "--config", str(d.config_path), "--json").stdout)
        self.assertEqual(4, len(listed["recordings"]))
        out = d.tmp / "export.webm"
        cut = "rec_cutaaaaaaaaaaaaaaaaaaaaaa"
        exported = json.loads(d.cli("recording", "export", cut, str(out), "--config", str(d.config_path),
                                    "--json").stdout)
        self.assertEqual(cut_payload[:exported["bytes"]], out.read_bytes())
        self.assertGreater(exported["bytes"], 64 * 1024)  # the authenticated prefix of the cut file
        self.assertEqual(0o600, out.stat().st_mode & 0o777)
        p = d.cli("recording", "export", cut, str(out), "--config", str(d.config_path), check=False)
        self.assertEqual(1, p.returncode, "an existing output file is never overwritten")
        deleted = json.loads(d.cli("recording", "delete", cut, "--config", str(d.config_path), "--json").stdout)
        self.assertEqual("deleted", deleted["status"])
        p = d.cli("recording", "delete", cut, "--config", str(d.config_path), check=False)
        self.assertEqual(1, p.returncode)
        audit = [json.loads(line) for line in d.cli("audit", "export", "--format", "jsonl", "--config",
                                                   str(d.config_path)).stdout.splitlines() if line.strip()]
        cli_actions = {(a["action"], a["target"]) for a in audit if a["actor"].startswith("cli:")}
        self.assertIn(("recording.exported", cut), cli_actions)
        self.assertIn(("recording.deleted", cut), cli_actions)
        self.assertIn(("recording.deleted", rid),
                      {(a["action"], a["target"]) for a in audit if a["actor"].startswith("apikey:")})
        self.assertEqual(0, d.cli("audit", "verify", "--config", str(d.config_path)).returncode)


if __name__ == "__main__":
    unittest.main(verbosity=2)
