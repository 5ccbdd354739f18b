#!/usr/bin/python3
"""it_join_api: invites (create, redeem, single browser, rejoin, expiry, rate
limit), exam-room devices (REST under devices:write, enrollment, revoke) and
the kiosk API (state, grant) against the built daemon, plus the device CLI.

The invite id and the device credential are bearer secrets: the test checks
they reach neither the log nor the audit trail."""

import json
import re
import sqlite3
import time

import harness

PARTICIPANTS = [{"id": "pat-1", "name": "Patient One", "role": "patient"},
                {"id": "guest-1", "name": "Guest", "role": "guest"}]


def cookie_from(response, prefix):
    """(name, value, attributes) of the Set-Cookie whose name starts with prefix."""
    for name, value in response.header_list:
        if name.lower() == "set-cookie" and value.startswith(prefix):
            first, _, attrs = value.partition(";")
            cname, _, cvalue = first.partition("=")
            return cname, cvalue, attrs
    return None


class JoinApiTest(harness.ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = harness.Daemon(None, name="joinapi", config={
            "security": {"token_rate_per_minute": 1000},
            "invites": {"redeem_rate_per_minute": 1000},
            "devices": {"enroll_rate_per_minute": 1000},
        })
        cls.key = cls.daemon.create_api_key("admin")
        cls.reader = cls.daemon.create_api_key("sessions:read")
        cls.devkey = cls.daemon.create_api_key("devices:write")
        cls.daemon.start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.daemon.cleanup()

    def create_session(self, **extra):
        body = {"consultation_id": "c-" + str(time.monotonic_ns()), "host": {"id": "dr-1", "name": "Dr. One"},
                "participants": PARTICIPANTS}
        body.update(extra)
        r = self.daemon.request("POST", "/api/v1/sessions", body, key=self.key)
        self.assertStatus(r, 201)
        return r.json()

    def invite(self, session_id, participant="pat-1"):
        r = self.daemon.request("POST", f"/api/v1/sessions/{session_id}/invites", {"participant_id": participant},
                                key=self.key)
        self.assertStatus(r, 201)
        body = r.json()
        self.assertEqual(set(body), {"invite_url", "expires_at", "session_id", "participant_id"})
        m = re.fullmatch(r"http://127\.0\.0\.1:\d+/join/([a-z2-7]{32})", body["invite_url"])
        self.assertTrue(m, body)
        self.daemon.issued_secrets.append(m.group(1))
        return m.group(1), body

    def redeem(self, invite, cookie=None, grant=None, headers=None):
        hdrs = dict(headers or {})
        if cookie:
            hdrs["Cookie"] = f"{cookie[0]}={cookie[1]}"
        body = {"invite": invite}
        if grant is not None:
            body["grant"] = grant
        return self.daemon.request("POST", "/api/v1/invites/redeem", body, headers=hdrs)

    # ---- invites -------------------------------------------------------------------

    def test_invite_redeem_binds_one_browser_and_rejoins(self):
        s = self.create_session()
        invite, created = self.invite(s["id"])
        first = self.redeem(invite)
        self.assertStatus(first, 200)
        data = first.json()
        self.assertEqual(data["participant"], {"id": "pat-1", "name": "Patient One", "role": "patient"})
        self.assertEqual(data["session"]["id"], s["id"])
        self.assertEqual(data["session"]["host_name"], "Dr. One")
        self.assertEqual(data["session"]["status"], "waiting")  # the first grant opens the waiting room
        self.assertTrue(data["can_join"]["can_join"])
        self.assertEqual(data["invite_expires_at"], created["expires_at"])
        grant = data["grant"]
        self.assertEqual((grant["provider"], grant["role"]), ("jitsi", "patient"))
        self.daemon.issued_secrets.append(grant["token"])
        cookie = cookie_from(first, "consultd_rejoin_")
        self.assertTrue(cookie, first.header_list)
        self.daemon.issued_secrets.append(cookie[1])
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/api/v1/invites", "Max-Age="):
            self.assertIn(attr, cookie[2])
        self.assertNotIn("Secure", cookie[2])  # plain loopback; Secure under TLS
        self.assertEqual(first.headers.get("cache-control"), "no-store")

        # Another browser (no cookie, or a wrong one) is refused.
        self.assertStatus(self.redeem(invite), 409, "INVITE_ALREADY_USED")
        self.assertStatus(self.redeem(invite, (cookie[0], "x" * 52)), 409, "INVITE_ALREADY_USED")
        # The bound browser gets a fresh grant (reload) and can just look at the state.
        again = self.redeem(invite, cookie)
        self.assertStatus(again, 200)
        self.assertIsNotNone(again.json()["grant"])
        self.daemon.issued_secrets.append(again.json()["grant"]["token"])
        self.assertIsNone(cookie_from(again, "consultd_rejoin_"))
        state = self.redeem(invite, cookie, grant=False)
        self.assertStatus(state, 200)
        self.assertIsNone(state.json()["grant"])
        self.assertEqual(state.json()["session"]["status"], "waiting")

        # Started, then ended: the page sees it, no grant for a closed session.
        self.assertStatus(self.daemon.request("POST", f"/api/v1/sessions/{s['id']}/start", {}, key=self.key), 200)
        self.assertEqual(self.redeem(invite, cookie, grant=False).json()["session"]["status"], "active")
        self.assertStatus(self.daemon.request("POST", f"/api/v1/sessions/{s['id']}/end", {}, key=self.key), 200)
        ended = self.redeem(invite, cookie)
        self.assertStatus(ended, 200)
        self.assertEqual(ended.json()["session"]["status"], "ended")
        self.assertIsNone(ended.json()["grant"])
        self.assertEqual(ended.json()["can_join"]["reason"], "session_ended")
        # A closed session takes no new invites.
        r = self.daemon.request("POST", f"/api/v1/sessions/{s['id']}/invites", {"participant_id": "pat-1"}, key=self.key)
        self.assertStatus(r, 409, "SESSION_CLOSED")

        # Audited without the secret; never logged.
        audit = [a for a in self.audit() if a["target"] == s["id"]]
        actions = [a["action"] for a in audit]
        for action in ("invite.created", "invite.redeemed", "invite.reuse_refused", "token.issued"):
            self.assertIn(action, actions)
        text = json.dumps(audit)
        self.assertNotIn(invite, text)
        self.assertNotIn(cookie[1], text)
        log = self.daemon.stderr_text()
        self.assertNotIn(invite, log)
        self.assertNotIn(cookie[1], log)
        self.assertNotIn(grant["token"], log)

    def test_invite_errors(self):
        s = self.create_session()
        r = self.daemon.request("POST", f"/api/v1/sessions/{s['id']}/invites", {"participant_id": "nobody"}, key=self.key)
        self.assertStatus(r, 403, "NOT_A_PARTICIPANT")
        r = self.daemon.request("POST", "/api/v1/sessions/ses_nope/invites", {"participant_id": "pat-1"}, key=self.key)
        self.assertStatus(r, 404, "SESSION_NOT_FOUND")
        r = self.daemon.request("POST", f"/api/v1/sessions/{s['id']}/invites", {"participant_id": "pat-1"}, key=self.reader)
        self.assertStatus(r, 403, "INSUFFICIENT_SCOPE")
        r = self.daemon.request("POST", f"/api/v1/sessions/{s['id']}/invites", {"participant": "pat-1"}, key=self.key)
        self.assertStatus(r, 422, "VALIDATION_FAILED")
        self.assertStatus(self.redeem("a" * 32), 404, "INVITE_NOT_FOUND")
        self.assertStatus(self.daemon.request("POST", "/api/v1/invites/redeem", {"invite": "../etc"}), 422,
                          "VALIDATION_FAILED")
        self.assertStatus(self.daemon.request("POST", "/api/v1/invites/redeem", raw=b"invite=x",
                                              content_type="application/x-www-form-urlencoded"), 415)

    def test_expired_invite(self):
        s = self.create_session()
        invite, _ = self.invite(s["id"], "guest-1")
        # Age it in the database (another process may write: WAL).
        with sqlite3.connect(self.daemon.db_path) as db:
            db.execute("UPDATE invites SET expires_at = 1 WHERE session_id = ?", (s["id"],))
        self.assertStatus(self.redeem(invite), 403, "INVITE_EXPIRED")

    def test_redeem_is_rate_limited_per_address(self):
        d = harness.Daemon(self, name="joinrate", config={"invites": {"redeem_rate_per_minute": 3}})
        d.start()
        codes = [d.request("POST", "/api/v1/invites/redeem", {"invite": "b" * 32}).status for _ in range(5)]
        self.assertEqual(codes[:3], [404, 404, 404])
        r = d.request("POST", "/api/v1/invites/redeem", {"invite": "b" * 32})
        self.assertStatus(r, 429, "RATE_LIMITED")
        self.assertIn("retry-after", r.headers)

    def test_join_page_csp_allows_the_enabled_providers_only(self):
        r = self.daemon.request("GET", "/join/" + "c" * 32)
        self.assertEqual(r.status, 200, r.describe())
        csp = r.headers["content-security-policy"]
        directives = {d.split()[0]: d.split()[1:] for d in (x.strip() for x in csp.split(";")) if d}
        # jitsi (meet.example.org) and jaas are enabled in the harness config.
        self.assertEqual(directives["script-src"], ["'self'", f"https://{harness.JITSI_DOMAIN}", "https://8x8.vc"])
        self.assertEqual(directives["frame-src"], [f"https://{harness.JITSI_DOMAIN}", "https://8x8.vc"])
        self.assertNotIn("'unsafe-inline'", csp)
        self.assertEqual(directives["frame-ancestors"], ["'none'"])
        kiosk = self.daemon.request("GET", "/kiosk").headers["content-security-policy"]
        self.assertIn("script-src 'self';", kiosk)
        self.assertIn("frame-src 'none'", kiosk)

    def test_failed_device_authentication_is_rate_limited(self):
        d = harness.Daemon(self, name="kioskrate", config={"security": {"auth_failure_rate_per_minute": 3}})
        d.start()
        bogus = {"Cookie": "consultd_device=dev_aaaaaaaaaaaaaaaa." + "a" * 52}
        codes = [d.request("GET", "/api/v1/kiosk/state", headers=bogus).status for _ in range(3)]
        self.assertEqual(codes, [401, 401, 401])
        r = d.request("GET", "/api/v1/kiosk/state", headers=bogus)
        self.assertStatus(r, 429, "RATE_LIMITED")
        self.assertIn("retry-after", r.headers)

    # ---- devices and kiosks --------------------------------------------------------------

    def audit(self):
        proc = self.daemon.cli("audit", "export", "--config", str(self.daemon.config_path))
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def test_device_lifecycle_and_kiosk(self):
        r = self.daemon.request("POST", "/api/v1/devices", {"name": "Room 3 kiosk", "room_name": "Exam room 3"},
                                key=self.devkey)
        self.assertStatus(r, 201)
        dev = r.json()
        code = dev["enrollment_code"]
        self.daemon.issued_secrets.append(code)
        self.assertRegex(code, r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")
        self.assertEqual((dev["status"], dev["enrolled_at"], dev["last_seen_at"]), ("pending", None, None))
        self.assertTrue(dev["id"].startswith("dev_"))
        listed = self.daemon.request("GET", "/api/v1/devices", key=self.devkey)
        self.assertStatus(listed, 200)
        mine = [d for d in listed.json()["devices"] if d["id"] == dev["id"]]
        self.assertEqual(len(mine), 1)
        self.assertNotIn("enrollment_code", mine[0])
        self.assertEqual(set(mine[0]), {"id", "name", "room_name", "status", "enrolled_at", "last_seen_at",
                                        "created_at", "revoked_at", "enrollment_expires_at"})
        self.assertStatus(self.daemon.request("GET", "/api/v1/devices", key=self.reader), 403, "INSUFFICIENT_SCOPE")
        self.assertStatus(self.daemon.request("GET", "/api/v1/devices"), 401, "UNAUTHENTICATED")

        # No credential yet.
        self.assertStatus(self.daemon.request("GET", "/api/v1/kiosk/state"), 401, "DEVICE_UNAUTHENTICATED")
        self.assertStatus(self.daemon.request("POST", "/api/v1/kiosk/enroll", {"code": "AAAA-BBBB-CCCC"}), 403,
                          "INVALID_ENROLLMENT_CODE")
        # Typed in lower case with spaces: still the code.
        enroll = self.daemon.request("POST", "/api/v1/kiosk/enroll", {"code": " " + code.lower().replace("-", " ")})
        self.assertStatus(enroll, 200)
        self.assertEqual(enroll.json()["id"], dev["id"])
        self.assertEqual(enroll.json()["status"], "enrolled")
        cookie = cookie_from(enroll, "consultd_device=")
        self.assertTrue(cookie, enroll.header_list)
        self.daemon.issued_secrets.append(cookie[1])
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/api/v1/kiosk", "Max-Age=34560000"):
            self.assertIn(attr, cookie[2])
        self.assertNotIn(cookie[1], enroll.text)
        # Single use.
        self.assertStatus(self.daemon.request("POST", "/api/v1/kiosk/enroll", {"code": code}), 403,
                          "INVALID_ENROLLMENT_CODE")
        jar = {"Cookie": f"consultd_device={cookie[1]}"}
        state = self.daemon.request("GET", "/api/v1/kiosk/state", headers=jar)
        self.assertStatus(state, 200)
        body = state.json()
        self.assertEqual(body["device"], {"id": dev["id"], "name": "Room 3 kiosk", "room_name": "Exam room 3"})
        self.assertEqual(body["room_name"], "Exam room 3")
        self.assertIsNone(body["next_session"])
        self.assertIsNone(body["active_session"])
        self.assertTrue(cookie_from(state, "consultd_device="))  # renewed

        # A session for this room's device: next, then active, then the grant.
        later = self.create_session(device_id=dev["id"], scheduled_at="2099-01-01T10:00:00Z")
        sooner = self.create_session(device_id=dev["id"])
        other = self.create_session(device_id="dev_someoneelse")
        body = self.daemon.request("GET", "/api/v1/kiosk/state", headers=jar).json()
        # Unscheduled sessions come after scheduled ones.
        self.assertEqual(body["next_session"]["id"], later["id"])
        self.assertEqual(set(body["next_session"]), {"id", "status", "mode", "provider", "scheduled_at", "host_name"})
        self.assertStatus(self.daemon.request("POST", f"/api/v1/sessions/{sooner['id']}/start", {}, key=self.key), 200)
        body = self.daemon.request("GET", "/api/v1/kiosk/state", headers=jar).json()
        self.assertEqual(body["active_session"]["id"], sooner["id"])
        self.assertEqual(body["active_session"]["status"], "active")
        g = self.daemon.request("POST", "/api/v1/kiosk/grant", {"session_id": sooner["id"]}, headers=jar)
        self.assertStatus(g, 200)
        self.assertEqual(g.json()["grant"]["role"], "device")
        self.daemon.issued_secrets.append(g.json()["grant"]["token"])
        self.assertStatus(self.daemon.request("POST", "/api/v1/kiosk/grant", {"session_id": other["id"]}, headers=jar),
                          404, "SESSION_NOT_FOUND")
        self.assertStatus(self.daemon.request("POST", "/api/v1/kiosk/grant", {"session_id": sooner["id"]}), 401,
                          "DEVICE_UNAUTHENTICATED")
        listed = self.daemon.request("GET", "/api/v1/devices", key=self.key).json()["devices"]
        mine = [d for d in listed if d["id"] == dev["id"]][0]
        self.assertEqual(mine["status"], "enrolled")
        self.assertTrue(mine["enrolled_at"] and mine["last_seen_at"])

        # A new code re-enrolls (a wiped kiosk) and replaces the credential.
        r = self.daemon.request("POST", f"/api/v1/devices/{dev['id']}/enrollment-code", key=self.devkey)
        self.assertStatus(r, 200)
        code2 = r.json()["enrollment_code"]
        self.daemon.issued_secrets.append(code2)
        self.assertNotEqual(code2, code)
        re_enroll = self.daemon.request("POST", "/api/v1/kiosk/enroll", {"code": code2})
        self.assertStatus(re_enroll, 200)
        cookie2 = cookie_from(re_enroll, "consultd_device=")
        self.daemon.issued_secrets.append(cookie2[1])
        self.assertStatus(self.daemon.request("GET", "/api/v1/kiosk/state", headers=jar), 401, "DEVICE_UNAUTHENTICATED")
        jar = {"Cookie": f"consultd_device={cookie2[1]}"}
        self.assertStatus(self.daemon.request("GET", "/api/v1/kiosk/state", headers=jar), 200)

        # Revoked: the credential stops working at once; a second revoke is a conflict.
        r = self.daemon.request("POST", f"/api/v1/devices/{dev['id']}/revoke", key=self.devkey)
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "revoked")
        self.assertTrue(r.json()["revoked_at"])
        self.assertStatus(self.daemon.request("GET", "/api/v1/kiosk/state", headers=jar), 401, "DEVICE_UNAUTHENTICATED")
        self.assertStatus(self.daemon.request("POST", f"/api/v1/devices/{dev['id']}/revoke", key=self.devkey), 409,
                          "DEVICE_REVOKED")
        self.assertStatus(self.daemon.request("POST", f"/api/v1/devices/{dev['id']}/enrollment-code", key=self.devkey),
                          409, "DEVICE_REVOKED")
        self.assertStatus(self.daemon.request("POST", "/api/v1/devices/dev_nope/revoke", key=self.devkey), 404,
                          "DEVICE_NOT_FOUND")
        r = self.daemon.request("POST", "/api/v1/devices", {"name": ""}, key=self.devkey)
        self.assertStatus(r, 422, "VALIDATION_FAILED")

        audit = [a for a in self.audit() if a["target"] == dev["id"]]
        self.assertEqual([a["action"] for a in audit],
                         ["device.created", "device.enrolled", "device.enrollment_code_issued", "device.enrolled",
                          "device.revoked"])
        text = json.dumps(audit) + self.daemon.stderr_text()
        for secret in (code, code2, cookie[1], cookie2[1], code.replace("-", "")):
            self.assertNotIn(secret, text)

    def test_device_cli(self):
        cfg = str(self.daemon.config_path)
        created = json.loads(self.daemon.cli("device", "create", "--name", "CLI kiosk", "--room", "Room 9", "--json",
                                             "--config", cfg).stdout)
        self.assertEqual((created["name"], created["room_name"], created["status"]), ("CLI kiosk", "Room 9", "pending"))
        self.assertRegex(created["enrollment_code"], r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")
        self.daemon.issued_secrets.append(created["enrollment_code"])
        listed = json.loads(self.daemon.cli("device", "list", "--json", "--config", cfg).stdout)["devices"]
        self.assertIn(created["id"], [d["id"] for d in listed])
        text = self.daemon.cli("device", "list", "--config", cfg).stdout
        self.assertIn("CLI kiosk", text)
        self.assertNotIn(created["enrollment_code"], text)
        code = json.loads(self.daemon.cli("device", "enrollment-code", created["id"], "--json", "--config", cfg).stdout)
        self.daemon.issued_secrets.append(code["enrollment_code"])
        # The daemon sees the CLI's new code at once (same database).
        r = self.daemon.request("POST", "/api/v1/kiosk/enroll", {"code": code["enrollment_code"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["id"], created["id"])
        revoked = json.loads(self.daemon.cli("device", "revoke", created["id"], "--json", "--config", cfg).stdout)
        self.assertEqual(revoked["status"], "revoked")
        again = self.daemon.cli("device", "revoke", created["id"], "--config", cfg, check=False)
        self.assertEqual(again.returncode, 1, again.stderr)
        self.assertIn("already revoked", again.stderr)
        usage = self.daemon.cli("device", "create", "--config", cfg, check=False)
        self.assertEqual(usage.returncode, 2)
        actors = {a["actor"] for a in self.audit() if a["target"] == created["id"] and a["action"] != "device.enrolled"}
        self.assertTrue(actors and all(a.startswith("cli:") for a in actors), actors)


if __name__ == "__main__":
    harness.main()
