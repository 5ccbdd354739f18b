#!/usr/bin/python3
"""A fake Vonage-compatible Video API server for the vonage plugin's tests.

Usage: fake_vonage.py --app-id ID --public-key PEM_FILE [--tls-dir DIR]

With --tls-dir it serves HTTPS with a fresh self-signed certificate for
127.0.0.1 (or --tls-name NAME, to test name checks) written to DIR/ca.pem
(the client's ca_file).

Listens on 127.0.0.1 and a free port (printed as "PORT <n>" on the first
stdout line), then serves until SIGINT/SIGTERM.

Like the real API (PROVIDERS.md section 3), every API request must carry
`Authorization: Bearer <JWT>` signed RS256 with the application's private key:
the signature is checked with the PUBLIC key, the header must be
{alg RS256, typ JWT}, `application_id` must be the configured one, `iat` and
`exp` integers with iat not in the future (60 s leeway), exp after now and at
most 900 s after iat (the SDK's lifetime), and `jti` present and never seen
before (replays are refused). Failures answer 401 {"code":401,"message":...}.

API routes:
  POST /session/create                         form: archiveMode, p2p.preference
  POST /v2/project/{appId}/archive             JSON: sessionId, hasAudio, hasVideo, ...
  POST /v2/project/{appId}/archive/{id}/stop
  DELETE /v2/project/{appId}/archive/{id}

Archive downloads (what an archive's `url` points at; no JWT, like a
pre-signed storage URL):
  GET /_archives/<name>   deterministic bytes of the configured size; honours
                          `Range: bytes=N-` with 206 + Content-Range

Test control (no JWT; loopback only by construction):
  POST /_control  {"mode": "ok" | "fail" | "hang" | "reject" | "garbage",
                   "status": <HTTP status for fail/reject>, "hang_seconds": <n>}
  GET  /_stats    every API request seen: method, path, status, auth, form/json;
                  "downloads": every archive download (range asked, status, bytes sent)
  POST /_download {"size": <bytes>, "mode": "ok" | "truncate_once" | "error_mid" |
                   "no_range", "failures": <n>}
                  truncate_once: the first answer breaks off after half the body;
                  error_mid: the first answer breaks off after a third, the next
                  <n> answer 500; no_range: breaks off once, then ignores Range.
"""

import argparse
import base64
import json
import os
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt  # Debian python3-jwt (PyJWT)

MAX_TOKEN_LIFETIME = 900
IAT_LEEWAY = 60


class State:
    def __init__(self, app_id, public_key):
        self.app_id = app_id
        self.public_key = public_key
        self.lock = threading.Lock()
        self.mode = "ok"
        self.status = 503
        self.hang_seconds = 10.0
        self.seen_jti = set()
        self.sessions = {}
        self.archives = {}
        self.requests = []
        self.auth_failures = []
        self.download = {"size": 300000, "mode": "ok", "failures": 0}
        self.downloads = []


def archive_bytes(size):
    """Deterministic content (the test recomputes it to compare)."""
    import hashlib
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"archive-%d" % counter).digest()
        counter += 1
    return bytes(out[:size])


