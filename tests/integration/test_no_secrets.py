"""No secret in logs: after a full API run at the most verbose log level
(including failed authentications and refused tokens), none of the tokens,
API keys, the Jitsi app secret or the JaaS private key appears in what the
daemon wrote to stderr/stdout, nor in the error bodies it returned."""

import harness
from harness import ApiTestCase, Daemon, session_body


class NoSecretsInLogsTest(ApiTestCase):
    def test_full_run_leaks_nothing(self):
        d = Daemon(self, name="secrets", jaas=True,
                   config={"security": {"token_rate_per_minute": 2}, "logging": {"level": "debug"}})
        admin = d.create_api_key("admin")
        reader = d.create_api_key("sessions:read")
        revoked = d.create_api_key("sessions:write")
        d.start()
        api = lambda m, p, b=None, key=admin, **kw: d.request(m, "/api/v1" + p, b, key=key, **kw)

        bodies = []
        for provider in ("jitsi", "jaas"):
            sid = self.assertStatus(api("POST", "/sessions", session_body(provider=provider)), 201).json()["id"]
            for pid in ("dr-house", "pat-1", "guest-1"):
                self.assertStatus(api("POST", f"/sessions/{sid}/token", {"participant_id": pid}), 200)
            self.assertStatus(api("POST", f"/sessions/{sid}/token", {"participant_id": "pat-1"}), 200)
            # Rate-limited and refused grants are logged paths too.
            bodies.append(api("POST", f"/sessions/{sid}/token", {"participant_id": "pat-1"}))
            bodies.append(api("POST", f"/sessions/{sid}/token", {"participant_id": "intruder"}))
            self.assertStatus(api("POST", f"/sessions/{sid}/start"), 200)
            self.assertStatus(api("POST", f"/sessions/{sid}/events", {"type": "participant_joined",
                                                                       "participant_id": "pat-1"}), 201)
            self.assertStatus(api("POST", f"/sessions/{sid}/end", {"quality": "good"}), 200)
            bodies.append(api("POST", f"/sessions/{sid}/token", {"participant_id": "dr-house"}))
        # Failed authentications with real-looking keys: a wrong secret, a
        # revoked key, a key presented with the wrong scheme.
        bodies.append(api("GET", "/sessions", key=admin[:-6] + "abcdef"))
        bodies.append(api("GET", "/sessions", key=None, headers={"Authorization": f"Basic {reader}"}))
        bodies.append(api("POST", "/sessions", session_body(), key=reader))
        d.revoke_api_key(revoked)
        harness.wait_until(lambda: api("GET", "/sessions", key=revoked).status == 401, 5, "revocation")
        bodies.append(api("GET", "/sessions", key=revoked))
        bodies.append(d.request("GET", "/metrics", key=admin))
        # A reload and a clean stop log more lines.
        d.signal(__import__("signal").SIGHUP)
        d.wait_for_log(r"configuration reloaded|reload rejected")
        self.assertEqual(d.stop(), 0)

        issued_tokens = [s for s in d.issued_secrets if s.count(".") == 2]
        self.assertEqual(len(issued_tokens), 8, "expected 8 grants to check")
        needles = []
        for secret in d.issued_secrets:
            needles.append(secret)
            if secret.startswith("cdk_"):
                needles.append(secret.split("_", 2)[2])  # the secret part without the key id
            if secret.count(".") == 2:
                needles.append(secret.split(".")[2])     # the JWT signature alone
        needles.append(admin[:-6] + "abcdef")
        logs = d.stderr_text(all_runs=True)
        logs += "".join(p.read_text(errors="replace") for p in d.tmp.glob("stdout.*.log"))
        self.assertIn("<7>", logs, "the run did not log at debug level; the check would prove little")
        for needle in needles:
            self.assertNotIn(needle, logs, f"a secret ({needle[:12]}...) appears in the daemon's log")
            for b in bodies:
                self.assertNotIn(needle, b.text, f"a secret appears in a response: {b.describe()[:300]}")


if __name__ == "__main__":
    harness.main()
