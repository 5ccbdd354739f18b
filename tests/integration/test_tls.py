"""HTTPS: a throwaway CA and server certificate made with the openssl CLI;
curl verifies the chain; TLS 1.2+ only; a renewed certificate is served after
SIGHUP without a restart; plaintext on a non-loopback address is refused."""

import shutil
import signal
import socket
import ssl
import subprocess
import unittest

from cryptography import x509

import harness
from harness import ApiTestCase, Daemon, write_secret

RELOADED = r"<5>consultd: configuration reloaded"
REJECTED = r"<3>consultd: reload rejected"


def run(*cmd, cwd=None):
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=60,
                          preexec_fn=harness._die_with_parent)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


class Pki:
    """A CA and server certificates for 127.0.0.1, made with the openssl CLI."""

    def __init__(self, folder):
        self.dir = folder
        self.dir.mkdir(mode=0o700, exist_ok=True)
        self.ca_key = self.dir / "ca.key"
        self.ca_crt = self.dir / "ca.crt"
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.ca_key),
            "-out", str(self.ca_crt), "-days", "2", "-subj", "/CN=consultd integration test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, name, serial, ca_key=None, ca_crt=None):
        key = self.dir / f"{name}.key"
        csr = self.dir / f"{name}.csr"
        crt = self.dir / f"{name}.crt"
        ext = self.dir / f"{name}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                       "keyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", f"/CN={name}")
        run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt or self.ca_crt),
            "-CAkey", str(ca_key or self.ca_key), "-set_serial", str(serial), "-days", "1",
            "-extfile", str(ext), "-out", str(crt))
        return crt, key


def served_serial(port, cafile):
    ctx = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            der = tls.getpeercert(binary_form=True)
            return x509.load_der_x509_certificate(der).serial_number, tls.version()


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, timeout=30,
                          preexec_fn=harness._die_with_parent)


class TlsTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl") or not shutil.which("curl"):
            raise unittest.SkipTest("openssl and curl are needed (scripts/packages.txt)")

    def setUp(self):
        self.daemon = Daemon(self, name="tls", jaas=False)
        self.pki = Pki(self.daemon.tmp / "pki")
        crt, key = self.pki.issue("server1", 0x1001)
        self.tls_dir = self.daemon.tmp / "tls"
        self.tls_dir.mkdir()
        self.install(crt, key)
        self.daemon.update_config({"server": {"tls": True, "tls_cert_file": "tls/server.crt",
                                              "tls_key_file": "secrets/server.key"}})
        self.ctx = ssl.create_default_context(cafile=str(self.pki.ca_crt))

    def install(self, crt, key):
        """Replaces the configured files the way a renewal tool does (write, rename)."""
        tmp_crt = self.tls_dir / "server.crt.new"
        tmp_crt.write_bytes(crt.read_bytes())
        tmp_crt.replace(self.tls_dir / "server.crt")
        tmp_key = write_secret(self.daemon.secrets_dir / "server.key.new", key.read_bytes())
        tmp_key.replace(self.daemon.secrets_dir / "server.key")

    def url(self, path="/healthz"):
        return f"https://127.0.0.1:{self.daemon.port}{path}"

    def test_https_chain_versions_and_reload(self):
        self.daemon.start(tls_context=self.ctx)
        pid = self.daemon.proc.pid
        self.assertRegex(self.daemon.stderr_text(), r"listening on 127\.0\.0\.1:\d+ \(TLS\)")

        ok = curl("--cacert", str(self.pki.ca_crt), "-w", "\n%{http_code} %{ssl_verify_result}", self.url())
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertTrue(ok.stdout.endswith("200 0"), ok.stdout)
        self.assertIn('"ok"', ok.stdout)
        # The chain is really verified: without the CA curl refuses (60: peer certificate cannot be authenticated).
        unverified = curl(self.url())
        self.assertEqual(unverified.returncode, 60, unverified.stderr)
        # TLS 1.2 alone and 1.3 alone both work.
        for version in (["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]):
            r = curl("--cacert", str(self.pki.ca_crt), *version, "-o", "/dev/null", "-w", "%{http_code}", self.url())
            self.assertEqual((r.returncode, r.stdout), (0, "200"), f"{version}: {r.stderr}")
        # TLS 1.1 is refused by the server. The client is told to allow it
        # (OpenSSL 3 clients refuse TLS < 1.2 at the default security level).
        old = curl("--cacert", str(self.pki.ca_crt), "--tlsv1.1", "--tls-max", "1.1",
                   "--ciphers", "DEFAULT:@SECLEVEL=0", "-o", "/dev/null", "-w", "%{http_code}", self.url())
        self.assertNotEqual(old.returncode, 0, f"TLS 1.1 was accepted: {old.stdout}")
        self.assertEqual(old.returncode, 35, f"expected a handshake failure (35): {old.stderr}")
        # Plain HTTP on the TLS port gets no API answer.
        plain = curl("-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{self.daemon.port}/healthz")
        self.assertNotEqual(plain.stdout, "200")

        serial, version = served_serial(self.daemon.port, self.pki.ca_crt)
        self.assertEqual(serial, 0x1001)
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))

        # Renewal: new cert + key from the same CA, then SIGHUP.
        crt2, key2 = self.pki.issue("server2", 0x2002)
        self.install(crt2, key2)
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_for_log(RELOADED)
        serial, _ = served_serial(self.daemon.port, self.pki.ca_crt)
        self.assertEqual(serial, 0x2002, "the renewed certificate is not served after SIGHUP")
        self.assertEqual(self.daemon.proc.pid, pid, "the daemon restarted")
        r = curl("--cacert", str(self.pki.ca_crt), "-o", "/dev/null", "-w", "%{http_code}", self.url())
        self.assertEqual(r.stdout, "200", r.stderr)

        # A key that does not match the certificate: the reload is rejected
        # with a reason and the previous certificate stays in service.
        crt3, _ = self.pki.issue("server3", 0x3003)
        _, key4 = self.pki.issue("server4", 0x4004)
        self.install(crt3, key4)
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_for_log(REJECTED)
        self.assertRegex(self.daemon.stderr_text(), r"tls_key_file.*does not match|does not match.*tls_key_file")
        serial, _ = served_serial(self.daemon.port, self.pki.ca_crt)
        self.assertEqual(serial, 0x2002)
        self.assertEqual(self.daemon.stop(), 0)

    def test_api_over_https(self):
        self.daemon.start(tls_context=self.ctx)
        key = self.daemon.create_api_key("admin")
        r = self.daemon.request("POST", "/api/v1/sessions", harness.session_body(), key=key)
        self.assertStatus(r, 201)
        self.assertIn("max-age=", r.headers.get("strict-transport-security", ""), r.headers)

    def test_refuses_plaintext_on_non_loopback(self):
        # 192.0.2.0/24 is TEST-NET-1: never a local address, so nothing can
        # bind or leak even if the check were missing (the bind would fail,
        # with a message that does not name the setting).
        self.daemon.update_config({"server": {"tls": False, "listen_address": "192.0.2.10", "tls_cert_file": None,
                                              "tls_key_file": None}})
        self.daemon.spawn()
        code = self.daemon.wait_exit(harness.START_DEADLINE)
        self.assertIsNotNone(code, "the daemon kept running with plain HTTP on a non-loopback address")
        self.assertNotEqual(code, 0)
        err = self.daemon.stderr_text()
        self.assertIn("server.listen_address", err)
        self.assertIn("192.0.2.10", err)
        self.assertRegex(err, r"allow_plaintext")
        self.assertRegex(err, r"consultd\.conf:\d+: server\.listen_address", "the message lacks file:line")
        self.assertNotIn("listening on", err)


if __name__ == "__main__":
    harness.main()
