"""The admin commands (`consultd <command>`, docs/install.md, consultd(8))
against a running daemon on a temp config: exit codes (0 ok, 1 failed,
2 usage, 78 config), --json output, status up/down, session list/show/end
through the same transition as the API (event + audit entry), audit export
(CSV and JSON lines) whose hash chain matches the database."""

import csv
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

import harness  # noqa: E402
from harness import ApiTestCase, Daemon, session_body  # noqa: E402


class AdminCliTest(ApiTestCase):
    def setUp(self):
        self.port = harness.free_port()
        self.d = Daemon(self, name="cli", jaas=False, config={"server": {"port": self.port}})
        self.cfg = str(self.d.config_path)

    def cli(self, *args, rc=0):
        proc = self.d.cli(*args, "--config", self.cfg, check=False)
        self.assertEqual(proc.returncode, rc, f"consultd {' '.join(args)}: {proc.stdout}\n{proc.stderr}")
        return proc

    def test_usage_and_config_errors(self):
        self.assertEqual(self.d.cli("help").returncode, 0)
        self.assertIn("recording list", self.d.cli("help").stdout)
        self.cli("session", rc=2)
        self.cli("session", "list", "--limit", "0", rc=2)
        self.cli("apikey", "create", "--name", "x", "--scopes", "everything", rc=2)
        self.cli("audit", "export", "--format", "xml", rc=2)
        self.cli("backup", rc=2)
        bad = self.d.tmp / "bad.conf"
        bad.write_text("server = { prot = 1; };\n")
        for args in (["status"], ["session", "list"], ["check-config"]):
            proc = self.d.cli(*args, "--config", str(bad), check=False)
            self.assertEqual(proc.returncode, 78, f"{args}: {proc.stderr}")
            self.assertIn("server.prot", proc.stderr)

    def test_status_sessions_and_audit(self):
        key = self.d.create_api_key("admin")
        down = json.loads(self.cli("status", "--json", rc=1).stdout)
        self.assertFalse(down["running"])
        self.d.start()
        up = json.loads(self.cli("status", "--json").stdout)
        self.assertTrue(up["running"])
        self.assertEqual(up["readiness"], "ready")
        self.assertEqual(up["providers"], {"jitsi": "healthy"})

        sid = self.assertStatus(self.d.request("POST", "/api/v1/sessions", session_body("cli-1"), key=key), 201).json()["id"]
        self.assertStatus(self.d.request("POST", f"/api/v1/sessions/{sid}/start", {}, key=key), 200)
        listed = json.loads(self.cli("session", "list", "--status", "active", "--json").stdout)
        self.assertEqual([s["id"] for s in listed], [sid])
        self.assertEqual(json.loads(self.cli("status", "--json").stdout)["sessions"], {"active": 1})

        ended = json.loads(self.cli("session", "end", sid, "--reason", "stuck call", "--quality", "poor", "--json").stdout)
        self.assertEqual(ended["status"], "ended")
        self.assertEqual(ended["end_reason"], "stuck call")
        # The API sees the same transition, with its event.
        got = self.assertStatus(self.d.request("GET", f"/api/v1/sessions/{sid}", key=key), 200).json()
        self.assertEqual(got["status"], "ended")
        shown = json.loads(self.cli("session", "show", sid, "--json").stdout)
        self.assertEqual([e["type"] for e in shown["events"]], ["session_started", "session_ended"])
        self.assertIn("INVALID_STATE_TRANSITION", self.cli("session", "end", sid, rc=1).stderr)
        self.assertIn("SESSION_NOT_FOUND", self.cli("session", "end", "ses_missing", rc=1).stderr)
        self.cli("session", "show", "ses_missing", rc=1)

        lines = [json.loads(line) for line in self.cli("audit", "export").stdout.splitlines()]
        actions = [entry["action"] for entry in lines]
        self.assertIn("session.ended", actions)
        ended_entry = next(e for e in lines if e["action"] == "session.ended")
        self.assertTrue(ended_entry["actor"].startswith("cli:"))
        for before, after in zip(lines, lines[1:]):
            self.assertEqual(after["prev_hash"], before["hash"])
            self.assertEqual(after["seq"], before["seq"] + 1)

        out = self.d.tmp / "audit.csv"
        self.cli("audit", "export", "--format", "csv", "--output", str(out))
        self.assertEqual(out.stat().st_mode & 0o077, 0)
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
        self.assertEqual([r["hash"] for r in rows[: len(lines)]], [e["hash"] for e in lines])
        self.assertEqual(json.loads(rows[1]["details"]), lines[1]["details"])
        # The export itself is audited, and the chain still verifies.
        self.assertEqual(json.loads(self.cli("audit", "verify", "--json").stdout), {"intact": True})
        after = [json.loads(line) for line in self.cli("audit", "export", "--after", str(lines[-1]["seq"])).stdout.splitlines()]
        self.assertEqual([e["action"] for e in after][:2], ["audit.exported", "audit.exported"])

        self.d.stop()
        self.assertFalse(json.loads(self.cli("status", "--json", rc=1).stdout)["running"])


if __name__ == "__main__":
    harness.main()
