"""`consultd backup` while a load writes sessions, then `consultd restore`.

Several threads create sessions through the API; once some are acknowledged
the backup starts (the CLI, against the running daemon's database, as an
operator would). The copy must pass PRAGMA integrity_check and hold every
session acknowledged (201 in hand) before the backup started. Restore must
refuse while the daemon runs, then, with it stopped, swap the copy in; the
daemon starts on it and serves those sessions; the audit chain verifies.
"""

import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

import harness  # noqa: E402
from harness import ApiTestCase, Daemon, session_body  # noqa: E402

THREADS = 4
BEFORE_BACKUP = 60   # acknowledged sessions before the backup starts
AFTER_BACKUP = 60    # the load keeps going at least this long (sessions) during/after it


class BackupUnderLoadTest(ApiTestCase):
    def test_backup_while_writing_then_restore(self):
        d = Daemon(self, name="backup", jaas=False)
        key = d.create_api_key("sessions:read,sessions:write")
        d.start()

        acked = []  # (ack time, session id)
        lock = threading.Lock()
        stop = threading.Event()
        failures = []

        def worker(n):
            i = 0
            while not stop.is_set():
                i += 1
                body = session_body(f"bk-{n}-{i}")
                try:
                    r = d.request("POST", "/api/v1/sessions", body, key=key, timeout=20)
                except OSError as e:
                    failures.append(repr(e))
                    return
                if r.status == 201:
                    with lock:
                        acked.append((time.monotonic(), r.json()["id"]))
                elif r.status != 200:
                    failures.append(r.describe())

        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS)]
        for t in threads:
            t.start()
        try:
            harness.wait_until(lambda: len(acked) >= BEFORE_BACKUP, 120, f"{BEFORE_BACKUP} acknowledged sessions")
            backup = d.tmp / "backup.db"
            backup_started = time.monotonic()
            with lock:
                count_at_start = len(acked)
            proc = d.cli("backup", str(backup), "--config", str(d.config_path), "--json", timeout=120)
            backup_ended = time.monotonic()
            info = json.loads(proc.stdout)
            self.assertEqual(Path(info["file"]), backup)
            # Keep writing after the backup too, so "later" rows exist that the copy may lack.
            harness.wait_until(lambda: len(acked) >= count_at_start + AFTER_BACKUP, 120, "load after the backup")
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(failures, [])
        with lock:
            acked_before = {sid for (at, sid) in acked if at < backup_started}
            written_during = sum(1 for (at, _) in acked if backup_started <= at <= backup_ended)
        print(f"{len(acked_before)} sessions acknowledged before the backup, {written_during} during it, "
              f"{len(acked)} in all; backup took {backup_ended - backup_started:.2f} s", file=sys.stderr)

        self.assertEqual(backup.stat().st_mode & 0o077, 0, "backup must be readable by its owner only")
        db = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            in_backup = {row[0] for row in db.execute("SELECT id FROM sessions")}
        finally:
            db.close()
        missing = acked_before - in_backup
        self.assertEqual(missing, set(), f"{len(missing)} acknowledged sessions missing from the backup")

        # Restore refuses while the daemon has the database open.
        proc = d.cli("restore", str(backup), "--config", str(d.config_path), check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("stop it first", proc.stderr)

        self.assertEqual(d.stop(), 0)
        proc = d.cli("restore", str(backup), "--config", str(d.config_path), "--json")
        restored = json.loads(proc.stdout)
        self.assertTrue(Path(restored["previous_database"]).exists(), "the replaced database is kept")

        db = sqlite3.connect(f"file:{d.db_path}?mode=ro", uri=True)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            now_present = {row[0] for row in db.execute("SELECT id FROM sessions")}
            actions = [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY seq")]
        finally:
            db.close()
        self.assertEqual(now_present, in_backup)
        self.assertEqual(actions[-1], "backup.restored")
        self.assertEqual(d.cli("audit", "verify", "--config", str(d.config_path)).returncode, 0)

        # The daemon starts on the restored database and serves those sessions.
        d.start()
        sample = sorted(acked_before)[:5]
        for sid in sample:
            self.assertStatus(d.request("GET", f"/api/v1/sessions/{sid}", key=key), 200)

        # A backup over an existing file needs --force; a bad file is refused by restore.
        self.assertEqual(d.cli("backup", str(backup), "--config", str(d.config_path), check=False).returncode, 1)
        d.stop()
        junk = d.tmp / "junk.db"
        junk.write_bytes(b"not a database" * 100)
        proc = d.cli("restore", str(junk), "--config", str(d.config_path), check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("nothing changed", proc.stderr)


if __name__ == "__main__":
    harness.main()
