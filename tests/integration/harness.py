"""Shared harness for consultd integration tests.

Starts the built daemon (CONSULTD_BIN) on 127.0.0.1 with a free port and a
config + secrets written into a temp folder, creates API keys with the
daemon's own CLI, and drives the REST API over HTTP with the standard library.

Rules kept here so every test follows them:
  * hermetic: temp dirs, port 0 (the daemon logs the port it bound), loopback only;
  * no bare sleeps: every wait polls a condition until a deadline;
  * every daemon is stopped by PID (SIGTERM, then SIGKILL after a deadline),
    also when a test fails or the test process is killed (PR_SET_PDEATHSIG);
  * stderr of every run is kept in a file the tests can grep.

Environment (set by consultd_add_script_test in tests/CMakeLists.txt):
  CONSULTD_BIN, CONSULTD_PLUGIN_DIR, CONSULTD_SOURCE_DIR, CONSULTD_BUILD_DIR.
Run one script by hand:
  CONSULTD_BIN=build-it/daemon/consultd CONSULTD_PLUGIN_DIR=build-it/plugins-out \
      /usr/bin/python3 tests/integration/test_api_flow.py -v
Set CONSULTD_KEEP_TMP=1 to keep the temp folders (their paths are printed).
"""

from __future__ import annotations

import atexit
import ctypes
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Any, Callable, Iterable

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("CONSULTD_SOURCE_DIR", HERE.parent.parent))
BUILD_DIR = Path(os.environ.get("CONSULTD_BUILD_DIR", SOURCE_DIR / "build"))
BIN = Path(os.environ.get("CONSULTD_BIN", BUILD_DIR / "daemon" / "consultd")).absolute()
PLUGIN_DIR = Path(os.environ.get("CONSULTD_PLUGIN_DIR", BUILD_DIR / "plugins-out")).absolute()

# The machine may be busy (parallel builds, ctest -j): deadlines are generous,
# and they are deadlines, not sleeps: a healthy run never waits them out.
START_DEADLINE = float(os.environ.get("CONSULTD_TEST_START_DEADLINE", "40"))
STOP_DEADLINE = 15.0
HTTP_TIMEOUT = 20.0

JAAS_APP_ID = "vpaas-magic-cookie-0123456789abcdef0123456789abcdef"
JAAS_KEY_ID = "it-key-1"
JITSI_DOMAIN = "meet.example.org"
JITSI_APP_ID = "consultd-it"

_PR_SET_PDEATHSIG = 1


# Loaded once here: the preexec_fn below runs between fork and exec, where
# loading a library (or taking any lock another thread may hold) is unsafe.
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)


