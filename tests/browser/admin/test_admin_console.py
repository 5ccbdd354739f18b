#!/usr/bin/python3
"""Admin console in a real browser: starts the daemon (harness.Daemon) with
web_root = the checkout's web/, makes two admin users with the CLI, runs
admin_console.spec.mjs in headless Chromium, then checks on the server side
what the browser did (audit entries by admin:<user>, the lockout)."""

import json
import os
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent / "integration"))

from browser_harness import run_node_spec  # noqa: E402
from harness import SOURCE_DIR, Daemon  # noqa: E402

PASSWORD = "browser test password 1"
LOCKOUT_FAILURES = 3


class AdminConsoleBrowserTest(unittest.TestCase):
    def test_admin_console(self):
        d = Daemon(self, name="browser-admin", config={
            "server": {"web_root": str(SOURCE_DIR / "web")},
            "admin": {"lockout_failures": LOCKOUT_FAILURES, "lockout_minutes": 5,
                      "login_attempts_per_minute": 100, "event_interval_ms": 250},
        })
        d.db_path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        pw = d.tmp / "pw"
        pw.write_text(PASSWORD + "\n")
        pw.chmod(0o600)
        for user in ("alice", "locked-bob"):
            d.cli("admin", "create", user, "--password-file", str(pw), "--config", str(d.config_path))
        d.start()
        key = d.create_api_key("admin")
        run_node_spec(self, HERE / "admin_console.spec.mjs", {
            "CONSULTD_API_KEY": key,
            "CONSULTD_ADMIN_USER": "alice",
            "CONSULTD_ADMIN_PASSWORD": PASSWORD,
            "CONSULTD_LOCK_USER": "locked-bob",
            "CONSULTD_LOCKOUT_FAILURES": str(LOCKOUT_FAILURES),
        }, daemon=d, timeout=240)

        def audit(**params):
            from urllib.parse import urlencode
            r = d.request("GET", "/api/v1/audit?" + urlencode(params), key=key)
            self.assertEqual(r.status, 200, r.describe())
            return r.json()["entries"]

        actions = {e["action"] for e in audit(actor="admin:alice")}
        for expected in ("admin.login", "apikey.created", "audit.exported", "admin.logout"):
            self.assertIn(expected, actions)
        bob = {e["action"] for e in audit(target="locked-bob")}
        self.assertIn("admin.locked", bob)
        self.assertIn("admin.login_refused", bob)
        users = json.loads(d.cli("admin", "list", "--json", "--config", str(d.config_path)).stdout)
        self.assertTrue(next(u for u in users if u["username"] == "locked-bob")["locked_until"])
        log = d.stderr_text()
        self.assertNotIn(PASSWORD, log)
        self.assertNotIn(key, log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
