#!/usr/bin/python3
"""The daemon's embedded TURN relay, driven through the REST API by coturn's
own clients: the credentials from GET /api/v1/ice-servers and from a join
grant are accepted by the relay (turnutils_uclient long-term credentials),
media is relayed to a turnutils_peer with zero loss over UDP and TCP, a
tampered or expired credential is refused, and /metrics counts it all."""
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import harness  # noqa: E402

UCLIENT = shutil.which("turnutils_uclient")
PEER = shutil.which("turnutils_peer")


def run_uclient(port, user, password, *extra, timeout=60):
    args = [UCLIENT, "-u", user, "-w", password, "-p", str(port), "-e", "127.0.0.1", "-r", str(PEER_PORT),
            "-n", "40", "-m", "3", "-l", "180", *extra, "127.0.0.1"]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def lost(output):
    m = re.search(r"Total lost packets (\d+)", output)
    return int(m.group(1)) if m else None


def received(output):
    m = re.search(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", output, re.M)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


PEER_PORT = harness.free_port()


@unittest.skipUnless(UCLIENT and PEER, "coturn's turnutils are not installed (apt-get install coturn)")
class EmbeddedTurnTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.peer = subprocess.Popen([PEER, "-L", "127.0.0.1", "-p", str(PEER_PORT)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        cls.peer.terminate()
        try:
            cls.peer.wait(5)
        except subprocess.TimeoutExpired:
            cls.peer.kill()

    def setUp(self):
        self.daemon = harness.Daemon(self, jaas=False, name="turn", config={
            "turn": {"mode": "embedded", "secret_file": "secrets/turn_secret", "listen_address": "127.0.0.1",
                     "udp_port": 0, "tcp_port": 0, "relay_address": "127.0.0.1", "allow_loopback_peers": True,
                     "credential_ttl_seconds": 600},
        })
        harness.write_secret(self.daemon.secrets_dir / "turn_secret", "turn-shared-secret-0123456789abcdef\n")
        self.daemon.start()
        self.key = self.daemon.create_api_key("admin")

    def ice(self):
        body = harness.session_body()
        self.session = self.daemon.request("POST", "/api/v1/sessions", body, key=self.key).json()["id"]
        r = self.daemon.request("GET", "/api/v1/ice-servers?session_id=" + self.session, key=self.key)
        unknown = self.daemon.request("GET", "/api/v1/ice-servers?session_id=ses_unknown", key=self.key)
        self.assertEqual(unknown.status, 404, unknown.describe())
        self.assertEqual(r.status, 200, r.describe())
        servers = r.json()["ice_servers"]
        turn = [s for s in servers if s.get("username")]
        self.assertEqual(len(turn), 1, servers)
        ports = {}
        for url in turn[0]["urls"]:
            m = re.match(r"turn:127\.0\.0\.1:(\d+)\?transport=(udp|tcp)$", url)
            self.assertIsNotNone(m, url)
            ports[m.group(2)] = int(m.group(1))
        return turn[0]["username"], turn[0]["credential"], ports

    def test_api_credentials_relay_udp_and_tcp_without_loss(self):
        user, password, ports = self.ice()
        self.assertRegex(user, r"^\d+:" + self.session + "$")
        self.assertAlmostEqual(int(user.split(":")[0]), time.time() + 600, delta=30)
        for transport, extra in (("udp", []), ("tcp", ["-t"])):
            out = run_uclient(ports[transport], user, password, *extra)
            text = out.stdout + out.stderr
            self.assertEqual(lost(text), 0, text[-2000:])
            sent, got = received(text)
            self.assertGreater(sent, 0, text[-2000:])
            self.assertEqual(sent, got, text[-2000:])
        metrics = self.daemon.request("GET", "/metrics", key=self.key).text
        created = int(re.search(r"^consultd_turn_allocations_created_total (\d+)$", metrics, re.M).group(1))
        self.assertGreaterEqual(created, 6)
        relayed = int(re.search(r"^consultd_turn_relayed_packets_from_clients_total (\d+)$", metrics, re.M).group(1))
        self.assertGreater(relayed, 0)

    def test_join_grant_carries_working_turn_credentials(self):
        body = harness.session_body()
        s = self.daemon.request("POST", "/api/v1/sessions", body, key=self.key).json()
        g = self.daemon.request("POST", f"/api/v1/sessions/{s['id']}/token",
                                {"participant_id": body["participants"][0]["id"]}, key=self.key)
        self.assertEqual(g.status, 200, g.describe())
        turn = [x for x in g.json()["ice_servers"] if x.get("username")][0]
        self.assertTrue(turn["username"].endswith(":" + s["id"]))
        port = int(re.search(r":(\d+)\?transport=udp", " ".join(turn["urls"])).group(1))
        out = run_uclient(port, turn["username"], turn["credential"])
        self.assertEqual(lost(out.stdout + out.stderr), 0, (out.stdout + out.stderr)[-2000:])

    def test_wrong_and_expired_credentials_refused(self):
        user, password, ports = self.ice()
        bad = run_uclient(ports["udp"], user, "AAAA" + password[4:], timeout=30)
        self.assertNotEqual(lost(bad.stdout + bad.stderr), 0)
        expired_user = "%d:ses_x" % (time.time() - 10)
        import base64, hashlib, hmac
        expired_pw = base64.b64encode(hmac.new(b"turn-shared-secret-0123456789abcdef", expired_user.encode(),
                                               hashlib.sha1).digest()).decode()
        old = run_uclient(ports["udp"], expired_user, expired_pw, timeout=30)
        self.assertNotEqual(lost(old.stdout + old.stderr), 0)
        metrics = self.daemon.request("GET", "/metrics", key=self.key).text
        failures = int(re.search(r"^consultd_turn_auth_failures_total (\d+)$", metrics, re.M).group(1))
        self.assertGreaterEqual(failures, 2)


def host_ipv4_addresses():
    """Non-loopback, non-link-local IPv4 addresses of interfaces that are up."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "up"], capture_output=True, text=True).stdout
    found = []
    for m in re.finditer(r"^\d+:\s+(\S+)\s+inet\s+([\d.]+)/", out, re.M):
        if m.group(1) != "lo" and not m.group(2).startswith(("127.", "169.254.")):
            found.append(m.group(2))
    return found


class WildcardListenTest(unittest.TestCase):
    """The config's defaults (listen on 0.0.0.0, no relay_address or
    external_ip): the relay binds its relay sockets to the host's first
    non-loopback address and says so, or, on a host without one, refuses to
    start with the reason. Nothing is sent to that address."""

    def test_relay_address_defaults_to_a_host_address(self):
        daemon = harness.Daemon(self, jaas=False, name="turn-wildcard", config={
            "turn": {"mode": "embedded", "secret_file": "secrets/turn_secret", "listen_address": "0.0.0.0",
                     "udp_port": 0, "tcp_port": 0},
        })
        harness.write_secret(daemon.secrets_dir / "turn_secret", "turn-shared-secret-0123456789abcdef\n")
        addresses = host_ipv4_addresses()
        if not addresses:
            with self.assertRaises(AssertionError):
                daemon.start()
            self.assertIn("must be a concrete address", daemon.stderr_text())
            return
        daemon.start()
        m = re.search(r"relaying from (\S+), the first non-loopback address", daemon.stderr_text())
        self.assertIsNotNone(m, daemon.stderr_text()[-3000:])
        self.assertIn(m.group(1), addresses)
        self.assertRegex(daemon.stderr_text(), r"TURN relay listening on 0\.0\.0\.0 .* relay=" + re.escape(m.group(1)))
        key = daemon.create_api_key("admin")
        r = daemon.request("GET", "/api/v1/ice-servers", key=key)
        self.assertEqual(r.status, 200, r.describe())
        self.assertTrue([s for s in r.json()["ice_servers"] if s.get("username")], r.json())


if __name__ == "__main__":
    unittest.main(verbosity=2)
