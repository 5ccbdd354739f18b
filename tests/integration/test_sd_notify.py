"""sd_notify protocol, read from an AF_UNIX datagram socket the test binds:
READY=1 only once the listener accepts, WATCHDOG=1 at half of WATCHDOG_USEC,
RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM, and exit code 0."""

import signal
import socket
import threading
import time

import harness
from harness import ApiTestCase, Daemon, free_port

WATCHDOG_USEC = 500000


class NotifyListener:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, {key: value})
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.on_ready = None
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopped.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            if fields.get("READY") == "1" and self.on_ready:
                self.on_ready(fields)
            with self.lock:
                self.messages.append((now, fields))

    def close(self):
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def times(self, key, value="1", after=0.0):
        return [t for t, f in self.snapshot() if f.get(key) == value and t >= after]

    def index(self, key, value="1", start=0):
        for i, (_, f) in enumerate(self.snapshot()[start:], start):
            if f.get(key) == value:
                return i
        return None


class SdNotifyTest(ApiTestCase):
    def test_notify_sequence(self):
        port = free_port()
        d = Daemon(self, name="notify", jaas=False, config={"server": {"port": port}})
        listener = NotifyListener(d.tmp / "notify.sock")
        self.addCleanup(listener.close)

        # At READY=1 the listener must already accept connections.
        ready_probe = {}

        def probe(fields):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    ready_probe["connected"] = True
            except OSError as e:
                ready_probe["error"] = repr(e)

        listener.on_ready = probe
        env = {"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)}
        d.start(env=env)
        harness.wait_until(lambda: listener.index("READY") is not None, 20, "READY=1")
        self.assertEqual(ready_probe.get("connected"), True, f"READY=1 before the listener accepted: {ready_probe}")
        ready_at = listener.times("READY")[0]
        first = listener.index("READY")
        self.assertIn("STATUS", listener.snapshot()[first][1], "READY=1 without a STATUS= line")

        # Watchdog pings every WATCHDOG_USEC/2: several within 1.5 s, never a
        # gap that would let systemd's watchdog (0.5 s) fire.
        harness.wait_until(lambda: len(listener.times("WATCHDOG", after=ready_at)) >= 6, 10, "6 WATCHDOG=1 pings")
        pings = listener.times("WATCHDOG", after=ready_at)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertLess(max(gaps), WATCHDOG_USEC / 1e6, f"a watchdog gap reached WATCHDOG_USEC: {gaps}")
        self.assertGreater(min(gaps), 0.05, f"watchdog pings far faster than WATCHDOG_USEC/2: {gaps}")
        median = sorted(gaps)[len(gaps) // 2]
        self.assertTrue(0.15 <= median <= 0.4, f"median ping interval {median:.3f} s, expected about 0.25 s")

        # SIGHUP: RELOADING=1, then READY=1 again once done.
        before = len(listener.snapshot())
        d.signal(signal.SIGHUP)
        harness.wait_until(lambda: listener.index("RELOADING", start=before) is not None, 10, "RELOADING=1")
        reloading = listener.index("RELOADING", start=before)
        self.assertIn("MONOTONIC_USEC", listener.snapshot()[reloading][1])
        harness.wait_until(lambda: listener.index("READY", start=reloading + 1) is not None, 10,
                           "READY=1 after the reload")
        # Still pinging after the reload.
        t = time.monotonic()
        harness.wait_until(lambda: len(listener.times("WATCHDOG", after=t)) >= 2, 5, "pings after reload")

        # SIGTERM: STOPPING=1 and a clean exit.
        before = len(listener.snapshot())
        d.signal(signal.SIGTERM)
        code = d.wait_exit(harness.STOP_DEADLINE)
        self.assertEqual(code, 0, f"exit code after SIGTERM; stderr:\n{d.stderr_text()[-2000:]}")
        harness.wait_until(lambda: listener.index("STOPPING", start=before) is not None, 5, "STOPPING=1")
        # No READY=1 after STOPPING=1.
        stopping = listener.index("STOPPING", start=before)
        self.assertIsNone(listener.index("READY", start=stopping + 1))

    def test_no_watchdog_without_watchdog_usec(self):
        d = Daemon(self, name="notify2", jaas=False)
        listener = NotifyListener(d.tmp / "notify.sock")
        self.addCleanup(listener.close)
        d.start(env={"NOTIFY_SOCKET": str(listener.path)})
        harness.wait_until(lambda: listener.index("READY") is not None, 20, "READY=1")
        # One second of no pings (a wait on the condition "a ping arrived").
        arrived = []
        try:
            harness.wait_until(lambda: listener.times("WATCHDOG"), 1.0, "no ping")
            arrived.append(True)
        except AssertionError:
            pass
        self.assertFalse(arrived, "WATCHDOG=1 sent although WATCHDOG_USEC is unset")
        self.assertEqual(d.stop(), 0)

    def test_watchdog_for_another_pid_is_ignored(self):
        # WATCHDOG_PID naming another process means the watchdog is not ours.
        d = Daemon(self, name="notify3", jaas=False)
        listener = NotifyListener(d.tmp / "notify.sock")
        self.addCleanup(listener.close)
        d.start(env={"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": str(WATCHDOG_USEC),
                     "WATCHDOG_PID": "1"})
        harness.wait_until(lambda: listener.index("READY") is not None, 20, "READY=1")
        arrived = []
        try:
            harness.wait_until(lambda: listener.times("WATCHDOG"), 1.0, "no ping")
            arrived.append(True)
        except AssertionError:
            pass
        self.assertFalse(arrived, "WATCHDOG=1 sent although WATCHDOG_PID names another process")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    harness.main()
