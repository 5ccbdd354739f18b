"""Runs tests/plugins/vonage/fake_vonage.py as a child process for the
integration tests: an RSA application key (the daemon gets the private half,
the fake the public half), the fake's port, its /_control and /_stats.
Stopped by PID, also when the test process dies (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import harness

FAKE = harness.SOURCE_DIR / "tests" / "plugins" / "vonage" / "fake_vonage.py"
APP_ID = "9a8b7c6d-1111-4222-8333-444455556666"


class FakeVonage:
    def __init__(self, tmp: Path):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.public_key_path = Path(tmp) / "vonage_public.pem"
        self.public_key_path.write_text(public_pem)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.tmp = Path(tmp)
        self.ca_file: Path | None = None

    def start(self, tls: bool = False) -> "FakeVonage":
        """With tls: HTTPS with a fresh self-signed certificate for 127.0.0.1 (self.ca_file)."""
        args = ["/usr/bin/python3", str(FAKE), "--app-id", APP_ID, "--public-key", str(self.public_key_path)]
        if tls:
            tls_dir = self.tmp / "fake-tls"
            tls_dir.mkdir(mode=0o700, exist_ok=True)
            args += ["--tls-dir", str(tls_dir)]
            self.ca_file = tls_dir / "ca.pem"
        self.proc = subprocess.Popen(args,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     preexec_fn=harness._die_with_parent)
        line = self.proc.stdout.readline()  # "PORT <n>", printed once it listens
        if not line.startswith("PORT "):
            self.stop()
            raise AssertionError(f"fake_vonage.py did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    @property
    def base_url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://127.0.0.1:{self.port}"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        context = None
        if self.ca_file:
            import ssl
            context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return json.loads(r.read())

    def set_download(self, **config) -> None:
        """size, mode (ok | truncate_once | error_mid | no_range), failures."""
        self._call("POST", "/_download", config)

    def set_mode(self, mode: str, status: int = 503, hang_seconds: float = 10) -> None:
        self._call("POST", "/_control", {"mode": mode, "status": status, "hang_seconds": hang_seconds})

    def stats(self) -> dict:
        return self._call("GET", "/_stats")

    def api_requests(self, path_prefix: str = "/session/create") -> list:
        return [r for r in self.stats()["requests"] if r["path"].startswith(path_prefix)]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()

    def provider_config(self, daemon: harness.Daemon, **extra) -> dict:
        harness.write_secret(daemon.secrets_dir / "vonage_private_key.pem", self.private_pem)
        config = {"enabled": True, "api_base_url": self.base_url, "application_id": APP_ID,
                  "private_key_file": "secrets/vonage_private_key.pem", "request_timeout_ms": 1000}
        if self.ca_file:
            config["ca_file"] = str(self.ca_file)
        config.update(extra)
        return config
