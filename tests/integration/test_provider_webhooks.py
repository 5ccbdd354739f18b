"""POST /api/v1/webhooks/{provider} through the real daemon, for JaaS
(X-Jaas-Signature, HMAC-SHA256 computed here with the standard library) and
Vonage (signed callbacks: an HS256 JWT made here with PyJWT, with the body's
SHA-256 as payload_hash):

  * valid -> 200 and a provider event on the session (participant times set);
  * tampered body, wrong secret, stale timestamp, unsigned, replayed -> 401
    with the error envelope and a webhook.rejected audit entry each;
  * a replay is still refused after a daemon restart (the store keeps the ids);
  * a redelivery with a fresh signature but the same event is stored once;
  * room ended -> the active session ends with a duration;
  * unknown provider, provider without webhooks -> 404; big body -> 413;
    too many requests from one address -> 429.
"""

import base64
import hashlib
import hmac
import json
import sqlite3
import time
import uuid

import jwt

import harness
from fake_vonage_process import APP_ID as VONAGE_APP_ID, FakeVonage
from harness import JAAS_APP_ID, ApiTestCase, Daemon, session_body

JAAS_SECRET = "jaas-webhook-secret-" + "ab" * 16
VONAGE_SECRET = "vonage-signature-secret-" + "cd" * 16


