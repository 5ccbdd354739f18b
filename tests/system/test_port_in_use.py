#!/usr/bin/python3
"""A second daemon configured on a port another one already serves must
refuse to start (POCO's default bind sets SO_REUSEPORT, which let both bind
and the kernel split the connections between them, silently)."""
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import harness  # noqa: E402


class PortInUseTest(unittest.TestCase):
    def test_second_daemon_on_the_same_port_refuses(self):
        first = harness.Daemon(self, jaas=False, name="port-a")
        first.start()
        second = harness.Daemon(self, jaas=False, name="port-b", config={"server": {"port": first.port}})
        proc = second.spawn()
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            self.fail("the second daemon kept running on a port already in use")
        self.assertNotEqual(code, 0)
        self.assertIn("Address already in use", second.stderr_text())
        self.assertEqual(first.request("GET", "/healthz").status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
