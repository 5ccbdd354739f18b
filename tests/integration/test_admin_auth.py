#!/usr/bin/python3
"""Admin console backend: admin users (CLI), login, session cookie, CSRF,
lockout, idle timeout, logout, the admin-scope REST endpoints (API keys,
audit, effective config, dashboard) and the live dashboard stream (SSE).

Drives the real daemon over HTTP with the standard library (harness.py)."""

import http.client
import json
import sqlite3
import time
import unittest

from harness import ApiTestCase, Daemon, main, session_body, wait_until

PASSWORD = "correct horse battery staple"


def cookies_of(response):
    """{name: (value, attributes)} from the Set-Cookie headers."""
    out = {}
    for name, value in response.header_list:
        if name.lower() != "set-cookie":
            continue
        parts = [p.strip() for p in value.split(";")]
        key, _, val = parts[0].partition("=")
        out[key] = (val, [p.lower() for p in parts[1:]])
    return out


class AdminConsoleTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(None, name="admin", config={"admin": {
            "lockout_failures": 3, "lockout_minutes": 1, "login_attempts_per_minute": 200,
            "event_interval_ms": 200}})
        cls.d.db_path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        cls.pwfile = cls.d.tmp / "pw"
        cls.pwfile.write_text(PASSWORD + "\n")
        cls.pwfile.chmod(0o600)
        for user in ("alice", "bob", "carol", "dave"):
            cls.d.cli("admin", "create", user, "--password-file", str(cls.pwfile), "--config", str(cls.d.config_path))
        cls.d.start()
        cls.key = cls.d.create_api_key("admin")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    # -- helpers ---------------------------------------------------------------------

    def login(self, user, password=PASSWORD, headers=None):
        return self.d.request("POST", "/api/v1/admin/login", {"username": user, "password": password},
                              headers=headers)

    def session_for(self, user):
        r = self.assertStatus(self.login(user), 200)
        cookies = cookies_of(r)
        return cookies["consultd_admin"][0], r.json()["csrf_token"]

    def as_admin(self, method, path, cookie, csrf=None, body=None, headers=None):
        hdrs = {"Cookie": f"consultd_admin={cookie}"}
        if csrf is not None:
            hdrs["X-CSRF-Token"] = csrf
        hdrs.update(headers or {})
        return self.d.request(method, path, body, headers=hdrs)

    # -- CLI ---------------------------------------------------------------------------------

    def test_cli(self):
        conf = str(self.d.config_path)
        dup = self.d.cli("admin", "create", "alice", "--password-file", str(self.pwfile), "--config", conf, check=False)
        self.assertEqual(dup.returncode, 1, dup.stderr)
        argv = self.d.cli("admin", "create", "eve", "--password", "hunter2hunter2", "--config", conf, check=False)
        self.assertEqual(argv.returncode, 2, argv.stderr)
        short = self.d.tmp / "short"
        short.write_text("short\n")
        weak = self.d.cli("admin", "create", "eve", "--password-file", str(short), "--config", conf, check=False)
        self.assertEqual(weak.returncode, 2, weak.stderr)
        self.assertIn("12 characters", weak.stderr)
        bad = self.d.cli("admin", "create", "no spaces", "--password-file", str(self.pwfile), "--config", conf, check=False)
        self.assertEqual(bad.returncode, 2)
        users = json.loads(self.d.cli("admin", "list", "--json", "--config", conf).stdout)
        names = {u["username"] for u in users}
        self.assertTrue({"alice", "bob", "carol", "dave"} <= names, users)
        self.assertNotIn("eve", names)
        # The stored hash is scrypt with its parameters and salt, never the password.
        with sqlite3.connect(self.d.db_path) as db:
            stored = db.execute("SELECT password_hash FROM admin_users WHERE username='alice'").fetchone()[0]
        self.assertRegex(stored, r"^scrypt\$ln=15,r=8,p=3\$[0-9a-f]{32}\$[0-9a-f]{64}$")
        self.assertNotIn(PASSWORD, open(self.d.db_path, "rb").read().decode("latin-1"))
        # Password from stdin works too.
        import subprocess
        from harness import BIN
        p = subprocess.run([str(BIN), "admin", "create", "frank", "--config", conf, "--json"], input=PASSWORD + "\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["result"], "created")
        self.assertStatus(self.login("frank"), 200)

    # -- login and cookies ---------------------------------------------------------------

    def test_login_cookies_and_session(self):
        r = self.d.request("GET", "/api/v1/admin/session")
        self.assertStatus(r, 401, "UNAUTHENTICATED")
        wrong = self.assertStatus(self.login("alice", "not the password"), 401, "LOGIN_FAILED")
        unknown = self.assertStatus(self.login("nobody", "not the password"), 401, "LOGIN_FAILED")
        self.assertEqual(wrong.json()["error"]["message"], unknown.json()["error"]["message"])
        self.assertStatus(self.d.request("POST", "/api/v1/admin/login", {"username": "alice"}), 422, "VALIDATION_FAILED")

        r = self.assertStatus(self.login("alice"), 200)
        cookies = cookies_of(r)
        session, attrs = cookies["consultd_admin"]
        self.assertTrue(session.startswith("cas_"))
        self.assertIn("httponly", attrs)
        self.assertIn("samesite=strict", attrs)
        self.assertIn("path=/", attrs)
        self.assertNotIn("secure", attrs)  # plain HTTP on loopback
        csrf, csrf_attrs = cookies["consultd_csrf"]
        self.assertNotIn("httponly", csrf_attrs)
        self.assertIn("samesite=strict", csrf_attrs)
        self.assertEqual(csrf, r.json()["csrf_token"])
        me = self.assertStatus(self.as_admin("GET", "/api/v1/admin/session", session), 200).json()
        self.assertEqual(me["actor"], "admin:alice")
        # Only hashes are stored.
        with sqlite3.connect(self.d.db_path) as db:
            rows = db.execute("SELECT id_hash, csrf_hash FROM admin_sessions").fetchall()
        self.assertTrue(rows)
        dump = open(self.d.db_path, "rb").read().decode("latin-1")
        self.assertNotIn(session, dump)
        self.assertNotIn(csrf, dump)
        # Login from another origin is refused.
        self.assertStatus(self.login("alice", headers={"Origin": "http://evil.example"}), 403, "CSRF_REJECTED")
        # Secrets never reach the log.
        log = self.d.stderr_text()
        for secret in (PASSWORD, session, csrf):
            self.assertNotIn(secret, log)

    def test_csrf_and_actor(self):
        session, csrf = self.session_for("alice")
        body = session_body()
        r = self.as_admin("POST", "/api/v1/sessions", session, body=body)
        self.assertStatus(r, 403, "CSRF_REJECTED")
        r = self.as_admin("POST", "/api/v1/sessions", session, csrf="x" * 52, body=body)
        self.assertStatus(r, 403, "CSRF_REJECTED")
        r = self.as_admin("POST", "/api/v1/sessions", session, csrf=csrf, body=body,
                          headers={"Origin": "http://evil.example"})
        self.assertStatus(r, 403, "CSRF_REJECTED")
        # Another admin's CSRF token does not fit this session.
        _, other_csrf = self.session_for("carol")
        self.assertStatus(self.as_admin("POST", "/api/v1/sessions", session, csrf=other_csrf, body=body), 403,
                          "CSRF_REJECTED")
        origin = f"http://127.0.0.1:{self.d.port}"
        r = self.assertStatus(self.as_admin("POST", "/api/v1/sessions", session, csrf=csrf, body=body,
                                            headers={"Origin": origin}), 201)
        sid = r.json()["id"]
        # GET needs no CSRF token.
        self.assertStatus(self.as_admin("GET", f"/api/v1/sessions/{sid}", session), 200)
        audit = self.assertStatus(self.d.request("GET", f"/api/v1/audit?target={sid}", key=self.key), 200).json()
        actors = {e["actor"] for e in audit["entries"]}
        self.assertIn("admin:alice", actors, audit)
        # API keys keep working without any CSRF token.
        self.assertStatus(self.d.request("POST", "/api/v1/sessions", session_body(), key=self.key), 201)
        # A garbage cookie is a 401, not a crash.
        self.assertStatus(self.as_admin("GET", "/api/v1/sessions", "cas_" + "a" * 52), 401, "UNAUTHENTICATED")
        self.assertStatus(self.as_admin("GET", "/api/v1/sessions", "garbage"), 401, "UNAUTHENTICATED")

    def test_api_keys_audit_config(self):
        session, csrf = self.session_for("alice")
        r = self.assertStatus(self.as_admin("POST", "/api/v1/api-keys", session, csrf,
                                            {"name": "ehr", "scopes": ["sessions:read", "sessions:write"]}), 201)
        created = r.json()
        key = created["key"]
        self.assertTrue(key.startswith("cdk_" + created["id"] + "_"))
        self.assertStatus(self.d.request("GET", "/api/v1/sessions", key=key), 200)
        listing = self.assertStatus(self.as_admin("GET", "/api/v1/api-keys", session), 200)
        self.assertNotIn(key.split("_")[-1], listing.text)
        self.assertIn(created["id"], listing.text)
        self.assertStatus(self.as_admin("POST", "/api/v1/api-keys", session, csrf, {"name": "x", "scopes": ["root"]}),
                          422, "VALIDATION_FAILED")
        self.assertStatus(self.as_admin("POST", "/api/v1/api-keys", session, csrf, {"name": "x"}), 422,
                          "VALIDATION_FAILED")
        self.assertStatus(self.as_admin("POST", f"/api/v1/api-keys/{created['id']}/revoke", session), 403,
                          "CSRF_REJECTED")
        r = self.assertStatus(self.as_admin("POST", f"/api/v1/api-keys/{created['id']}/revoke", session, csrf), 200)
        self.assertTrue(r.json()["revoked_at"])
        wait_until(lambda: self.d.request("GET", "/api/v1/sessions", key=key).status == 401, 10, "revoked key refused")
        self.assertStatus(self.as_admin("POST", f"/api/v1/api-keys/{created['id']}/revoke", session, csrf), 409,
                          "API_KEY_REVOKED")
        self.assertStatus(self.as_admin("POST", "/api/v1/api-keys/nosuchkey/revoke", session, csrf), 404,
                          "API_KEY_NOT_FOUND")

        audit = self.assertStatus(self.as_admin("GET", "/api/v1/audit?actor=admin:alice&action=apikey", session),
                                  200).json()
        actions = [e["action"] for e in audit["entries"]]
        self.assertIn("apikey.created", actions)
        self.assertIn("apikey.revoked", actions)
        self.assertNotIn(key, json.dumps(audit))
        page = self.assertStatus(self.as_admin("GET", "/api/v1/audit?limit=1", session), 200).json()
        self.assertEqual(len(page["entries"]), 1)
        older = self.assertStatus(self.as_admin("GET", "/api/v1/audit?limit=1&cursor=" + page["next_cursor"], session),
                                  200).json()
        self.assertLess(older["entries"][0]["seq"], page["entries"][0]["seq"])
        self.assertStatus(self.as_admin("GET", "/api/v1/audit?from=yesterday", session), 422, "VALIDATION_FAILED")
        csv = self.assertStatus(self.as_admin("GET", "/api/v1/audit.csv?action=admin.login", session), 200)
        self.assertTrue(csv.headers["content-type"].startswith("text/csv"))
        self.assertIn("attachment", csv.headers["content-disposition"])
        lines = csv.text.strip().splitlines()
        self.assertEqual(lines[0], "seq,at,actor,action,target,details,request_id,prev_hash,hash")
        self.assertTrue(all(",admin.login" in line for line in lines[1:]), lines[:5])
        self.assertGreater(len(lines), 1)
        exported = self.as_admin("GET", "/api/v1/audit?action=audit.exported", session).json()
        self.assertTrue(exported["entries"])

        cfg = self.assertStatus(self.as_admin("GET", "/api/v1/admin/config", session), 200)
        names = {s["name"]: s for s in cfg.json()["settings"]}
        self.assertIn("providers.jitsi.app_secret_file", names)
        self.assertIn("admin.session_idle_minutes", names)
        self.assertNotIn(self.d.app_secret, cfg.text)
        for secret_line in (self.d.jaas_private_pem or "").splitlines()[1:-1]:
            self.assertNotIn(secret_line, cfg.text)
        # A sessions-only key cannot reach the admin endpoints.
        reader = self.d.create_api_key("sessions:read")
        self.assertStatus(self.d.request("GET", "/api/v1/audit", key=reader), 403, "INSUFFICIENT_SCOPE")
        self.assertStatus(self.d.request("GET", "/api/v1/admin/config", key=reader), 403, "INSUFFICIENT_SCOPE")

    def test_dashboard_and_live_stream(self):
        session, _ = self.session_for("alice")
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=20)
        conn.request("GET", "/api/v1/admin/events", headers={"Cookie": f"consultd_admin={session}"})
        resp = conn.getresponse()
        try:
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.getheader("Content-Type").startswith("text/event-stream"))

            def next_snapshot():
                data = None
                while True:
                    line = resp.readline()
                    if not line:
                        raise AssertionError("stream closed")
                    line = line.decode().rstrip("\r\n")
                    if line.startswith("data: "):
                        data = json.loads(line[6:])
                    elif line == "" and data is not None:
                        return data

            first = next_snapshot()
            for key in ("sessions", "session_counts", "providers", "turn", "signaling", "recordings"):
                self.assertIn(key, first)
            self.assertIn("jitsi", {p["name"] for p in first["providers"]})
            created = self.assertStatus(self.d.request("POST", "/api/v1/sessions", session_body(), key=self.key), 201)
            sid = created.json()["id"]
            deadline = time.monotonic() + 15
            seen = False
            while time.monotonic() < deadline and not seen:
                snap = next_snapshot()
                seen = any(s["id"] == sid for group in snap["sessions"].values() for s in group)
            self.assertTrue(seen, "the new session never reached the stream")
        finally:
            conn.close()
        once = self.assertStatus(self.as_admin("GET", "/api/v1/admin/events?once=true", session), 200)
        self.assertIn("event: snapshot", once.text)
        dash = self.assertStatus(self.as_admin("GET", "/api/v1/admin/dashboard", session), 200).json()
        self.assertIn(sid, json.dumps(dash))

    def test_lockout(self):
        for _ in range(3):
            self.assertStatus(self.login("bob", "wrong password!"), 401, "LOGIN_FAILED")
        locked = self.assertStatus(self.login("bob"), 429, "LOGIN_LOCKED")
        self.assertGreater(int(locked.headers["retry-after"]), 0)
        # An unknown name locks the same way (the answers do not reveal which names exist).
        for _ in range(3):
            self.assertStatus(self.login("mallory", "wrong password!"), 401, "LOGIN_FAILED")
        self.assertStatus(self.login("mallory", "wrong password!"), 429, "LOGIN_LOCKED")
        audit = self.d.request("GET", "/api/v1/audit?target=bob", key=self.key).json()["entries"]
        actions = [e["action"] for e in audit]
        self.assertIn("admin.locked", actions)
        self.assertIn("admin.login_failed", actions)
        self.assertIn("admin.login_refused", actions)
        self.assertNotIn("wrong password!", json.dumps(audit))
        # reset-password unlocks.
        self.d.cli("admin", "reset-password", "bob", "--password-file", str(self.pwfile), "--config",
                   str(self.d.config_path))
        self.assertStatus(self.login("bob"), 200)

    def test_logout_disable_idle(self):
        session, csrf = self.session_for("dave")
        self.assertStatus(self.as_admin("POST", "/api/v1/admin/logout", session), 403, "CSRF_REJECTED")
        r = self.assertStatus(self.as_admin("POST", "/api/v1/admin/logout", session, csrf), 200)
        cleared = cookies_of(r)
        self.assertEqual(cleared["consultd_admin"][0], "")
        self.assertIn("max-age=0", cleared["consultd_admin"][1])
        self.assertStatus(self.as_admin("GET", "/api/v1/admin/session", session), 401, "UNAUTHENTICATED")
        audit = self.d.request("GET", "/api/v1/audit?action=admin.logout&actor=admin:dave", key=self.key).json()
        self.assertTrue(audit["entries"])

        # Idle timeout: a session last seen longer ago than admin.session_idle_minutes ends.
        session, _ = self.session_for("dave")
        self.assertStatus(self.as_admin("GET", "/api/v1/admin/session", session), 200)
        with sqlite3.connect(self.d.db_path) as db:
            db.execute("UPDATE admin_sessions SET last_seen_at = last_seen_at - 31*60*1000 WHERE username='dave'")
        wait_until(lambda: self.as_admin("GET", "/api/v1/admin/session", session).status == 401, 10, "idle session ends")

        # Disabled from the CLI: the session ends within a second.
        session, _ = self.session_for("dave")
        self.assertStatus(self.as_admin("GET", "/api/v1/admin/session", session), 200)
        self.d.cli("admin", "disable", "dave", "--config", str(self.d.config_path))
        wait_until(lambda: self.as_admin("GET", "/api/v1/admin/session", session).status == 401, 10, "disabled user out")
        self.assertStatus(self.login("dave"), 401, "LOGIN_FAILED")


if __name__ == "__main__":
    main()