def _die_with_parent() -> None:
    """preexec_fn: the daemon gets SIGKILL if the test process dies first."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def wait_until(predicate: Callable[[], Any], deadline: float, what: str, interval: float = 0.02) -> Any:
    """Polls predicate() until it returns something truthy or `deadline`
    seconds pass; returns that value or raises AssertionError naming `what`."""
    end = time.monotonic() + deadline
    delay = interval
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {deadline:.0f} s waiting for {what}")
        # Short back-off between polls (bounded by the deadline above).
        time.sleep(min(delay, max(0.0, end - time.monotonic())))
        delay = min(delay * 1.5, 0.2)


# ---- libconfig rendering -------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    raise TypeError(f"cannot render {value!r}")


def render_config(groups: dict, indent: str = "") -> str:
    """Renders nested dicts as libconfig text, one setting per line."""
    lines = []
    for name, value in groups.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{name} = {{")
            lines.append(render_config(value, indent + "  ").rstrip("\n"))
            lines.append(f"{indent}}};")
        else:
            lines.append(f"{indent}{name} = {render_value(value)};")
    return "\n".join(line for line in lines if line != "") + "\n"


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def write_secret(path: Path, content: str | bytes, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- HTTP ------------------------------------------------------------------------------


class Response:
    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, method: str, path: str):
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.method = method
        self.path = path
        self._json = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        if self._json is None:
            try:
                self._json = json.loads(self.body)
            except ValueError as e:
                raise AssertionError(f"{self.method} {self.path} -> {self.status}: body is not JSON: {self.text[:500]!r}") from e
        return self._json

    def describe(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {self.text[:800]}"

    def error_code(self) -> str | None:
        try:
            return self.json()["error"]["code"]
        except (AssertionError, KeyError, TypeError):
            return None


# ---- the daemon ---------------------------------------------------------------------------

_live: set["Daemon"] = set()
_live_lock = threading.Lock()


def _stop_all_live() -> None:
    with _live_lock:
        daemons = list(_live)
    for d in daemons:
        d.stop()


atexit.register(_stop_all_live)


def _on_sigterm(signum, frame):  # ctest timeout or a user's kill: clean up, then exit
    _stop_all_live()
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


class Daemon:
    """One consultd instance in its own temp folder.

    d = Daemon(self, config={"security": {"token_rate_per_minute": 3}})
    d.start(); key = d.create_api_key("admin")
    r = d.request("POST", "/api/v1/sessions", {...}, key=key)
    """

    def __init__(self, test: unittest.TestCase | None = None, config: dict | None = None, jaas: bool = True,
                 name: str = "it", tmp: Path | None = None):
        self.tmp = Path(tmp) if tmp else Path(tempfile.mkdtemp(prefix=f"consultd-{name}-"))
        self.tmp.chmod(0o700)
        self.name = name
        self.config_path = self.tmp / "consultd.conf"
        self.secrets_dir = self.tmp / "secrets"
        self.secrets_dir.mkdir(mode=0o700, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.scheme = "http"
        self.ssl_context: ssl.SSLContext | None = None
        self.runs = 0
        self.stderr_paths: list[Path] = []
        self.returncode: int | None = None
        # Every secret this daemon saw or handed out; test_no_secrets greps for them.
        self.issued_secrets: list[str] = []

        self.app_secret = secrets.token_hex(32)  # 64 chars
        write_secret(self.secrets_dir / "jitsi_app_secret", self.app_secret + "\n")
        self.issued_secrets.append(self.app_secret)
        self.jaas_private_pem = None
        self.jaas_public_pem = None
        if jaas:
            self._make_jaas_key()
        self.base_config = self.default_config(jaas)
        self.config = deep_merge(self.base_config, config or {})
        self.write_config()
        if test is not None:
            test.addCleanup(self.cleanup)
        elif not os.environ.get("CONSULTD_KEEP_TMP"):
            atexit.register(self.cleanup)

    # -- configuration ---------------------------------------------------------------

    def _make_jaas_key(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jaas_private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()).decode()
        self.jaas_public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        write_secret(self.secrets_dir / "jaas_private_key.pem", self.jaas_private_pem)
        # The base64 body lines of the key: none may ever be logged.
        self.issued_secrets.extend(line for line in self.jaas_private_pem.splitlines()
                                   if line and not line.startswith("-----"))

    def default_config(self, jaas: bool) -> dict:
        providers: dict = {
            "plugin_dir": str(PLUGIN_DIR),
            "default": "jitsi",
            "jitsi": {
                "enabled": True,
                "domain": JITSI_DOMAIN,
                "app_id": JITSI_APP_ID,
                "app_secret_file": "secrets/jitsi_app_secret",
            },
        }
        if jaas:
            providers["jaas"] = {
                "enabled": True,
                "app_id": JAAS_APP_ID,
                "api_key_id": JAAS_KEY_ID,
                "private_key_file": "secrets/jaas_private_key.pem",
            }
        return {
            "server": {"listen_address": "127.0.0.1", "port": 0, "web_root": str(SOURCE_DIR / "web")},
            "storage": {"state_dir": "state"},
            "security": {"token_rate_per_minute": 10},
            "providers": providers,
            "turn": {"mode": "off"},
            "logging": {"level": "debug"},
        }

    def write_config(self, config: dict | None = None, text: str | None = None) -> None:
        if config is not None:
            self.config = config
        body = text if text is not None else render_config(self.config)
        self.config_path.write_text("# written by tests/integration/harness.py\n" + body)

    def update_config(self, override: dict) -> None:
        self.write_config(deep_merge(self.config, override))

    @property
    def db_path(self) -> Path:
        storage = self.config.get("storage", {})
        return self.tmp / storage.get("state_dir", "state") / storage.get("database", "consultd.db")

    # -- CLI -------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(BIN), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=_die_with_parent)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def create_api_key(self, scopes: str = "admin", name: str | None = None) -> str:
        """Creates a key with `consultd apikey create` and returns the key text."""
        # The CLI does not create storage.state_dir (the daemon does at start).
        self.db_path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        name = name or f"it-{scopes.replace(',', '-').replace(':', '-')}-{secrets.token_hex(3)}"
        proc = self.cli("apikey", "create", "--config", str(self.config_path), "--name", name, "--scopes", scopes,
                        "--json")
        data = json.loads(proc.stdout)
        self.issued_secrets.append(data["key"])
        self.key_ids = getattr(self, "key_ids", {})
        self.key_ids[data["key"]] = data["id"]
        return data["key"]

    def revoke_api_key(self, key: str) -> None:
        self.cli("apikey", "revoke", self.key_ids[key], "--config", str(self.config_path))

    def check_config(self, path: Path | None = None) -> subprocess.CompletedProcess:
        return self.cli("--check-config", "--config", str(path or self.config_path), check=False)

    # -- process -----------------------------------------------------------------------------

    @property
    def stderr_path(self) -> Path:
        return self.stderr_paths[-1]

    def stderr_text(self, all_runs: bool = False) -> str:
        paths = self.stderr_paths if all_runs else self.stderr_paths[-1:]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def spawn(self, env: dict | None = None, extra_args: Iterable[str] = ()) -> subprocess.Popen:
        """Starts the process without waiting for it to serve."""
        assert self.proc is None or self.proc.poll() is not None, "daemon already running"
        self.runs += 1
        err = self.tmp / f"stderr.{self.runs}.log"
        out = self.tmp / f"stdout.{self.runs}.log"
        self.stderr_paths.append(err)
        full_env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        full_env.update(env or {})
        with open(err, "wb") as err_file, open(out, "wb") as out_file:
            self.proc = subprocess.Popen([str(BIN), "--config", str(self.config_path), *extra_args],
                                         stdin=subprocess.DEVNULL, stdout=out_file, stderr=err_file,
                                         env=full_env, preexec_fn=_die_with_parent)
        self.returncode = None
        self.port = None
        with _live_lock:
            _live.add(self)
        return self.proc

    def start(self, env: dict | None = None, tls_context: ssl.SSLContext | None = None) -> "Daemon":
        self.spawn(env)
        self.scheme = "https" if tls_context else "http"
        self.ssl_context = tls_context
        try:
            self.port = wait_until(self._bound_port, START_DEADLINE, "the daemon's 'listening on' log line")
            wait_until(self._healthy, START_DEADLINE, "GET /healthz to answer 200")
        except AssertionError:
            self.stop()
            raise AssertionError(f"consultd did not come up; stderr:\n{self.stderr_text()[-4000:]}")
        return self

    def _bound_port(self) -> int | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"consultd exited with {self.proc.returncode} during start; stderr:\n"
                                 f"{self.stderr_text()[-4000:]}")
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.stderr_text())
        return int(m.group(1)) if m else None

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"consultd exited with {self.proc.returncode}; stderr:\n{self.stderr_text()[-4000:]}")
        try:
            return self.request("GET", "/healthz", timeout=2).status == 200
        except (OSError, http.client.HTTPException):
            return False

    def wait_exit(self, deadline: float = STOP_DEADLINE) -> int | None:
        if self.proc is None:
            return self.returncode
        try:
            self.returncode = self.proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            return None
        with _live_lock:
            _live.discard(self)
        return self.returncode

    def signal(self, sig: int) -> None:
        assert self.proc is not None and self.proc.poll() is None, "daemon is not running"
        os.kill(self.proc.pid, sig)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_DEADLINE; returns the exit code."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait_exit(STOP_DEADLINE) is None:
                self.kill()
        self.returncode = self.proc.wait()
        with _live_lock:
            _live.discard(self)
        return self.returncode

    def kill(self) -> int:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.returncode = self.proc.wait() if self.proc else None
        with _live_lock:
            _live.discard(self)
        return self.returncode

    def cleanup(self) -> None:
        self.stop()
        if os.environ.get("CONSULTD_KEEP_TMP"):
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_for_log(self, pattern: str, deadline: float = 20, count: int = 1) -> re.Match:
        """Waits until `pattern` has matched at least `count` times in this run's stderr."""
        rx = re.compile(pattern)

        def found():
            matches = list(rx.finditer(self.stderr_text()))
            return matches[count - 1] if len(matches) >= count else None

        try:
            return wait_until(found, deadline, f"log line /{pattern}/ (x{count})")
        except AssertionError as e:
            raise AssertionError(f"{e}; stderr:\n{self.stderr_text()[-3000:]}") from None

    def log_count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.stderr_text()))

    # -- HTTP --------------------------------------------------------------------------------

    def connection(self, timeout: float = HTTP_TIMEOUT) -> http.client.HTTPConnection:
        assert self.port, "daemon not started"
        if self.scheme == "https":
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ssl_context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, key: str | None = None,
                headers: dict | None = None, raw: bytes | None = None, content_type: str | None = "application/json",
                timeout: float = HTTP_TIMEOUT) -> Response:
        hdrs = dict(headers or {})
        data = None
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type is not None:
            hdrs.setdefault("Content-Type", content_type)
        if key is not None:
            hdrs.setdefault("Authorization", f"Bearer {key}")
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            payload = r.read()
            resp = Response(r.status, r.reason, r.getheaders(), payload, method, path)
        finally:
            conn.close()
        if resp.status == 200 and method == "POST" and path.endswith("/token"):
            try:
                token = resp.json().get("token")
                if token:
                    self.issued_secrets.append(token)
            except AssertionError:
                pass
        return resp


