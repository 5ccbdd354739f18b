#!/usr/bin/python3
"""Concurrent join grants and session creations against one daemon: 16
keep-alive clients in 4 processes for a few seconds (bench/api found a SIGABRT
in POCO's OpenSSL initialiser under exactly this load). Every request must
succeed, the daemon must survive, and every acknowledged grant must have
exactly its audit row."""
import http.client
import json
import multiprocessing
import sqlite3
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import harness  # noqa: E402

PROCESSES = 4
THREADS = 4
SECONDS = 6.0


def worker(port, key, pairs, index, queue):
    ok = {"token": 0, "create": 0}
    failures = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    def client(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = 0
        while time.monotonic() < deadline:
            i += 1
            if i % 5 == 0:
                path, body, kind, want = "/api/v1/sessions", harness.session_body(), "create", 201
            else:
                sid, pid = pairs[(n * 7 + i) % len(pairs)]
                path, body, kind, want = f"/api/v1/sessions/{sid}/token", {"participant_id": pid}, "token", 200
            try:
                conn.request("POST", path, json.dumps(body), headers)
                r = conn.getresponse()
                data = r.read()
            except OSError as e:  # the daemon died or dropped us
                with lock:
                    failures.append(f"{path}: {e!r}")
                return
            with lock:
                if r.status == want:
                    ok[kind] += 1
                else:
                    failures.append(f"{path}: {r.status} {data[:200]!r}")

    threads = [threading.Thread(target=client, args=(index * THREADS + n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((ok, failures))


class ConcurrentWritesTest(unittest.TestCase):
    def test_grants_and_creates_under_concurrency(self):
        d = harness.Daemon(self, name="conc", config={"security": {"token_rate_per_minute": 10000,
                                                                   "api_rate_per_second": 1000000}})
        d.start()
        key = d.create_api_key("admin")
        pairs = []
        for _ in range(40):
            body = harness.session_body()
            s = d.request("POST", "/api/v1/sessions", body, key=key).json()
            pairs.append((s["id"], body["participants"][0]["id"]))
        queue = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=worker, args=(d.port, key, pairs, i, queue)) for i in range(PROCESSES)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=SECONDS + 90) for _ in procs]
        for p in procs:
            p.join(30)
        ok = {"token": sum(r[0]["token"] for r in results), "create": sum(r[0]["create"] for r in results)}
        failures = [f for r in results for f in r[1]]
        self.assertIsNone(d.proc.poll(), "the daemon died:\n" + d.stderr_text()[-3000:])
        self.assertEqual(failures[:5], [], f"{len(failures)} failed requests")
        self.assertGreater(ok["token"], 200)
        self.assertGreater(ok["create"], 50)
        self.assertEqual(d.stop(), 0)
        db = sqlite3.connect(d.db_path)
        rows = db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'token.issued'").fetchone()[0]
        db.close()
        self.assertEqual(rows, ok["token"], "every acknowledged grant has exactly its audit row")


if __name__ == "__main__":
    unittest.main(verbosity=2)
