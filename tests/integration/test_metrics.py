"""GET /metrics: scope-protected Prometheus text that reflects the traffic."""

import re

import harness
from harness import ApiTestCase, Daemon, session_body

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text format -> list of (name, labels dict, value)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(LABEL.findall(m.group(3) or ""))
        samples.append((m.group(1), labels, float(m.group(4))))
    return samples


def value(samples, name, **labels):
    found = [v for n, l, v in samples if n == name and all(l.get(k) == want for k, want in labels.items())]
    return sum(found) if found else None


class MetricsTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(name="metrics", jaas=False)
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.admin = cls.daemon.create_api_key("admin")
        cls.scraper = cls.daemon.create_api_key("metrics:read")
        cls.reader = cls.daemon.create_api_key("sessions:read")
        cls.daemon.start()

    def api(self, method, path, body=None):
        return self.daemon.request(method, "/api/v1" + path, body, key=self.admin)

    def test_metrics_requires_scope(self):
        self.assertStatus(self.daemon.request("GET", "/metrics"), 401)
        self.assertStatus(self.daemon.request("GET", "/metrics", key=self.reader), 403, "INSUFFICIENT_SCOPE")
        r = self.daemon.request("GET", "/metrics", key=self.scraper)
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), r.headers)
        self.assertEqual(self.daemon.request("GET", "/metrics", key=self.admin).status, 200)

    def test_metrics_after_traffic(self):
        def create():
            return self.assertStatus(self.api("POST", "/sessions", session_body()), 201).json()["id"]

        before = parse_metrics(self.daemon.request("GET", "/metrics", key=self.scraper).text)
        scheduled = create()
        waiting = create()
        self.assertStatus(self.api("POST", f"/sessions/{waiting}/token", {"participant_id": "pat-1"}), 200)
        active = create()
        self.assertStatus(self.api("POST", f"/sessions/{active}/start"), 200)
        self.assertStatus(self.api("POST", f"/sessions/{active}/token", {"participant_id": "dr-house"}), 200)
        self.assertStatus(self.api("POST", f"/sessions/{active}/token", {"participant_id": "pat-1"}), 200)
        ended = create()
        self.assertStatus(self.api("POST", f"/sessions/{ended}/start"), 200)
        self.assertStatus(self.api("POST", f"/sessions/{ended}/end", {"quality": "good"}), 200)
        cancelled = create()
        self.assertStatus(self.api("POST", f"/sessions/{cancelled}/cancel"), 200)
        self.assertStatus(self.api("GET", f"/sessions/{scheduled}"), 200)
        self.assertStatus(self.api("GET", "/sessions/ses_nope"), 404)

        r = self.daemon.request("GET", "/metrics", key=self.scraper)
        self.assertEqual(r.status, 200)
        samples = parse_metrics(r.text)
        delta = lambda name, **l: (value(samples, name, **l) or 0) - (value(before, name, **l) or 0)

        req = "consultd_http_requests_total"
        self.assertEqual(delta(req, route="/api/v1/sessions", method="POST", status="201"), 5, r.text)
        self.assertEqual(delta(req, route="/api/v1/sessions/{id}/token", method="POST", status="200"), 3)
        self.assertEqual(delta(req, route="/api/v1/sessions/{id}/start", method="POST", status="200"), 2)
        self.assertEqual(delta(req, route="/api/v1/sessions/{id}", method="GET", status="200"), 1)
        self.assertEqual(delta(req, route="/api/v1/sessions/{id}", method="GET", status="404"), 1)
        # Routes are labelled by pattern: no session id leaks into label values.
        for name, labels, _ in samples:
            for v in labels.values():
                self.assertNotIn("ses_", v, f"{name}{labels}: a session id in a label")

        hist = "consultd_http_request_duration_seconds"
        for route in ("/api/v1/sessions", "/api/v1/sessions/{id}/token"):
            buckets = [(l["le"], v) for n, l, v in samples if n == hist + "_bucket" and l.get("route") == route]
            self.assertTrue(buckets, f"no latency histogram for {route}")
            self.assertEqual(buckets[-1][0], "+Inf")
            counts = [v for _, v in buckets]
            self.assertEqual(counts, sorted(counts), f"buckets of {route} are not cumulative: {buckets}")
            bounds = [float(le) for le, _ in buckets[:-1]]
            self.assertEqual(bounds, sorted(bounds))
            count = value(samples, hist + "_count", route=route)
            self.assertEqual(counts[-1], count)
            self.assertGreater(value(samples, hist + "_sum", route=route), 0)

        by_status = {l["status"]: v for n, l, v in samples if n == "consultd_sessions"}
        self.assertEqual(by_status.get("scheduled"), 1, by_status)
        self.assertEqual(by_status.get("waiting"), 1, by_status)
        self.assertEqual(by_status.get("active"), 1, by_status)
        self.assertEqual(by_status.get("ended"), 1, by_status)
        self.assertEqual(by_status.get("cancelled"), 1, by_status)
        self.assertEqual(delta("consultd_tokens_issued_total", provider="jitsi"), 3, r.text)



class MetricsWithoutAuthTest(ApiTestCase):
    def test_scrape_without_key_when_configured(self):
        d = Daemon(self, name="metrics-open", jaas=False, config={"server": {"metrics_require_auth": False}})
        d.start()
        r = d.request("GET", "/metrics")
        self.assertEqual(r.status, 200, r.describe())
        self.assertIn("consultd_http_requests_total", r.text)
        # Only /metrics opens up: the API still wants a key.
        self.assertStatus(d.request("GET", "/api/v1/sessions"), 401)


if __name__ == "__main__":
    harness.main()
