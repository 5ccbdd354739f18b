"""The audit trail: every key creation, session change and token grant is
logged, `consultd audit verify` passes after a real API run, and it fails
once a row is tampered with (the hash chain, not the triggers, is what
detects it)."""

import sqlite3

import harness
from harness import ApiTestCase, Daemon, session_body


class AuditTest(ApiTestCase):
    def setUp(self):
        self.daemon = Daemon(self, name="audit", jaas=False)
        self.key = self.daemon.create_api_key("sessions:read,sessions:write")
        self.daemon.start()

    def api(self, method, path, body=None):
        return self.daemon.request(method, "/api/v1" + path, body, key=self.key)

    def run_flow(self):
        sid = self.assertStatus(self.api("POST", "/sessions", session_body()), 201).json()["id"]
        tokens = []
        for pid in ("dr-house", "pat-1"):
            tokens.append(self.assertStatus(self.api("POST", f"/sessions/{sid}/token", {"participant_id": pid}),
                                            200).json()["token"])
        self.assertStatus(self.api("POST", f"/sessions/{sid}/start"), 200)
        self.assertStatus(self.api("POST", f"/sessions/{sid}/end", {"quality": "good"}), 200)
        other = self.assertStatus(self.api("POST", "/sessions", session_body()), 201).json()["id"]
        self.assertStatus(self.api("POST", f"/sessions/{other}/cancel"), 200)
        return sid, tokens

    def verify(self):
        return self.daemon.cli("audit", "verify", "--config", str(self.daemon.config_path), check=False)

    def rows(self):
        db = sqlite3.connect(f"file:{self.daemon.db_path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT seq, actor, action, target, details_json, prev_hash, hash "
                              "FROM audit_log ORDER BY seq").fetchall()
        finally:
            db.close()

    def test_verify_passes_then_detects_tampering(self):
        sid, tokens = self.run_flow()
        # While the daemon runs (WAL: the CLI reads beside it).
        v = self.verify()
        self.assertEqual(v.returncode, 0, v.stderr + v.stdout)
        self.assertEqual(self.daemon.stop(), 0)
        v = self.verify()
        self.assertEqual(v.returncode, 0, v.stderr + v.stdout)

        rows = self.rows()
        actions = [r[2] for r in rows]
        self.assertEqual([r[0] for r in rows], list(range(1, len(rows) + 1)), "audit seq has gaps")
        for previous, row in zip(rows, rows[1:]):
            self.assertEqual(row[5], previous[6], f"row {row[0]} does not chain to row {previous[0]}")
        for action in ("apikey.created", "session.created", "session.waiting", "session.started", "session.ended",
                       "session.cancelled"):
            self.assertIn(action, actions)
        self.assertEqual(actions.count("token.issued"), 2, actions)
        token_rows = [r for r in rows if r[2] == "token.issued"]
        self.assertTrue(all(r[3] == sid for r in token_rows))
        self.assertEqual(sorted(r[4].count("pat-1") + r[4].count("dr-house") for r in token_rows), [1, 1])
        for r in rows:
            for token in tokens:
                self.assertNotIn(token.split(".")[2], " ".join(map(str, r)), "a token signature is in the audit log")

        # Tamper with one middle row. The append-only triggers stop ordinary
        # SQL; someone holding the file can drop them, and the chain must still tell.
        victim = token_rows[0][0]
        db = sqlite3.connect(self.daemon.db_path)
        try:
            db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
            db.execute("UPDATE audit_log SET details_json = replace(details_json, 'dr-house', 'dr-evil') "
                       "WHERE seq = ?", (victim,))
            self.assertEqual(db.total_changes, 1)
            db.commit()
        finally:
            db.close()
        v = self.verify()
        self.assertNotEqual(v.returncode, 0, "audit verify passed on a tampered log:\n" + v.stdout + v.stderr)
        self.assertIn(str(victim), v.stderr, v.stderr)

    def test_verify_detects_deleted_row(self):
        self.run_flow()
        self.assertEqual(self.daemon.stop(), 0)
        rows = self.rows()
        middle = rows[len(rows) // 2][0]
        db = sqlite3.connect(self.daemon.db_path)
        try:
            db.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
            db.execute("DELETE FROM audit_log WHERE seq = ?", (middle,))
            db.commit()
        finally:
            db.close()
        v = self.verify()
        self.assertNotEqual(v.returncode, 0, "audit verify passed with a row deleted:\n" + v.stdout + v.stderr)

    def test_ordinary_sql_cannot_change_the_log(self):
        self.run_flow()
        self.assertEqual(self.daemon.stop(), 0)
        db = sqlite3.connect(self.daemon.db_path)
        try:
            with self.assertRaises(sqlite3.DatabaseError):
                db.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
            with self.assertRaises(sqlite3.DatabaseError):
                db.execute("DELETE FROM audit_log WHERE seq = 1")
        finally:
            db.close()
        v = self.verify()
        self.assertEqual(v.returncode, 0, v.stderr)


if __name__ == "__main__":
    harness.main()
