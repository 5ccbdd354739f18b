"""Provider outage against the fake Vonage-compatible server
(tests/plugins/vonage/fake_vonage.py), through the real daemon:

  * down (5xx), hanging and refusing connections: POST /sessions still
    answers 201 with provider_status "unavailable"; the token call answers
    503 PROVIDER_UNAVAILABLE with Retry-After;
  * the circuit breaker opens after breaker_failure_threshold failures: from
    then on, clients hammering the token endpoint and creating sessions do
    not reach the provider (the fake counts every request it got);
  * GET /providers shows the open circuit, /readyz stays 200 "degraded",
    /metrics counts provider errors and the circuit state;
  * the server comes back: the background retry (not a client) creates the
    missing rooms, the circuit closes, the token calls succeed.
"""

import time

import harness
from fake_vonage_process import FakeVonage
from harness import ApiTestCase, Daemon, session_body, wait_until

THRESHOLD = 2
OPEN_SECONDS = 2


class ProviderOutageTest(ApiTestCase):
    def setUp(self):
        self.daemon = Daemon(self, name="outage", jaas=False)
        self.fake = FakeVonage(self.daemon.tmp).start()
        self.addCleanup(self.fake.stop)
        self.daemon.update_config({"providers": {
            "default": "vonage",
            "breaker_failure_threshold": THRESHOLD,
            "breaker_open_seconds": OPEN_SECONDS,
            "breaker_max_open_seconds": 4,
            "retry_initial_seconds": 1,
            "retry_max_seconds": 2,
            "vonage": self.fake.provider_config(self.daemon, request_timeout_ms=700),
        }, "security": {"token_rate_per_minute": 1000}})
        self.key = self.daemon.create_api_key("admin")
        self.daemon.start()

    def api(self, method, path, body=None):
        return self.daemon.request(method, "/api/v1" + path, body, key=self.key)

    def create(self):
        r = self.assertStatus(self.api("POST", "/sessions", session_body()), 201)
        return r.json()

    def token(self, session_id, participant="pat-1"):
        return self.api("POST", f"/sessions/{session_id}/token", {"participant_id": participant})

    def vonage_circuit(self):
        providers = self.assertStatus(self.api("GET", "/providers"), 200).json()["providers"]
        return [p for p in providers if p["name"] == "vonage"][0]

    def run_outage(self, mode, **control):
        self.fake.set_mode(mode, **control)
        sessions = [self.create() for _ in range(THRESHOLD)]
        for s in sessions:
            self.assertEqual(s["provider_status"], "unavailable", s)
        # The threshold is reached: the circuit is open now.
        provider = self.vonage_circuit()
        self.assertEqual(provider["circuit"]["state"], "open", provider)
        self.assertEqual(provider["health"]["state"], "unavailable", provider)
        seen_when_opened = len(self.fake.api_requests())
        # The creates, plus at most one background retry that ran while they
        # were in flight (calls admitted before the circuit opened).
        self.assertGreaterEqual(seen_when_opened, THRESHOLD)
        self.assertLessEqual(seen_when_opened, THRESHOLD + 1, self.fake.stats()["requests"])

        # Clients keep going: more sessions and a storm of token calls.
        sessions += [self.create() for _ in range(3)]
        for s in sessions:
            for _ in range(4):
                r = self.token(s["id"])
                self.assertStatus(r, 503, "PROVIDER_UNAVAILABLE")
                self.assertGreaterEqual(int(r.headers["retry-after"]), 1, r.describe())
        # None of it reached the provider while the circuit was open (a probe
        # may have gone out if the open period ended during the storm).
        self.assertLessEqual(len(self.fake.api_requests()), seen_when_opened + 1)

        ready = self.daemon.request("GET", "/readyz")
        self.assertEqual(ready.status, 200, ready.describe())
        self.assertEqual(ready.json()["status"], "degraded", ready.describe())
        self.assertIn("circuit", ready.json()["checks"]["provider:vonage"])
        metrics = self.daemon.request("GET", "/metrics", key=self.key).text
        self.assertIn('consultd_provider_errors_total{provider="vonage",kind="unavailable"}', metrics)
        self.assertIn('consultd_provider_errors_total{provider="vonage",kind="circuit_open"}', metrics)
        self.assertIn('consultd_provider_circuit_state{provider="vonage",state="open"} 1', metrics)
        return sessions

    def recover(self, sessions):
        before = len(self.fake.api_requests())
        self.fake.set_mode("ok")

        def all_rooms_made():
            return all(self.api("GET", f"/sessions/{s['id']}").json()["provider_status"] == "ok" for s in sessions)

        # No client call here: the background retry makes the rooms.
        wait_until(all_rooms_made, 30, "the background retry to create every missing room")
        created = self.fake.api_requests()[before:]
        ok = [r for r in created if r["status"] == 200]
        self.assertEqual(len(ok), len(sessions), created)
        # Bounded: a room per session plus at most a few failed probes, no storm.
        self.assertLessEqual(len(created), len(sessions) + 3, created)
        self.assertEqual(self.vonage_circuit()["circuit"]["state"], "closed")
        for s in sessions:
            grant = self.assertStatus(self.token(s["id"]), 200).json()
            self.assertTrue(grant["room"].startswith("2_MX4"), grant)
        events = self.api("GET", f"/sessions/{sessions[0]['id']}/events").json()["events"]
        self.assertIn("provider_room_created", [e["type"] for e in events])
        metrics = self.daemon.request("GET", "/metrics", key=self.key).text
        self.assertIn('consultd_provider_room_retries_total{provider="vonage",result="created"}', metrics)
        ready = self.daemon.request("GET", "/readyz").json()
        self.assertEqual(ready["checks"]["provider:vonage"], "healthy", ready)

    def test_server_errors_then_recovery(self):
        self.recover(self.run_outage("fail", status=503))

    def test_hanging_server_then_recovery(self):
        started = time.monotonic()
        sessions = self.run_outage("hang", hang_seconds=5)
        # request_timeout_ms bounds each hung call; the open circuit answers at once.
        self.assertLess(time.monotonic() - started, 25)
        self.recover(sessions)

    def test_refused_connections_then_recovery(self):
        # The fake goes away entirely (connection refused), then a new one is
        # not possible on the same port, so this case checks the outage side only.
        self.fake.stop()
        sessions = [self.create() for _ in range(THRESHOLD + 2)]
        self.assertTrue(all(s["provider_status"] == "unavailable" for s in sessions))
        self.assertEqual(self.vonage_circuit()["circuit"]["state"], "open")
        r = self.token(sessions[0]["id"])
        self.assertStatus(r, 503, "PROVIDER_UNAVAILABLE")
        self.assertIn("retry-after", r.headers)


if __name__ == "__main__":
    harness.main()
