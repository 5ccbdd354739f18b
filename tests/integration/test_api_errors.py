"""Every client error status of REST API v1, with the uniform error envelope,
and never a 500 for a client's mistake."""

import http.client
import re
import time

import harness
from harness import ApiTestCase, Daemon, session_body

TOKEN_RATE = 3


class ApiErrorsTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(name="errors", jaas=False, config={
            "security": {"token_rate_per_minute": TOKEN_RATE, "auth_failure_rate_per_minute": 10000},
        })
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.writer = cls.daemon.create_api_key("sessions:read,sessions:write")
        cls.reader = cls.daemon.create_api_key("sessions:read")
        cls.daemon.start()
        r = cls.daemon.request("POST", "/api/v1/sessions", session_body(), key=cls.writer)
        assert r.status == 201, r.describe()
        cls.session = r.json()

    def api(self, method, path, body=None, key="writer", **kw):
        key = {"writer": self.writer, "reader": self.reader, None: None}.get(key, key)
        return self.daemon.request(method, "/api/v1" + path, body, key=key, **kw)

    def new_session(self, **extra):
        r = self.api("POST", "/sessions", session_body(**extra))
        self.assertStatus(r, 201)
        return r.json()

    # -- 400 --------------------------------------------------------------------------------

    def test_400_malformed_json(self):
        for raw in (b"{not json", b'{"consultation_id": "x",', b"[1, 2, 3]", b'"a string"', b"\xff\xfe\x00{"):
            r = self.api("POST", "/sessions", raw=raw)
            self.assertStatus(r, 400)
            self.assertEqual(r.error_code(), "MALFORMED_JSON", r.describe())
        r = self.api("POST", f"/sessions/{self.session['id']}/token", raw=b"{participant_id: pat-1}")
        self.assertStatus(r, 400, "MALFORMED_JSON")

    # -- 401 --------------------------------------------------------------------------------

    def test_401_missing_malformed_wrong_unknown_key(self):
        sid = self.session["id"]
        self.assertStatus(self.api("GET", f"/sessions/{sid}", key=None), 401, "UNAUTHENTICATED")
        wrong_secret = self.writer[:-4] + ("aaaa" if not self.writer.endswith("aaaa") else "bbbb")
        unknown_id = "cdk_" + "a" * 16 + self.writer[20:]
        for header in ("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-key", f"Bearer {wrong_secret}",
                       f"Bearer {unknown_id}", self.writer, f"Bearer {self.writer}x"):
            r = self.api("GET", f"/sessions/{sid}", key=None, headers={"Authorization": header})
            self.assertStatus(r, 401, "UNAUTHENTICATED")
            presented = header.split(" ")[-1]
            if len(presented) >= 20:  # a key-like value is never echoed back
                self.assertNotIn(presented, r.text)
        # Auth is checked before the route does anything with the body.
        r = self.api("POST", "/sessions", session_body(), key=None)
        self.assertStatus(r, 401)

    def test_401_revoked_key_while_running(self):
        key = self.daemon.create_api_key("sessions:read")
        sid = self.session["id"]
        self.assertStatus(self.api("GET", f"/sessions/{sid}", key=key), 200)
        self.daemon.revoke_api_key(key)
        revoked_at = time.monotonic()
        harness.wait_until(lambda: self.api("GET", f"/sessions/{sid}", key=key).status == 401, 5,
                           "the revoked key to be refused")
        took = time.monotonic() - revoked_at
        self.assertLess(took, 2.0, f"revocation took {took:.2f} s to take effect (expected about 1 s)")
        r = self.api("GET", f"/sessions/{sid}", key=key)
        self.assertStatus(r, 401, "UNAUTHENTICATED")
        # Other keys are unaffected.
        self.assertStatus(self.api("GET", f"/sessions/{sid}"), 200)

    # -- 403 --------------------------------------------------------------------------------

    def test_403_insufficient_scope(self):
        r = self.api("POST", "/sessions", session_body(), key="reader")
        self.assertStatus(r, 403, "INSUFFICIENT_SCOPE")
        r = self.api("POST", f"/sessions/{self.session['id']}/token", {"participant_id": "pat-1"}, key="reader")
        self.assertStatus(r, 403, "INSUFFICIENT_SCOPE")
        r = self.daemon.request("GET", "/metrics", key=self.reader)
        self.assertStatus(r, 403, "INSUFFICIENT_SCOPE")
        # Reading is fine with the read scope.
        self.assertStatus(self.api("GET", f"/sessions/{self.session['id']}", key="reader"), 200)

    def test_403_token_for_non_participant(self):
        r = self.api("POST", f"/sessions/{self.session['id']}/token", {"participant_id": "someone-else"})
        self.assertStatus(r, 403)
        self.assertEqual(r.error_code(), "NOT_A_PARTICIPANT", r.describe())
        self.assertNotIn("token", r.json()["error"]["details"])

    # -- 404 / 405 --------------------------------------------------------------------------

    def test_404_unknown_session(self):
        for method, path, body in (
            ("GET", "/sessions/ses_doesnotexist000000000000", None),
            ("POST", "/sessions/ses_doesnotexist000000000000/start", None),
            ("POST", "/sessions/ses_doesnotexist000000000000/end", {}),
            ("POST", "/sessions/ses_doesnotexist000000000000/cancel", {}),
            ("POST", "/sessions/ses_doesnotexist000000000000/token", {"participant_id": "pat-1"}),
            ("GET", "/sessions/ses_doesnotexist000000000000/can-join", None),
            ("GET", "/sessions/ses_doesnotexist000000000000/events", None),
            ("POST", "/sessions/ses_doesnotexist000000000000/events", {"type": "participant_joined"}),
            ("GET", "/sessions/ses_doesnotexist000000000000/analytics", None),
        ):
            r = self.api(method, path, body)
            self.assertStatus(r, 404, "SESSION_NOT_FOUND")
        r = self.api("GET", "/no-such-endpoint")
        self.assertStatus(r, 404)

    def test_405_method_not_allowed(self):
        for method, path in (("DELETE", "/sessions"), ("PUT", f"/sessions/{self.session['id']}"),
                             ("GET", f"/sessions/{self.session['id']}/token"),
                             ("GET", f"/sessions/{self.session['id']}/start")):
            r = self.api(method, path)
            self.assertStatus(r, 405)
            # RFC 9110 15.5.6: a 405 response MUST carry an Allow header.
            self.assertIn("allow", r.headers, f"405 without an Allow header: {r.describe()} headers={r.headers}")
            self.assertIn("POST" if path.endswith(("token", "start")) else "GET", r.headers.get("allow", ""))

    # -- 409 --------------------------------------------------------------------------------

    def test_409_illegal_transitions_and_token_on_ended_session(self):
        s = self.new_session()
        sid = s["id"]
        self.assertStatus(self.api("POST", f"/sessions/{sid}/end", {}), 409, "INVALID_STATE_TRANSITION")
        self.assertStatus(self.api("POST", f"/sessions/{sid}/start"), 200)
        self.assertStatus(self.api("POST", f"/sessions/{sid}/start"), 409, "INVALID_STATE_TRANSITION")
        self.assertStatus(self.api("POST", f"/sessions/{sid}/cancel"), 409, "INVALID_STATE_TRANSITION")
        self.assertStatus(self.api("POST", f"/sessions/{sid}/end", {"quality": "good"}), 200)
        r = self.assertStatus(self.api("POST", f"/sessions/{sid}/start"), 409, "INVALID_STATE_TRANSITION")
        self.assertEqual(r.json()["error"]["details"].get("status"), "ended", r.describe())
        self.assertStatus(self.api("POST", f"/sessions/{sid}/end", {}), 409, "INVALID_STATE_TRANSITION")
        r = self.api("POST", f"/sessions/{sid}/token", {"participant_id": "dr-house"})
        self.assertStatus(r, 409)

    # -- 413 / 415 --------------------------------------------------------------------------

    def test_413_body_too_large(self):
        big = session_body(metadata={"blob": "x" * 70000})
        r = self.api("POST", "/sessions", big)
        self.assertStatus(r, 413, "PAYLOAD_TOO_LARGE")
        # The same without Content-Length (chunked): the limit holds while reading.
        conn = self.daemon.connection()
        try:
            conn.putrequest("POST", "/api/v1/sessions")
            conn.putheader("Authorization", f"Bearer {self.writer}")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            chunk = b'{"metadata": {"blob": "' + b"y" * 8192
            try:
                for _ in range(12):  # 96 KiB
                    conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    chunk = b"y" * 8192
                conn.send(b'"}}')
                conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer and close before reading it all
            resp = conn.getresponse()
            status, body = resp.status, resp.read()
        finally:
            conn.close()
        self.assertEqual(status, 413, body[:300])
        # The daemon still serves afterwards.
        self.assertStatus(self.api("GET", f"/sessions/{self.session['id']}"), 200)

    def test_415_wrong_content_type(self):
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
            r = self.api("POST", "/sessions", raw=b'{"consultation_id": "c-415"}', content_type=ctype)
            self.assertStatus(r, 415, "UNSUPPORTED_MEDIA_TYPE")
        r = self.api("POST", "/sessions", session_body(), content_type="application/json; charset=utf-8")
        self.assertIn(r.status, (200, 201), r.describe())

    # -- 422 --------------------------------------------------------------------------------

    def assertFields(self, response, *names):
        self.assertStatus(response, 422, "VALIDATION_FAILED")
        fields = response.json()["error"]["details"].get("fields", {})
        for name in names:
            self.assertIn(name, fields, f"field {name!r} not named: {response.describe()}")
            self.assertTrue(fields[name], response.describe())
        return fields

    def test_422_names_each_bad_field(self):
        body = {
            "mode": "hologram",
            "scheduled_at": "tomorrow at noon",
            "record": "yes",
            "host": {"id": "dr house/../x", "name": "", "email": "not-an-email"},
            "participants": [{"id": "p1", "name": "P", "role": "surgeon"}, "not-an-object",
                             {"id": "p1", "role": "patient"}],
            "metadata": "not-an-object",
            "colour": "blue",
        }
        r = self.api("POST", "/sessions", body)
        fields = self.assertFields(r, "consultation_id", "mode", "scheduled_at", "record", "host.id", "host.name",
                                   "host.email", "participants[0].role", "participants[1]", "participants[2].name",
                                   "metadata", "colour")
        self.assertNotIn("provider", fields)
        r = self.api("POST", "/sessions", session_body(provider="no-such-provider", consultation_id=123))
        self.assertFields(r, "provider", "consultation_id")
        r = self.api("POST", "/sessions", session_body(participants=[{"id": f"p{i}", "name": "x", "role": "guest"}
                                                                     for i in range(20)]))
        self.assertFields(r, "participants")
        r = self.api("POST", f"/sessions/{self.session['id']}/token", {})
        self.assertFields(r, "participant_id")
        r = self.api("POST", f"/sessions/{self.session['id']}/token", {"participant_id": 7, "role": "host"})
        self.assertFields(r, "participant_id", "role")
        r = self.api("POST", f"/sessions/{self.session['id']}/events", {"type": "Not Snake", "severity": "fatal",
                                                                         "participant_id": "stranger"})
        self.assertFields(r, "type", "severity")
        r = self.api("POST", f"/sessions/{self.session['id']}/events", {"type": "participant_joined",
                                                                         "participant_id": "stranger"})
        self.assertFields(r, "participant_id")
        r = self.api("POST", f"/sessions/{self.session['id']}/end", {"quality": "superb"})
        self.assertIn(r.status, (409, 422), r.describe())
        r = self.api("GET", "/sessions?limit=0&status=bogus&cursor=xyz&from=yesterday")
        self.assertFields(r, "limit", "status", "cursor", "from")

    # -- 429 --------------------------------------------------------------------------------

    def test_429_token_rate_limit_with_retry_after(self):
        s = self.new_session()
        path = f"/sessions/{s['id']}/token"
        for i in range(TOKEN_RATE):
            self.assertStatus(self.api("POST", path, {"participant_id": "pat-1"}), 200)
        r = self.api("POST", path, {"participant_id": "pat-1"})
        self.assertStatus(r, 429, "RATE_LIMITED")
        self.assertIn("retry-after", r.headers, r.headers)
        retry = int(r.headers["retry-after"])
        self.assertGreaterEqual(retry, 1)
        self.assertLessEqual(retry, 60)
        self.assertNotIn("token", r.json())
        # Per participant: another participant of the same session is not limited.
        self.assertStatus(self.api("POST", path, {"participant_id": "dr-house"}), 200)

    # -- connections ------------------------------------------------------------------

    def test_keep_alive_survives_client_errors(self):
        conn = self.daemon.connection()
        auth = {"Authorization": f"Bearer {self.writer}", "Content-Type": "application/json"}
        try:
            for method, path, body, want in (
                ("GET", f"/api/v1/sessions/{self.session['id']}", None, 200),
                ("GET", "/api/v1/sessions/ses_missing", None, 404),
                ("POST", "/api/v1/sessions", b'{"mode": "x"}', 422),
                ("DELETE", "/api/v1/sessions", None, 405),
                ("POST", f"/api/v1/sessions/{self.session['id']}/end", b"{}", 409),
                ("GET", f"/api/v1/sessions/{self.session['id']}", None, 200),
            ):
                conn.request(method, path, body=body, headers=auth)
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, want, f"{method} {path} on a reused connection")
        finally:
            conn.close()

    # -- request ids ------------------------------------------------------------------

    def test_request_id_kept_when_safe(self):
        r = self.api("GET", "/sessions/ses_missing", headers={"X-Request-Id": "proxy-abc.123_XYZ"})
        self.assertStatus(r, 404)
        self.assertEqual(r.json()["error"]["request_id"], "proxy-abc.123_XYZ")
        r = self.api("GET", "/sessions/ses_missing", headers={"X-Request-Id": "<script>alert(1)</script>"})
        self.assertStatus(r, 404)
        self.assertNotIn("<", r.json()["error"]["request_id"])
        ids = {self.api("GET", "/sessions/ses_missing").json()["error"]["request_id"] for _ in range(5)}
        self.assertEqual(len(ids), 5, "request ids repeat")

    # -- never a 500 ------------------------------------------------------------------------

    def test_no_500_for_odd_requests(self):
        sid = self.session["id"]
        odd = [
            ("GET", "/sessions/" + "x" * 5000, None, None),
            ("GET", "/sessions/%00%ff%2F..", None, None),
            ("GET", "/sessions?limit=99999999999999999999", None, None),
            ("GET", "/sessions?cursor=c99999999999999999999", None, None),
            ("GET", "/sessions?from=2026-13-45T99:99:99Z", None, None),
            ("GET", f"/sessions/{sid}/events?after=-1&limit=abc", None, None),
            ("GET", f"/sessions/{sid}/events?after=99999999999999999999999", None, None),
            ("POST", "/sessions", b'{"consultation_id": "' + b"\xc3\x28" * 10 + b'"}', "application/json"),
            ("POST", "/sessions", b"{" * 5000 + b"}" * 5000, "application/json"),
            ("POST", "/sessions", b'{"consultation_id": null, "host": null, "participants": null}', "application/json"),
            ("POST", "/sessions", b'{"consultation_id": "a", "host": [], "participants": {}}', "application/json"),
            ("POST", "/sessions", b'{"consultation_id": 1e999, "record": 1}', "application/json"),
            ("POST", "/sessions", b'{"consultation_id": "x\\u0000y", "host": {"id": "h", "name": "\\ud800"}}',
             "application/json"),
            ("POST", "/sessions", b"", "application/json"),
            ("POST", f"/sessions/{sid}/token", b'{"participant_id": ["pat-1"]}', "application/json"),
            ("POST", f"/sessions/{sid}/events", b'{"type": "x", "data": [1,2]}', "application/json"),
            ("POST", f"/sessions/{sid}/events", b'{"type": "x", "data": {"a": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
             "application/json"),
            ("POST", f"/sessions/{sid}/end", b'{"reason": 5}', "application/json"),
            ("POST", f"/sessions/{sid}/start", b'{"extra": true}', "application/json"),
        ]
        for method, path, raw, ctype in odd:
            try:
                r = self.api(method, path, raw=raw, content_type=ctype)
            except (http.client.HTTPException, ConnectionError) as e:
                self.fail(f"{method} {path[:80]}: connection failed: {e!r}")
            self.assertLess(r.status, 500, r.describe()[:600])
            self.assertGreaterEqual(r.status, 400, r.describe()[:600])
            self.assertEnvelope(r)
        # Answered, not refused: but still not a 500.
        r = self.api("GET", f"/sessions/{sid}/can-join?participant_id=" + "%41" * 3000)
        self.assertEqual(r.status, 200, r.describe()[:300])
        self.assertFalse(r.json()["can_join"])
        self.assertStatus(self.daemon.request("GET", "/healthz"), 200)
        admin = self.daemon.create_api_key("metrics:read")
        metrics = self.daemon.request("GET", "/metrics", key=admin).text
        fivexx = [line for line in metrics.splitlines()
                  if line.startswith("consultd_http_requests_total") and re.search(r'status="5\d\d"', line)]
        self.assertEqual(fivexx, [], "the daemon answered 5xx during the error tests")


class AuthFailureLimitTest(ApiTestCase):
    """Failed authentications per client address are limited (429), and the
    limit does not lock out a client that presents a valid key."""

    def test_429_after_repeated_auth_failures(self):
        d = Daemon(self, name="authlimit", jaas=False, config={"security": {"auth_failure_rate_per_minute": 3}})
        good = d.create_api_key("sessions:read")
        d.start()
        bad = good[:-4] + ("aaaa" if not good.endswith("aaaa") else "bbbb")
        statuses = [d.request("GET", "/api/v1/sessions", key=bad).status for _ in range(3)]
        self.assertEqual(statuses, [401, 401, 401])
        r = d.request("GET", "/api/v1/sessions", key=bad)
        self.assertStatus(r, 429, "RATE_LIMITED")
        self.assertGreaterEqual(int(r.headers.get("retry-after", "0")), 1, r.headers)
        self.assertStatus(d.request("GET", "/api/v1/sessions", key=good), 200)


if __name__ == "__main__":
    harness.main()
