"""REST API v1 happy paths against the running daemon: create, idempotent and
concurrent create, start, token, events, end, analytics, list with filters
and cursor paging, can-join windows, cancel."""

import datetime as dt
import json
import threading

import harness
from harness import ApiTestCase, Daemon, new_consultation_id, session_body


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class ApiFlowTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(name="flow", jaas=False)
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.key = cls.daemon.create_api_key("sessions:read,sessions:write")
        cls.daemon.start()

    def api(self, method, path, body=None, **kw):
        return self.daemon.request(method, "/api/v1" + path, body, key=self.key, **kw)

    def create(self, **extra):
        r = self.api("POST", "/sessions", session_body(**extra))
        self.assertStatus(r, 201)
        return r.json()

    # -- service endpoints --------------------------------------------------------------

    def test_providers_and_probes(self):
        r = self.assertStatus(self.api("GET", "/providers"), 200).json()
        providers = {p["name"]: p for p in r["providers"]}
        self.assertEqual(set(providers), {"jitsi"})
        jitsi = providers["jitsi"]
        self.assertTrue(jitsi["default"])
        self.assertEqual(jitsi["module"], "jitsi")
        for cap in ("video", "voice", "chat", "recording", "screen_share", "webhooks"):
            self.assertIsInstance(jitsi["capabilities"][cap], bool, jitsi)
        self.assertTrue(jitsi["capabilities"]["video"])
        self.assertEqual(jitsi["health"]["state"], "healthy")
        self.assertStatus(self.daemon.request("GET", "/providers"), 404)
        self.assertStatus(self.daemon.request("GET", "/api/v1/providers"), 401)
        for probe in ("/healthz", "/readyz", "/api/v1/healthz", "/api/v1/readyz"):
            r = self.daemon.request("GET", probe)
            self.assertEqual(r.status, 200, r.describe())
            self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)

    # -- create ---------------------------------------------------------------------------

    def test_create_and_idempotent_create(self):
        cid = new_consultation_id("idem")
        body = session_body(cid, metadata={"ward": "cardiology"})
        first = self.assertStatus(self.api("POST", "/sessions", body), 201)
        s = first.json()
        self.assertTrue(s["id"].startswith("ses_"), s)
        self.assertEqual(first.headers.get("location"), f"/api/v1/sessions/{s['id']}")
        self.assertEqual(s["consultation_id"], cid)
        self.assertEqual(s["status"], "scheduled")
        self.assertEqual(s["provider"], "jitsi")
        self.assertEqual(s["mode"], "video")
        self.assertEqual(s["metadata"], {"ward": "cardiology"})
        self.assertRegex(s["room"], r"^[a-z0-9-]+$")
        self.assertEqual(s["host"]["id"], "dr-house")
        roles = {p["id"]: p["role"] for p in s["participants"]}
        self.assertEqual(roles, {"dr-house": "host", "pat-1": "patient", "guest-1": "guest"})
        parse_time(s["created_at"])

        again = self.assertStatus(self.api("POST", "/sessions", body), 200)
        self.assertEqual(again.json()["id"], s["id"])

        got = self.assertStatus(self.api("GET", f"/sessions/{s['id']}"), 200).json()
        self.assertEqual(got["id"], s["id"])
        self.assertEqual(got["consultation_id"], cid)

        listed = self.assertStatus(self.api("GET", f"/sessions?consultation_id={cid}"), 200).json()
        self.assertEqual([x["id"] for x in listed["sessions"]], [s["id"]])

    def test_concurrent_creates_yield_one_session(self):
        # Several rounds of many simultaneous creates of one consultation: the
        # connections are open before the barrier so the requests really race.
        threads_n, rounds = 12, 15
        body_for = lambda cid: json.dumps(session_body(cid)).encode()
        for round_no in range(rounds):
            cid = new_consultation_id(f"race{round_no}")
            payload = body_for(cid)
            barrier = threading.Barrier(threads_n)
            results = [None] * threads_n

            def worker(i):
                conn = self.daemon.connection()
                try:
                    conn.connect()
                    barrier.wait(timeout=30)
                    conn.request("POST", "/api/v1/sessions", body=payload,
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"})
                    r = conn.getresponse()
                    results[i] = harness.Response(r.status, r.reason, r.getheaders(), r.read(), "POST",
                                                  "/api/v1/sessions")
                except Exception as e:  # reported below
                    results[i] = e
                finally:
                    conn.close()

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            for r in results:
                self.assertIsInstance(r, harness.Response, f"request failed: {r!r}")
            described = "\n".join(r.describe()[:200] for r in results)
            statuses = sorted(r.status for r in results)
            self.assertEqual(statuses.count(201), 1, f"round {round_no}: {described}")
            self.assertEqual(statuses.count(200), threads_n - 1,
                             f"round {round_no}: concurrent creates must all answer 201/200:\n{described}")
            ids = {r.json()["id"] for r in results}
            self.assertEqual(len(ids), 1, ids)
            listed = self.assertStatus(self.api("GET", f"/sessions?consultation_id={cid}"), 200).json()
            self.assertEqual(len(listed["sessions"]), 1, listed)

    # -- lifecycle --------------------------------------------------------------------------

    def test_full_lifecycle_with_events_and_analytics(self):
        s = self.create()
        sid = s["id"]
        started = self.assertStatus(self.api("POST", f"/sessions/{sid}/start"), 200).json()
        self.assertEqual(started["status"], "active")
        self.assertIsNotNone(started["started_at"])

        tok = self.assertStatus(self.api("POST", f"/sessions/{sid}/token", {"participant_id": "dr-house"}), 200)
        grant = tok.json()
        for field in ("provider", "room", "token", "join_url", "expires_at", "role", "ice_servers", "client"):
            self.assertIn(field, grant)
        self.assertEqual(grant["provider"], "jitsi")
        self.assertEqual(grant["room"], s["room"])
        self.assertEqual(grant["role"], "host")
        self.assertIsInstance(grant["ice_servers"], list)
        self.assertIsInstance(grant["client"], dict)
        self.assertGreater(parse_time(grant["expires_at"]), dt.datetime.now(dt.timezone.utc))
        self.assertIn("no-store", tok.headers.get("cache-control", ""))
        pat = self.assertStatus(self.api("POST", f"/sessions/{sid}/token", {"participant_id": "pat-1"}), 200).json()
        self.assertEqual(pat["role"], "patient")

        posted = []
        for ev in (
            {"type": "participant_joined", "participant_id": "dr-house"},
            {"type": "participant_joined", "participant_id": "pat-1"},
            {"type": "connection_quality", "participant_id": "pat-1", "severity": "warning",
             "data": {"quality": "fair", "rtt_ms": 180}},
            {"type": "connection_quality", "participant_id": "pat-1", "data": {"quality": "good"}},
            {"type": "video_muted", "participant_id": "pat-1", "message": "camera off"},
            {"type": "participant_left", "participant_id": "pat-1"},
        ):
            r = self.assertStatus(self.api("POST", f"/sessions/{sid}/events", ev), 201)
            body = r.json()
            self.assertEqual(body["type"], ev["type"])
            self.assertEqual(body["participant_id"], ev["participant_id"])
            posted.append(body["id"])
        self.assertEqual(posted, sorted(posted))

        # An idempotency key makes a retried event a no-op.
        ev = {"type": "screen_share_started", "participant_id": "dr-house", "idempotency_key": "retry-1"}
        a = self.assertStatus(self.api("POST", f"/sessions/{sid}/events", ev), 201).json()
        b = self.api("POST", f"/sessions/{sid}/events", ev)
        self.assertIn(b.status, (200, 201), b.describe())
        self.assertEqual(b.json()["id"], a["id"], b.describe())

        # The same key for a different event is a client mistake, not a silent no-op.
        reuse = dict(ev, type="screen_share_stopped")
        self.assertStatus(self.api("POST", f"/sessions/{sid}/events", reuse), 409)

        events = self.assertStatus(self.api("GET", f"/sessions/{sid}/events"), 200).json()["events"]
        ids = [e["id"] for e in events]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(ids), len(set(ids)))
        for event_id in posted:
            self.assertIn(event_id, ids)
        self.assertEqual(sum(1 for e in events if e["type"] == "screen_share_started"), 1, events)
        quality = [e for e in events if e["type"] == "connection_quality"]
        self.assertEqual(quality[0]["data"], {"quality": "fair", "rtt_ms": 180})
        self.assertEqual(quality[0]["severity"], "warning")
        # Paging over events with after=.
        page = self.assertStatus(self.api("GET", f"/sessions/{sid}/events?after={ids[1]}&limit=2"), 200).json()
        self.assertEqual([e["id"] for e in page["events"]], ids[2:4])

        ended = self.assertStatus(self.api("POST", f"/sessions/{sid}/end", {"reason": "completed", "quality": "good"}),
                                  200).json()
        self.assertEqual(ended["status"], "ended")
        self.assertEqual(ended["quality"], "good")
        self.assertEqual(ended["end_reason"], "completed")
        self.assertIsInstance(ended["duration_seconds"], int)
        span = (parse_time(ended["ended_at"]) - parse_time(ended["started_at"])).total_seconds()
        self.assertGreaterEqual(span, 0)
        self.assertLessEqual(abs(ended["duration_seconds"] - int(span)), 1, ended)

        an = self.assertStatus(self.api("GET", f"/sessions/{sid}/analytics"), 200).json()
        self.assertEqual(an["status"], "ended")
        self.assertEqual(an["duration_seconds"], ended["duration_seconds"])
        people = {p["id"]: p for p in an["participants"]}
        self.assertEqual(set(people), {"dr-house", "pat-1", "guest-1"})
        self.assertIsNotNone(people["dr-house"]["joined_at"])
        self.assertIsNotNone(people["pat-1"]["joined_at"])
        self.assertIsNotNone(people["pat-1"]["left_at"])
        self.assertGreaterEqual(parse_time(people["pat-1"]["left_at"]), parse_time(people["pat-1"]["joined_at"]))
        self.assertIsNone(people["guest-1"]["joined_at"])
        self.assertEqual(people["pat-1"]["joins"], 1)
        counts = an["event_counts"]
        self.assertEqual(counts.get("participant_joined"), 2, counts)
        self.assertEqual(counts.get("participant_left"), 1, counts)
        self.assertEqual(counts.get("connection_quality"), 2, counts)
        self.assertEqual(counts.get("video_muted"), 1, counts)
        self.assertEqual(an["quality"]["reported"], "good")
        self.assertEqual(an["quality"]["last_measured"], "good")
        self.assertEqual(an["quality"]["samples"], {"fair": 1, "good": 1})
        self.assertGreaterEqual(len(an["timeline"]), len(posted))

        # The session object reflects the joins too.
        got = self.assertStatus(self.api("GET", f"/sessions/{sid}"), 200).json()
        self.assertEqual(got["status"], "ended")
        # A new session may now be opened for the same consultation.
        again = self.assertStatus(self.api("POST", "/sessions", session_body(s["consultation_id"])), 201).json()
        self.assertNotEqual(again["id"], sid)

    def test_cancel(self):
        s = self.create()
        r = self.assertStatus(self.api("POST", f"/sessions/{s['id']}/cancel", {"reason": "patient rescheduled"}), 200)
        self.assertEqual(r.json()["status"], "cancelled")
        self.assertEqual(r.json()["end_reason"], "patient rescheduled")
        self.assertStatus(self.api("POST", f"/sessions/{s['id']}/cancel"), 409, "INVALID_STATE_TRANSITION")
        self.assertStatus(self.api("POST", f"/sessions/{s['id']}/start"), 409, "INVALID_STATE_TRANSITION")
        cj = self.assertStatus(self.api("GET", f"/sessions/{s['id']}/can-join?participant_id=pat-1"), 200).json()
        self.assertFalse(cj["can_join"])
        self.assertEqual(cj["reason"], "session_cancelled")

    def test_exam_room_device(self):
        s = self.create(device_id="kiosk-room-4")
        roles = {p["id"]: p["role"] for p in s["participants"]}
        self.assertEqual(roles.get("kiosk-room-4"), "device", s["participants"])
        self.assertEqual(s["device_id"], "kiosk-room-4")
        g = self.assertStatus(self.api("POST", f"/sessions/{s['id']}/token", {"participant_id": "kiosk-room-4"}),
                              200).json()
        self.assertEqual(g["role"], "device")
        r = self.api("POST", "/sessions", session_body(device_id="dr-house"))
        self.assertStatus(r, 422, "VALIDATION_FAILED")
        self.assertIn("device_id", r.json()["error"]["details"]["fields"])

    # -- can-join ----------------------------------------------------------------------------

    def test_can_join_window(self):
        now = dt.datetime.now(dt.timezone.utc)
        later = self.create(scheduled_at=rfc3339(now + dt.timedelta(minutes=60)))
        soon = self.create(scheduled_at=rfc3339(now + dt.timedelta(minutes=5)))
        unscheduled = self.create()

        cj = self.assertStatus(self.api("GET", f"/sessions/{later['id']}/can-join?participant_id=pat-1"), 200).json()
        self.assertFalse(cj["can_join"], cj)
        self.assertEqual(cj["reason"], "too_early")
        self.assertIn(cj["minutes_until_session"], (59, 60, 61), cj)
        # No grant before the window opens.
        r = self.api("POST", f"/sessions/{later['id']}/token", {"participant_id": "pat-1"})
        self.assertStatus(r, 403)

        cj = self.assertStatus(self.api("GET", f"/sessions/{soon['id']}/can-join?participant_id=pat-1"), 200).json()
        self.assertTrue(cj["can_join"], cj)
        self.assertIn(cj["minutes_until_session"], (4, 5, 6), cj)
        self.assertStatus(self.api("POST", f"/sessions/{soon['id']}/token", {"participant_id": "pat-1"}), 200)

        cj = self.assertStatus(self.api("GET", f"/sessions/{soon['id']}/can-join?participant_id=stranger"), 200).json()
        self.assertFalse(cj["can_join"])
        self.assertEqual(cj["reason"], "not_a_participant")

        past = self.create(scheduled_at=rfc3339(now - dt.timedelta(minutes=180)))
        cj = self.assertStatus(self.api("GET", f"/sessions/{past['id']}/can-join?participant_id=pat-1"), 200).json()
        self.assertFalse(cj["can_join"], cj)
        self.assertEqual(cj["reason"], "too_late")
        self.assertIn(cj["minutes_until_session"], (-181, -180, -179), cj)

        cj = self.assertStatus(self.api("GET", f"/sessions/{unscheduled['id']}/can-join?participant_id=pat-1"),
                               200).json()
        self.assertTrue(cj["can_join"], cj)
        self.assertIsNone(cj["minutes_until_session"])

    # -- list -----------------------------------------------------------------------------

    def test_list_filters_and_cursor_paging(self):
        created = [self.create()["id"] for _ in range(7)]
        ended = self.create()
        self.assertStatus(self.api("POST", f"/sessions/{ended['id']}/start"), 200)
        self.assertStatus(self.api("POST", f"/sessions/{ended['id']}/end", {"quality": "fair"}), 200)

        seen = []
        cursor = None
        pages = 0
        inserted_midway = None
        while True:
            path = "/sessions?limit=3" + (f"&cursor={cursor}" if cursor else "")
            page = self.assertStatus(self.api("GET", path), 200).json()
            self.assertLessEqual(len(page["sessions"]), 3)
            seen.extend(x["id"] for x in page["sessions"])
            pages += 1
            if pages == 1:
                # A session created while paging shows up once, at the end.
                inserted_midway = self.create()["id"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            self.assertLess(pages, 200, "paging does not terminate")
        self.assertEqual(len(seen), len(set(seen)), f"duplicates while paging: {seen}")
        for sid in created + [ended["id"], inserted_midway]:
            self.assertIn(sid, seen, "a session is missing from the paged list")
        self.assertEqual(seen[-1], inserted_midway)

        everything = self.assertStatus(self.api("GET", "/sessions?limit=200"), 200).json()["sessions"]
        self.assertEqual([x["id"] for x in everything], seen, "paged and unpaged lists differ")

        only_ended = self.assertStatus(self.api("GET", "/sessions?status=ended&limit=200"), 200).json()["sessions"]
        self.assertIn(ended["id"], [x["id"] for x in only_ended])
        self.assertTrue(all(x["status"] == "ended" for x in only_ended), only_ended)
        scheduled = self.assertStatus(self.api("GET", "/sessions?status=scheduled&limit=200"), 200).json()["sessions"]
        self.assertTrue(all(x["status"] == "scheduled" for x in scheduled))
        self.assertNotIn(ended["id"], [x["id"] for x in scheduled])
        for sid in created:
            self.assertIn(sid, [x["id"] for x in scheduled])

        # status + consultation_id together, paged one by one.
        cid = ended["consultation_id"]
        both = self.assertStatus(self.api("GET", f"/sessions?status=ended&consultation_id={cid}&limit=1"), 200).json()
        self.assertEqual([x["id"] for x in both["sessions"]], [ended["id"]])
        self.assertIsNone(both["next_cursor"])
        none = self.assertStatus(self.api("GET", f"/sessions?status=active&consultation_id={cid}"), 200).json()
        self.assertEqual(none["sessions"], [])

        # Time filters: everything created since a minute ago, nothing from the future.
        since = rfc3339(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5))
        future = rfc3339(dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
        recent = self.assertStatus(self.api("GET", f"/sessions?from={since}&limit=200"), 200).json()["sessions"]
        self.assertIn(created[0], [x["id"] for x in recent])
        self.assertEqual(self.assertStatus(self.api("GET", f"/sessions?from={future}"), 200).json()["sessions"], [])


if __name__ == "__main__":
    harness.main()