def jaas_signature(secret: str, t: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def jaas_event(event_type: str, room: str, data: dict, key: str | None = None) -> bytes:
    return json.dumps({
        "idempotencyKey": key or str(uuid.uuid4()), "customerId": "cust-1", "appId": JAAS_APP_ID,
        "eventType": event_type, "sessionId": "jaas-" + room, "timestamp": int(time.time() * 1000),
        "fqn": f"{JAAS_APP_ID}/{room}", "data": data,
    }).encode()


def vonage_token(body: bytes, secret: str = VONAGE_SECRET, iat: int | None = None, jti: str | None = None) -> str:
    claims = {"iat": int(time.time()) if iat is None else iat, "jti": jti or str(uuid.uuid4()), "iss": "Vonage",
              "payload_hash": hashlib.sha256(body).hexdigest(), "api_key": "46123456",
              "application_id": VONAGE_APP_ID}
    return jwt.encode(claims, secret, algorithm="HS256")


class ProviderWebhooksTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = None
        cls.daemon = Daemon(name="webhooks", jaas=True)
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.fake = FakeVonage(cls.daemon.tmp).start()
        cls.addClassCleanup(cls.fake.stop)
        harness.write_secret(cls.daemon.secrets_dir / "jaas_webhook", JAAS_SECRET + "\n")
        harness.write_secret(cls.daemon.secrets_dir / "vonage_webhook", VONAGE_SECRET + "\n")
        cls.daemon.update_config({"providers": {
            "jaas": {"webhook_secret_file": "secrets/jaas_webhook"},
            "vonage": cls.fake.provider_config(cls.daemon, webhook_secret_file="secrets/vonage_webhook"),
        }})
        cls.key = cls.daemon.create_api_key("admin")
        cls.daemon.start()

    # -- helpers -----------------------------------------------------------------------------

    def api(self, method, path, body=None):
        return self.daemon.request(method, "/api/v1" + path, body, key=self.key)

    def new_session(self, provider):
        return self.assertStatus(self.api("POST", "/sessions", session_body(provider=provider)), 201).json()

    def post_jaas(self, body: bytes, header: str | None):
        headers = {} if header is None else {"X-Jaas-Signature": header}
        return self.daemon.request("POST", "/api/v1/webhooks/jaas", raw=body, headers=headers)

    def post_vonage(self, body: bytes, token: str | None):
        headers = {} if token is None else {"Authorization": "Bearer " + token}
        return self.daemon.request("POST", "/api/v1/webhooks/vonage", raw=body, headers=headers)

    def signed_jaas(self, body: bytes, t: int | None = None, secret: str = JAAS_SECRET):
        t = int(time.time()) if t is None else t
        return self.post_jaas(body, f"t={t},v1={jaas_signature(secret, t, body)}")

    def events(self, session_id):
        return self.assertStatus(self.api("GET", f"/sessions/{session_id}/events"), 200).json()["events"]

    def rejected_audit_count(self, provider):
        db = sqlite3.connect(f"file:{self.daemon.db_path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM audit_log WHERE action = 'webhook.rejected' AND target = ?",
                              (provider,)).fetchone()[0]
        finally:
            db.close()

    def assertRejected(self, response, provider):
        before = getattr(self, "_audit_" + provider, self.rejected_audit_count(provider) - 1)
        self.assertStatus(response, 401, "WEBHOOK_REJECTED")
        after = self.rejected_audit_count(provider)
        self.assertEqual(after, before + 1, "each refused webhook leaves one audit entry")
        setattr(self, "_audit_" + provider, after)

    # -- JaaS ------------------------------------------------------------------------------------

    def test_jaas_valid_tampered_wrong_secret_stale_unsigned_replay(self):
        session = self.new_session("jaas")
        room = session["room"]
        self._audit_jaas = self.rejected_audit_count("jaas")
        body = jaas_event("PARTICIPANT_JOINED", room, {"id": "pat-1", "name": "Patient One", "moderator": False})
        t = int(time.time())
        header = f"t={t},v1={jaas_signature(JAAS_SECRET, t, body)}"
        r = self.assertStatus(self.post_jaas(body, header), 200).json()
        self.assertEqual(r, {"received": 1, "stored": 1, "duplicates": 0, "unknown_room": 0})
        joined = [e for e in self.events(session["id"]) if e["type"] == "participant_joined"]
        self.assertEqual(len(joined), 1, joined)
        self.assertEqual(joined[0]["participant_id"], "pat-1")
        self.assertEqual(joined[0]["source"], "provider")
        got = self.assertStatus(self.api("GET", f"/sessions/{session['id']}"), 200).json()
        patient = [p for p in got["participants"] if p["id"] == "pat-1"][0]
        self.assertIsNotNone(patient.get("joined_at") or patient.get("first_joined_at"), patient)

        # The same request again: a replay.
        self.assertRejected(self.post_jaas(body, header), "jaas")
        # Tampered body with the original signature.
        self.assertRejected(self.post_jaas(body.replace(b"pat-1", b"pat-2"), header), "jaas")
        # Wrong secret, stale and future timestamps, unsigned, garbage header.
        self.assertRejected(self.signed_jaas(body, secret="not-the-secret"), "jaas")
        self.assertRejected(self.signed_jaas(body, t=int(time.time()) - 301), "jaas")
        self.assertRejected(self.signed_jaas(body, t=int(time.time()) + 400), "jaas")
        self.assertRejected(self.post_jaas(body, None), "jaas")
        self.assertRejected(self.post_jaas(body, "garbage"), "jaas")
        # Nothing of that was stored.
        self.assertEqual(len([e for e in self.events(session["id"]) if e["type"] == "participant_joined"]), 1)

        # JaaS redelivers with a fresh signature: the idempotency key makes it one event.
        # The timestamp must differ from the first delivery's (the same body,
        # time and signature would rightly be a replay): `time() - 1` equalled
        # it whenever the clock had moved on by a second since.
        same = json.loads(body)
        r = self.assertStatus(self.signed_jaas(json.dumps(same).encode(), t=t - 1), 200).json()
        self.assertEqual(r["duplicates"], 1, r)
        self.assertEqual(len([e for e in self.events(session["id"]) if e["type"] == "participant_joined"]), 1)

    def test_jaas_room_destroyed_ends_an_active_session(self):
        session = self.new_session("jaas")
        # A room ending while the host has not started the session only records the event.
        r = self.assertStatus(self.signed_jaas(jaas_event("ROOM_DESTROYED", session["room"], {})), 200).json()
        self.assertEqual(r["stored"], 1)
        self.assertEqual(self.api("GET", f"/sessions/{session['id']}").json()["status"], "scheduled")

        self.assertStatus(self.api("POST", f"/sessions/{session['id']}/start", {}), 200)
        time.sleep(1.1)  # a measurable duration (whole seconds)
        self.assertStatus(self.signed_jaas(jaas_event("ROOM_DESTROYED", session["room"], {})), 200)
        ended = self.api("GET", f"/sessions/{session['id']}").json()
        self.assertEqual(ended["status"], "ended", ended)
        self.assertEqual(ended["end_reason"], "provider_room_ended")
        self.assertGreaterEqual(ended["duration_seconds"], 1)
        types = [e["type"] for e in self.events(session["id"])]
        self.assertIn("room_ended", types)
        self.assertIn("session_ended", types)

    def test_recording_link_is_not_stored(self):
        session = self.new_session("jaas")
        link = "https://download.8x8.vc/rec/abc.mp4?Signature=secret-part"
        body = jaas_event("RECORDING_UPLOADED", session["room"], {"preAuthenticatedLink": link})
        self.assertStatus(self.signed_jaas(body), 200)
        events = self.api("GET", f"/sessions/{session['id']}/events")
        self.assertNotIn("secret-part", events.text)
        uploaded = [e for e in events.json()["events"] if e["type"] == "recording_available"]
        self.assertEqual(uploaded[0]["data"]["download_host"], "download.8x8.vc", uploaded)
        self.assertNotIn("secret-part", self.daemon.stderr_text())

    def test_unknown_room_is_acknowledged(self):
        r = self.assertStatus(self.signed_jaas(jaas_event("ROOM_CREATED", "consult-nosuchroom", {})), 200).json()
        self.assertEqual(r, {"received": 1, "stored": 0, "duplicates": 0, "unknown_room": 1})

    # -- Vonage ------------------------------------------------------------------------------

    def vonage_room(self, session):
        # The grant's room is the Vonage session id (the provider room).
        grant = self.assertStatus(self.api("POST", f"/sessions/{session['id']}/token", {"participant_id": "pat-1"}),
                                  200).json()
        return grant["room"]

    def test_vonage_valid_tampered_wrong_secret_stale_unsigned_replay(self):
        session = self.new_session("vonage")
        room = self.vonage_room(session)
        self._audit_vonage = self.rejected_audit_count("vonage")
        body = json.dumps({"sessionId": room, "projectId": "46123456", "event": "connectionCreated",
                           "timestamp": int(time.time() * 1000),
                           "connection": {"id": "conn-" + uuid.uuid4().hex, "createdAt": int(time.time() * 1000),
                                          "data": json.dumps({"participant_id": "dr-house", "name": "Dr"})}}).encode()
        token = vonage_token(body)
        r = self.assertStatus(self.post_vonage(body, token), 200).json()
        self.assertEqual(r["stored"], 1, r)
        joined = [e for e in self.events(session["id"]) if e["type"] == "participant_joined"]
        self.assertEqual([e["participant_id"] for e in joined], ["dr-house"])

        self.assertRejected(self.post_vonage(body, token), "vonage")  # replay (same jti)
        self.assertRejected(self.post_vonage(body.replace(b"dr-house", b"pat-1"), token), "vonage")  # tampered
        self.assertRejected(self.post_vonage(body, vonage_token(body, secret="wrong-secret-" + "x" * 20)), "vonage")
        self.assertRejected(self.post_vonage(body, vonage_token(body, iat=int(time.time()) - 301)), "vonage")
        self.assertRejected(self.post_vonage(body, None), "vonage")
        # A fresh jti for the same connection event: stored once.
        r = self.assertStatus(self.post_vonage(body, vonage_token(body)), 200).json()
        self.assertEqual(r["duplicates"], 1, r)

    def test_vonage_archive_and_session_destroyed(self):
        session = self.new_session("vonage")
        room = self.vonage_room(session)
        self.assertStatus(self.api("POST", f"/sessions/{session['id']}/start", {}), 200)
        archive = json.dumps({"id": str(uuid.uuid4()), "event": "archive", "status": "stopped", "sessionId": room,
                              "createdAt": int(time.time() * 1000), "duration": 5, "size": 0, "url": None}).encode()
        self.assertStatus(self.post_vonage(archive, vonage_token(archive)), 200)
        destroyed = json.dumps({"sessionId": room, "projectId": "46123456", "event": "sessionDestroyed",
                                "timestamp": int(time.time() * 1000)}).encode()
        self.assertStatus(self.post_vonage(destroyed, vonage_token(destroyed)), 200)
        ended = self.api("GET", f"/sessions/{session['id']}").json()
        self.assertEqual(ended["status"], "ended", ended)
        self.assertIsInstance(ended["duration_seconds"], int)
        types = [e["type"] for e in self.events(session["id"])]
        self.assertIn("recording_stopped", types)
        self.assertIn("room_ended", types)

    # -- routing and limits ------------------------------------------------------------------

    def test_unknown_or_webhookless_provider_is_404_and_big_body_413(self):
        self.assertStatus(self.daemon.request("POST", "/api/v1/webhooks/nosuch", raw=b"{}"), 404, "PROVIDER_NOT_FOUND")
        # jitsi (self-hosted) takes no webhooks.
        self.assertStatus(self.daemon.request("POST", "/api/v1/webhooks/jitsi", raw=b"{}"), 404, "PROVIDER_NOT_FOUND")
        big = b'{"pad":"' + b"x" * 70000 + b'"}'
        self.assertStatus(self.signed_jaas(big), 413, "PAYLOAD_TOO_LARGE")
        self.assertStatus(self.daemon.request("GET", "/api/v1/webhooks/jaas"), 405, "METHOD_NOT_ALLOWED")

    def test_z_replay_refused_after_restart(self):
        # Runs last (name order): restarts the daemon.
        session = self.new_session("jaas")
        body = jaas_event("PARTICIPANT_LEFT", session["room"], {"id": "pat-1"})
        t = int(time.time())
        header = f"t={t},v1={jaas_signature(JAAS_SECRET, t, body)}"
        self.assertStatus(self.post_jaas(body, header), 200)
        self.daemon.stop()
        self.daemon.start()
        self.assertStatus(self.post_jaas(body, header), 401, "WEBHOOK_REJECTED")
        # /metrics counts them.
        metrics = self.daemon.request("GET", "/metrics", key=self.key).text
        self.assertIn('consultd_webhooks_total{provider="jaas",result="rejected"}', metrics)


class WebhookRateLimitTest(ApiTestCase):
    def test_rate_limited_per_address(self):
        daemon = Daemon(self, name="webhook-rate", jaas=True,
                        config={"providers": {"webhook_rate_per_minute": 3,
                                              "jaas": {"webhook_secret_file": "secrets/jaas_webhook"}}})
        harness.write_secret(daemon.secrets_dir / "jaas_webhook", JAAS_SECRET + "\n")
        daemon.start()
        statuses = [daemon.request("POST", "/api/v1/webhooks/jaas", raw=b"{}").status for _ in range(5)]
        self.assertEqual(statuses[:3], [401, 401, 401], statuses)
        r = daemon.request("POST", "/api/v1/webhooks/jaas", raw=b"{}")
        self.assertStatus(r, 429, "RATE_LIMITED")
        self.assertIn("retry-after", r.headers)


if __name__ == "__main__":
    harness.main()
