"""Crash safety: every write the API acknowledged survives SIGKILL. Sessions
are created (and events posted) from several threads; the daemon is killed
right after the last acknowledgement, restarted on the same state, and every
acknowledged row must be there; the audit chain still verifies."""

import signal
import sqlite3
import threading

import harness
from harness import ApiTestCase, Daemon, session_body

THREADS = 4
TARGET = 40


class CrashSafetyTest(ApiTestCase):
    def test_acknowledged_sessions_survive_sigkill(self):
        d = Daemon(self, name="crash", jaas=False)
        key = d.create_api_key("sessions:read,sessions:write")
        d.start()

        acked = []          # (session id, consultation id) with a 201 in hand
        acked_events = []   # (session id, event id) with a 201 in hand
        acked_tokens = []   # session ids of grants with a 200 in hand
        lock = threading.Lock()
        enough = threading.Event()

        def worker(n):
            i = 0
            while not enough.is_set():
                i += 1
                body = session_body(f"crash-{n}-{i}")
                try:
                    r = d.request("POST", "/api/v1/sessions", body, key=key, timeout=10)
                except OSError:
                    return  # the daemon is gone
                if r.status != 201:
                    continue
                sid = r.json()["id"]
                with lock:
                    acked.append((sid, body["consultation_id"]))
                    if len(acked) >= TARGET:
                        enough.set()
                try:
                    e = d.request("POST", f"/api/v1/sessions/{sid}/events",
                                  {"type": "participant_joined", "participant_id": "pat-1"}, key=key, timeout=10)
                except OSError:
                    return
                if e.status == 201:
                    with lock:
                        acked_events.append((sid, e.json()["id"]))
                try:
                    g = d.request("POST", f"/api/v1/sessions/{sid}/token", {"participant_id": "pat-1"}, key=key,
                                  timeout=10)
                except OSError:
                    return
                if g.status == 200:
                    with lock:
                        acked_tokens.append(sid)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        enough.wait(120)
        # Kill at once, with requests of the other threads still in flight.
        d.signal(signal.SIGKILL)
        for t in threads:
            t.join(30)
        self.assertEqual(d.wait_exit(10), -signal.SIGKILL)
        with lock:
            sessions = list(acked)
            events = list(acked_events)
            tokens = list(acked_tokens)
        self.assertGreaterEqual(len(sessions), TARGET)

        # A grant is handed out only once its audit row is durable.
        db = sqlite3.connect(f"file:{d.db_path}?mode=ro", uri=True)
        try:
            audited = [row[0] for row in db.execute("SELECT target FROM audit_log WHERE action = 'token.issued'")]
        finally:
            db.close()
        self.assertTrue(tokens, "no grant was acknowledged before the kill")
        for sid in tokens:
            self.assertIn(sid, audited, f"an acknowledged grant for {sid} has no audit row after SIGKILL")

        d.start()
        for sid, cid in sessions:
            r = d.request("GET", f"/api/v1/sessions/{sid}", key=key)
            self.assertEqual(r.status, 200, f"acknowledged session lost after SIGKILL: {r.describe()}")
            self.assertEqual(r.json()["consultation_id"], cid)
            self.assertEqual(len(r.json()["participants"]), 3)
        by_session = {}
        for sid, eid in events:
            by_session.setdefault(sid, set()).add(eid)
        for sid, ids in by_session.items():
            listed = {e["id"] for e in d.request("GET", f"/api/v1/sessions/{sid}/events", key=key).json()["events"]}
            self.assertTrue(ids <= listed, f"acknowledged events lost in {sid}: {ids - listed}")
        # Idempotent create still finds the pre-crash session (no duplicate).
        sid, cid = sessions[-1]
        r = d.request("POST", "/api/v1/sessions", session_body(cid), key=key)
        self.assertEqual((r.status, r.json()["id"]), (200, sid), r.describe())
        self.assertEqual(d.stop(), 0)
        v = d.cli("audit", "verify", "--config", str(d.config_path), check=False)
        self.assertEqual(v.returncode, 0, v.stderr)


if __name__ == "__main__":
    harness.main()