# ---- API helpers --------------------------------------------------------------------------


def new_consultation_id(prefix: str = "cons") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def session_body(consultation_id: str | None = None, **extra) -> dict:
    body = {
        "consultation_id": consultation_id or new_consultation_id(),
        "mode": "video",
        "host": {"id": "dr-house", "name": "Dr. Gregory House", "email": "house@example.org"},
        "participants": [
            {"id": "pat-1", "name": "Patient One", "role": "patient"},
            {"id": "guest-1", "name": "Interpreter", "role": "guest"},
        ],
    }
    body.update(extra)
    return body


class ApiTestCase(unittest.TestCase):
    """Assertions shared by the API tests."""

    def assertStatus(self, response: Response, status: int, code: str | None = None) -> Response:
        self.assertEqual(response.status, status, response.describe())
        if code is not None:
            self.assertEqual(response.error_code(), code, response.describe())
        if status >= 400:
            self.assertEnvelope(response)
        return response

    def assertEnvelope(self, response: Response) -> None:
        self.assertTrue(response.headers.get("content-type", "").startswith("application/json"), response.describe())
        error = response.json().get("error")
        self.assertIsInstance(error, dict, response.describe())
        for field in ("code", "message", "details", "request_id"):
            self.assertIn(field, error, response.describe())
        self.assertIsInstance(error["code"], str)
        self.assertIsInstance(error["message"], str)
        self.assertIsInstance(error["details"], dict)
        self.assertTrue(error["request_id"], response.describe())
        self.assertEqual(response.headers.get("x-request-id"), error["request_id"], response.describe())


def main() -> None:
    if not BIN.exists():
        print(f"consultd binary not found at {BIN} (set CONSULTD_BIN)", file=sys.stderr)
        sys.exit(2)
    unittest.main(verbosity=2)