def new_session_id():
    # Shaped like Vonage's ids ("1_MX4..." / "2_MX4..."): opaque base64-ish text.
    raw = base64.b64encode(b"~" + secrets.token_bytes(45)).decode()
    return "2_MX4" + raw.rstrip("=").replace("/", "-").replace("+", "_") + "fQ"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-vonage/1"

    def log_message(self, fmt, *args):  # keep test output quiet; errors go to stderr below
        pass

    @property
    def state(self):
        return self.server.state

    # ------------------------------------------------------------ helpers
    def reply(self, status, payload=None, raw=None):
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def error(self, status, message):
        self.reply(status, {"code": status, "message": message})

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def check_jwt(self):
        """Returns None when the bearer token is valid, else the reason."""
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return "missing bearer token"
        token = header[len("Bearer "):]
        try:
            head = jwt.get_unverified_header(token)
            if head.get("alg") != "RS256" or head.get("typ") != "JWT":
                return "header must be alg RS256, typ JWT"
            claims = jwt.decode(token, self.state.public_key, algorithms=["RS256"],
                                options={"require": ["exp", "iat", "jti"]})
        except jwt.PyJWTError as error:
            return "invalid token: " + type(error).__name__
        now = time.time()
        if claims.get("application_id") != self.state.app_id:
            return "wrong application_id"
        for claim in ("iat", "exp"):
            if not isinstance(claims[claim], int) or isinstance(claims[claim], bool):
                return claim + " must be an integer"
        if claims["iat"] > now + IAT_LEEWAY:
            return "iat in the future"
        if not claims["iat"] < claims["exp"] <= claims["iat"] + MAX_TOKEN_LIFETIME:
            return "exp must be after iat and at most 900 s later"
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            return "jti missing"
        with self.state.lock:
            if jti in self.state.seen_jti:
                return "jti replayed"
            self.state.seen_jti.add(jti)
        return None

    def record(self, entry):
        with self.state.lock:
            self.state.requests.append(entry)

    # ------------------------------------------------------------ routes
    def do_GET(self):
        if self.path == "/_stats":
            with self.state.lock:
                self.reply(200, {"requests": self.state.requests,
                                 "auth_failures": self.state.auth_failures,
                                 "sessions": list(self.state.sessions),
                                 "archives": self.state.archives,
                                 "downloads": self.state.downloads})
            return
        if self.path.startswith("/_archives/"):
            self.serve_archive()
            return
        self.error(404, "not found")

    def do_DELETE(self):
        """DELETE /v2/project/{appId}/archive/{id}, JWT-authenticated like the rest."""
        self.read_body()
        entry = {"method": "DELETE", "path": self.path, "content_type": ""}
        reason = self.check_jwt()
        if reason is not None:
            entry["status"] = 401
            entry["auth"] = reason
            self.record(entry)
            self.error(401, reason)
            return
        entry["auth"] = "ok"
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) == 5 and parts[:2] == ["v2", "project"] and parts[3] == "archive":
            if parts[2] != self.state.app_id:
                status, payload = 403, {"code": 403, "message": "project id does not match the token"}
            else:
                with self.state.lock:
                    archive = self.state.archives.get(parts[4])
                    if archive is None:
                        self.state.archives[parts[4]] = {"id": parts[4], "status": "deleted"}
                    else:
                        archive["status"] = "deleted"
                status, payload = 204, None
        else:
            status, payload = 404, {"code": 404, "message": "no such resource"}
        entry["status"] = status
        self.record(entry)
        self.reply(status, payload)

    def serve_archive(self):
        with self.state.lock:
            config = dict(self.state.download)
            attempt = len(self.state.downloads) + 1
            entry = {"range": self.headers.get("Range"), "attempt": attempt}
            self.state.downloads.append(entry)
            fail_now = config["mode"] == "error_mid" and attempt > 1 and self.state.download["failures"] > 0
            if fail_now:
                self.state.download["failures"] -= 1
        if fail_now:
            entry["status"] = 500
            self.error(500, "storage backend failure (fake)")
            return
        data = archive_bytes(int(config["size"]))
        start = 0
        asked = self.headers.get("Range", "")
        if asked.startswith("bytes=") and asked.endswith("-") and config["mode"] != "no_range":
            start = int(asked[len("bytes="):-1])
        body = data[start:]
        cut = None
        if attempt == 1 and config["mode"] in ("truncate_once", "no_range"):
            cut = len(body) // 2
        elif attempt == 1 and config["mode"] == "error_mid":
            cut = len(body) // 3
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "none" if config["mode"] == "no_range" else "bytes")
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        sent = body if cut is None else body[:cut]
        self.wfile.write(sent)
        self.wfile.flush()
        entry["status"] = 206 if start else 200
        entry["bytes"] = len(sent)
        self.close_connection = True
        if cut is not None:
            # Break the connection off mid-body (the client sees a short read).
            import socket as _socket
            try:
                self.connection.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass

    def do_POST(self):
        body = self.read_body()
        if self.path == "/_download":
            with self.state.lock:
                self.state.download = {"size": 300000, "mode": "ok", "failures": 0}
                self.state.download.update(json.loads(body or b"{}"))
                self.state.downloads = []
            self.reply(200, self.state.download)
            return
        if self.path == "/_control":
            command = json.loads(body or b"{}")
            with self.state.lock:
                self.state.mode = command.get("mode", "ok")
                self.state.status = int(command.get("status", 503))
                self.state.hang_seconds = float(command.get("hang_seconds", 10))
            self.reply(200, {"mode": self.state.mode})
            return

        entry = {"method": "POST", "path": self.path,
                 "content_type": self.headers.get("Content-Type", "")}
        with self.state.lock:
            mode, status, hang = self.state.mode, self.state.status, self.state.hang_seconds
        if mode == "hang":
            entry["status"] = "hung"
            self.record(entry)
            time.sleep(hang)
            self.close_connection = True
            return
        if mode == "fail":
            entry["status"] = status
            self.record(entry)
            self.error(status, "service unavailable (fake outage)")
            return

        reason = self.check_jwt()
        if reason is not None:
            entry["status"] = 401
            entry["auth"] = reason
            self.record(entry)
            with self.state.lock:
                self.state.auth_failures.append(reason)
            self.error(401, reason)
            return
        entry["auth"] = "ok"
        if mode == "reject":
            entry["status"] = status
            self.record(entry)
            self.error(status, "request refused (fake)")
            return
        if mode == "garbage":
            entry["status"] = 200
            self.record(entry)
            self.reply(200, raw=b"<html>not the API</html>")
            return

        status, payload = self.route(body, entry)
        entry["status"] = status
        self.record(entry)
        self.reply(status, payload)

    def route(self, body, entry):
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts == ["session", "create"]:
            return self.create_session(body, entry)
        if len(parts) >= 4 and parts[0] == "v2" and parts[1] == "project" and parts[3] == "archive":
            if parts[2] != self.state.app_id:
                return 403, {"code": 403, "message": "project id does not match the token"}
            if len(parts) == 4:
                return self.start_archive(body, entry)
            if len(parts) == 6 and parts[5] == "stop":
                return self.stop_archive(parts[4])
        return 404, {"code": 404, "message": "no such resource"}

    def create_session(self, body, entry):
        if not entry["content_type"].startswith("application/x-www-form-urlencoded"):
            return 400, {"code": 400, "message": "expected a form-encoded body"}
        form = dict(urllib.parse.parse_qsl(body.decode(), strict_parsing=True))
        entry["form"] = form
        archive_mode = form.get("archiveMode", "manual")
        p2p = form.get("p2p.preference", "disabled")
        if archive_mode not in ("manual", "always") or p2p not in ("enabled", "disabled"):
            return 400, {"code": 400, "message": "invalid archiveMode or p2p.preference"}
        if archive_mode == "always" and p2p == "enabled":
            return 400, {"code": 400, "message": "archiveMode always requires a routed session"}
        session_id = new_session_id()
        with self.state.lock:
            self.state.sessions[session_id] = {"archiveMode": archive_mode, "p2p": p2p}
        return 200, [{"session_id": session_id, "project_id": self.state.app_id,
                      "partner_id": self.state.app_id, "create_dt": time.strftime(
                          "%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
                      "media_server_url": ""}]

    def start_archive(self, body, entry):
        if not entry["content_type"].startswith("application/json"):
            return 400, {"code": 400, "message": "expected JSON"}
        request = json.loads(body)
        entry["json"] = request
        session_id = request.get("sessionId")
        if not isinstance(request.get("hasAudio", True), bool) or \
                not isinstance(request.get("hasVideo", True), bool) or \
                request.get("outputMode", "composed") not in ("composed", "individual") or \
                request.get("streamMode", "auto") not in ("auto", "manual"):
            return 400, {"code": 400, "message": "invalid archive options"}
        with self.state.lock:
            session = self.state.sessions.get(session_id)
            if session is None:
                return 404, {"code": 404, "message": "session not found"}
            if session["p2p"] == "enabled":
                return 409, {"code": 409, "message": "relayed sessions cannot be archived"}
            if any(a["sessionId"] == session_id and a["status"] == "started"
                   for a in self.state.archives.values()):
                return 409, {"code": 409, "message": "session is already being archived"}
            archive = {"id": str(uuid.uuid4()), "status": "started", "sessionId": session_id,
                       "applicationId": self.state.app_id, "createdAt": int(time.time() * 1000),
                       "duration": 0, "size": 0, "hasAudio": request.get("hasAudio", True),
                       "hasVideo": request.get("hasVideo", True), "name": request.get("name", ""),
                       "outputMode": request.get("outputMode", "composed"),
                       "streamMode": request.get("streamMode", "auto"),
                       "resolution": "640x480", "reason": "", "url": None, "event": "archive"}
            self.state.archives[archive["id"]] = archive
        return 200, archive

    def stop_archive(self, archive_id):
        with self.state.lock:
            archive = self.state.archives.get(archive_id)
            if archive is None:
                return 404, {"code": 404, "message": "archive not found"}
            if archive["status"] != "started":
                return 409, {"code": 409, "message": "archive is not started"}
            archive["status"] = "stopped"
            archive["duration"] = max(1, int(time.time() * 1000 - archive["createdAt"]) // 1000)
            return 200, dict(archive)


def write_self_signed(directory, host):
    """A self-signed server certificate naming `host` (CN and SAN)."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt_names = [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        alt_names = [x509.DNSName(host)]
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file = os.path.join(directory, "ca.pem")
    key_file = os.path.join(directory, "server-key.pem")
    with open(cert_file, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return cert_file, key_file


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--tls-dir")
    parser.add_argument("--tls-name", default="127.0.0.1")
    args = parser.parse_args()
    with open(args.public_key) as key_file:
        public_key = key_file.read()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True  # a hung handler must not block shutdown
    server.state = State(args.app_id, public_key)
    if args.tls_dir:
        cert_file, key_file = write_self_signed(args.tls_dir, args.tls_name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
