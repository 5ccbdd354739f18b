#!/usr/bin/python3
"""browser_join_reconnect: a call survives a network drop (reconnect.spec.mjs):
the daemon, with its signaling and embedded TURN relay, is killed mid-call
(SIGKILL: sockets and relay allocations vanish) and started again on the same
HTTP and TURN ports; both pages must reconnect signaling, restart ICE through
the new relay allocations and show moving video again without a click."""

import os
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calldaemon import call_daemon, create_session, invite  # noqa: E402  (puts harness on the path)
import harness  # noqa: E402
from browser_harness import NODE, artifacts_dir, require_browser, CHROMIUM  # noqa: E402


class ReconnectBrowserTest(unittest.TestCase):
    def test_call_recovers_after_daemon_and_relay_restart(self):
        require_browser(self)
        d = call_daemon(self, "browser-reconnect")
        # Fixed ports: the pages (and their ICE servers) must find the daemon again.
        d.update_config({"server": {"port": harness.free_port()},
                         "turn": {"udp_port": free_udp_port(), "tcp_port": harness.free_port()}})
        key = d.create_api_key("admin")
        d.start()
        s = create_session(d, key)
        doctor = invite(d, key, s["id"], "dr-house")
        patient = invite(d, key, s["id"], "pat-1")
        out = artifacts_dir("reconnect")
        for marker in ("in-call", "restarted"):
            (out / marker).unlink(missing_ok=True)
        env = dict(os.environ, CONSULTD_URL=f"http://127.0.0.1:{d.port}", CONSULTD_ARTIFACTS_DIR=str(out),
                   CONSULTD_CHROMIUM=CHROMIUM, NODE_PATH=str(HERE.parent / "node_modules"), CONSULTD_API_KEY=key,
                   SESSION_ID=s["id"], DOCTOR_INVITE=doctor, PATIENT_INVITE=patient)
        proc = subprocess.Popen([NODE, str(HERE / "reconnect.spec.mjs")], cwd=str(HERE.parent), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            harness.wait_until(lambda: (out / "in-call").exists() or proc.poll() is not None, 120, "the call to run")
            if proc.poll() is None:
                d.kill()
                d.start()
                (out / "restarted").write_text("")
            output, _ = proc.communicate(timeout=240)
        except (subprocess.TimeoutExpired, AssertionError):
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            self.fail(f"reconnect.spec.mjs did not finish:\n{output}")
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        print(output)
        self.assertEqual(proc.returncode, 0, f"reconnect.spec.mjs failed:\n{output}")


def free_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        return u.getsockname()[1]


if __name__ == "__main__":
    unittest.main(verbosity=2)
