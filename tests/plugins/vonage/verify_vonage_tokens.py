#!/usr/bin/python3
"""Independent check of the tokens vonage.so issues, with PyJWT.

Usage: verify_vonage_tokens.py VONAGE_GRANT_TOOL VONAGE_SO [--compare-npm]

Makes a throwaway RSA key (python3-cryptography), starts fake_vonage.py on
127.0.0.1 (it verifies the plugin's REST JWTs with the public key), runs the
grant tool (which dlopen()s the built module) in video, voice and chat mode,
and verifies every client token against PROVIDERS.md section 3: RS256
signature with the public key (and not with another key), header exactly
{alg, typ}, the exact claim set and the type of every claim, role mapping,
connection_data, exp - iat = token_ttl_seconds, jti a fresh UUID v4, no nbf
and no iss, and the client settings of each mode. Checks that bad settings
and an unreachable API are refused through the plugin boundary.

With --compare-npm it instead compares our claim set with the one the
official Vonage SDKs from npm (`@vonage/video` generateClientToken and
`opentok` generateToken, both offline) produce for the same inputs; it exits
77 (CTest "skipped") with a message when npm or the packages are unavailable.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import jwt  # Debian python3-jwt (PyJWT)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL, PLUGIN = sys.argv[1], sys.argv[2]
COMPARE_NPM = "--compare-npm" in sys.argv[3:]
APP_ID = str(uuid.uuid4())
TTL = 7200
ROLES = {"host": "moderator", "patient": "publisher", "guest": "publisher", "device": "publisher"}
CLAIMS = {"scope", "session_id", "role", "initial_layout_class_list", "exp", "sub", "acl",
          "connection_data", "jti", "iat", "application_id"}
SKIP = 77


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


class FakeServer:
    """fake_vonage.py on a free loopback port, stopped by PID."""

    def __init__(self, public_key_file):
        self.process = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "fake_vonage.py"), "--app-id", APP_ID,
             "--public-key", public_key_file], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError("fake_vonage.py did not start: %r" % line)
        self.base_url = "http://127.0.0.1:%d" % int(line.split()[1])

    def stats(self):
        import urllib.request
        with urllib.request.urlopen(self.base_url + "/_stats", timeout=5) as response:
            return json.load(response)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Env:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vonage-pyjwt-")
        self.dir = self.tmp.name
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.other_public_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key() \
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.key_file = os.path.join(self.dir, "private.key")
        write_private(self.key_file, self.private_pem)
        self.public_file = os.path.join(self.dir, "public.pem")
        with open(self.public_file, "w") as out:
            out.write(self.public_pem)
        self.server = FakeServer(self.public_file)

    def settings(self, **overrides):
        values = {"api_base_url": self.server.base_url, "application_id": APP_ID,
                  "private_key_file": self.key_file, "token_ttl_seconds": str(TTL),
                  "request_timeout_ms": "3000"}
        values.update(overrides)
        return values

    def run_tool(self, settings, *args):
        path = os.path.join(self.dir, "settings.conf")
        with open(path, "w") as out:
            out.write("# written by verify_vonage_tokens.py\n")
            for key, value in settings.items():
                out.write("vonage.%s = %s\n" % (key, value))
        result = subprocess.run([TOOL, PLUGIN, path, *args], capture_output=True, text=True, timeout=60)
        return result.returncode, json.loads(result.stdout) if result.stdout.strip() else None, result.stderr

    def close(self):
        self.server.stop()
        self.tmp.cleanup()


ENV = None


def decode(token, key):
    return jwt.decode(token, key, algorithms=["RS256"], options={"require": ["exp", "iat", "jti"]})


class ClientTokens(unittest.TestCase):
    def grants(self, *args):
        code, output, stderr = ENV.run_tool(ENV.settings(), *args)
        self.assertEqual(code, 0, (output, stderr))
        # The module never logs a token.
        for grant in output["grants"].values():
            self.assertNotIn(grant["token"], stderr)
            self.assertNotIn(grant["token"].split(".")[2], stderr)
        return output

    def check_token(self, token, role, participant, session_id, expires_at):
        header = jwt.get_unverified_header(token)
        self.assertEqual(header, {"alg": "RS256", "typ": "JWT"})
        for segment in token.split("."):
            self.assertNotIn("=", segment)
        before = int(time.time())
        claims = decode(token, ENV.public_pem)
        self.assertEqual(set(claims), CLAIMS)
        self.assertNotIn("nbf", claims)
        self.assertNotIn("iss", claims)
        self.assertEqual(claims["scope"], "session.connect")
        self.assertEqual(claims["session_id"], session_id)
        self.assertEqual(claims["role"], ROLES[role])
        self.assertEqual(claims["initial_layout_class_list"], "")
        self.assertEqual(claims["sub"], "video")
        self.assertEqual(claims["acl"], {"paths": {"/session/**": {}}})
        self.assertEqual(claims["application_id"], APP_ID)
        self.assertTrue(is_int(claims["iat"]) and is_int(claims["exp"]))
        self.assertLessEqual(abs(claims["iat"] - before), 60)
        self.assertEqual(claims["exp"] - claims["iat"], TTL)
        self.assertEqual(claims["exp"], expires_at)
        self.assertEqual(uuid.UUID(claims["jti"]).version, 4)
        self.assertEqual(str(uuid.UUID(claims["jti"])), claims["jti"])
        self.assertIsInstance(claims["connection_data"], str)
        self.assertLessEqual(len(claims["connection_data"].encode()), 1000)
        data = json.loads(claims["connection_data"])
        self.assertEqual(set(data), {"participant_id", "name"})
        self.assertEqual(data["participant_id"], participant)
        with self.assertRaises(jwt.InvalidSignatureError):
            decode(token, ENV.other_public_pem)
        return claims, data

    def test_video_grants(self):
        output = self.grants("--mode", "video")
        session_id = output["provider_room_id"]
        self.assertTrue(session_id)
        self.assertEqual(output["recorder"], "rejected")
        self.assertEqual(output["health"], "healthy")
        self.assertIn(session_id, ENV.server.stats()["sessions"])
        jtis = set()
        for role, grant in output["grants"].items():
            claims, data = self.check_token(grant["token"], role, "participant-" + role, session_id,
                                            grant["expires_at"])
            self.assertEqual(data["name"], 'Test "%s" \u00dc' % role)
            jtis.add(claims["jti"])
            self.assertEqual(grant["room"], session_id)
            self.assertEqual(grant["client"], {
                "application_id": APP_ID, "session_id": session_id, "api_base_url": ENV.server.base_url,
                "mode": "video", "publish_video": "true", "publish_audio": "true"})
            self.assertGreater(grant["ice_server_count"], 0)
        self.assertEqual(len(jtis), 4)

    def test_voice_and_chat_grants_and_archive(self):
        for mode, video, audio in (("voice", "false", "true"), ("chat", "false", "false")):
            output = self.grants("--mode", mode, "--record")
            self.assertTrue(output["recorded"])
            for role, grant in output["grants"].items():
                self.check_token(grant["token"], role, "participant-" + role, output["provider_room_id"],
                                 grant["expires_at"])
                self.assertEqual(grant["client"]["mode"], mode)
                self.assertEqual(grant["client"]["publish_video"], video)
                self.assertEqual(grant["client"]["publish_audio"], audio)
            archives = [a for a in ENV.server.stats()["archives"].values()
                        if a["sessionId"] == output["provider_room_id"]]
            self.assertEqual(len(archives), 1)
            self.assertEqual(archives[0]["status"], "stopped")
            self.assertIs(archives[0]["hasVideo"], False)
            self.assertIs(archives[0]["hasAudio"], True)
            self.assertEqual(archives[0]["outputMode"], "composed")

    def test_long_name_is_shortened_to_fit(self):
        output = self.grants("--long-name")
        for role, grant in output["grants"].items():
            claims, data = self.check_token(grant["token"], role, "participant-" + role,
                                            output["provider_room_id"], grant["expires_at"])
            # The plugin counts UTF-8 bytes, which keeps it within Vonage's
            # 1000-character limit however the server counts characters.
            self.assertLessEqual(len(claims["connection_data"].encode()), 1000)
            self.assertGreater(len(claims["connection_data"].encode()), 900)
            self.assertTrue(data["name"] and set(data["name"]) == {"\u00e9"})

    def test_server_saw_only_verified_requests(self):
        self.grants("--record")
        stats = ENV.server.stats()
        self.assertTrue(stats["requests"])
        for request in stats["requests"]:
            self.assertEqual(request.get("auth"), "ok", request)
        self.assertEqual(stats["auth_failures"], [])


class Refusals(unittest.TestCase):
    def test_bad_settings(self):
        for setting, value in (("api_base_url", "http://vonage.example.org"),
                               ("api_base_url", "https://u:p@video.api.vonage.com"),
                               ("token_ttl_seconds", "2592001"),
                               ("application_id", "../x"),
                               ("archive_mode", "sometimes")):
            code, output, _ = ENV.run_tool(ENV.settings(**{setting: value}))
            self.assertEqual(code, 3, (setting, value, output))
            self.assertEqual(output["error"]["setting"], setting)
        with open(os.path.join(ENV.dir, "public-only.pem"), "w") as out:
            out.write(ENV.public_pem)
        code, output, _ = ENV.run_tool(ENV.settings(private_key_file=os.path.join(ENV.dir, "public-only.pem")))
        self.assertEqual((code, output["error"]["setting"]), (3, "private_key_file"))
        # The error never quotes key material.
        self.assertNotIn("MII", json.dumps(output))

    def test_unreachable_api(self):
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        code, output, _ = ENV.run_tool(ENV.settings(api_base_url="http://127.0.0.1:%d" % port))
        self.assertEqual(code, 5, output)
        self.assertEqual(output["error"]["type"], "ProviderUnavailable")


# ------------------------------------------------------------------ npm comparison

NODE_SCRIPT = r"""
const fs = require('fs');
const [appId, keyFile, sessionId, role, data, exp] = process.argv.slice(2);
const privateKey = fs.readFileSync(keyFile, 'utf8');
const out = {};
const { Video } = require('@vonage/video');
const video = new Video({ applicationId: appId, privateKey });
out.vonage_video = video.generateClientToken(sessionId, { role, data, expireTime: Number(exp) });
const OpenTok = require('opentok');
const ot = new OpenTok(appId, privateKey);
out.opentok = ot.generateToken(sessionId, { role, data, expire_time: Number(exp) });
process.stdout.write(JSON.stringify(out));
"""


def npm_tokens(prefix, session_id, role, data, exp):
    script = os.path.join(prefix, "generate.js")
    with open(script, "w") as out:
        out.write(NODE_SCRIPT)
    env = dict(os.environ, NODE_PATH=os.path.join(prefix, "node_modules"))
    result = subprocess.run(["node", script, APP_ID, ENV.key_file, session_id, role, data, str(exp)],
                            capture_output=True, text=True, timeout=60, env=env)
    if result.returncode != 0:
        raise AssertionError("node failed: " + result.stderr[-2000:])
    return json.loads(result.stdout)


def claim_types(claims):
    return {key: type(value).__name__ for key, value in claims.items()}


def compare_npm():
    if shutil.which("node") is None or shutil.which("npm") is None:
        print("SKIPPED: node/npm not installed; claim sets not compared with the Vonage SDKs")
        return SKIP
    prefix = os.path.join(ENV.dir, "npm")
    os.makedirs(prefix)
    try:
        install = subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund",
                                  "@vonage/video", "opentok"], capture_output=True, text=True, timeout=45)
    except subprocess.TimeoutExpired:
        install = None
    if install is None or install.returncode != 0:
        print("SKIPPED: `npm install @vonage/video opentok` failed (no registry access?); claim sets "
              "not compared with the Vonage SDKs")
        if install is not None:
            print(install.stderr[-1000:])
        return SKIP

    failures = []
    output = json.loads(subprocess.run([TOOL, PLUGIN, ENV.run_tool_settings_path()], capture_output=True,
                                       text=True, timeout=60).stdout)
    session_id = output["provider_room_id"]
    for role, grant in output["grants"].items():
        ours = decode(grant["token"], ENV.public_pem)
        theirs = npm_tokens(prefix, session_id, ours["role"], ours["connection_data"], ours["exp"])
        for sdk, token in theirs.items():
            reference = decode(token, ENV.public_pem)
            header = jwt.get_unverified_header(token)
            checks = [
                ("header", {"alg": "RS256", "typ": "JWT"} == header, header),
                ("claim names", set(reference) == set(ours), sorted(set(reference) ^ set(ours))),
                ("claim types", claim_types(reference) == claim_types(ours),
                 (claim_types(reference), claim_types(ours))),
            ]
            for key in ("scope", "session_id", "role", "initial_layout_class_list", "exp", "sub", "acl",
                        "connection_data", "application_id"):
                checks.append((key, reference.get(key) == ours.get(key), (reference.get(key), ours.get(key))))
            checks.append(("iat", abs(reference["iat"] - ours["iat"]) <= 60, (reference["iat"], ours["iat"])))
            checks.append(("jti is a UUID v4", uuid.UUID(reference["jti"]).version == 4, reference["jti"]))
            for name, ok, detail in checks:
                status = "ok" if ok else "MISMATCH"
                print("%-8s %-13s %-26s %s" % (role, sdk, name, status if ok else "%s %r" % (status, detail)))
                if not ok:
                    failures.append((role, sdk, name))
    if failures:
        print("claim sets differ from the Vonage SDKs: %r" % failures)
        return 1
    print("claim sets equal to @vonage/video and opentok for every role")
    return 0


def main():
    global ENV
    ENV = Env()
    try:
        if COMPARE_NPM:
            def settings_path():
                path = os.path.join(ENV.dir, "settings.conf")
                with open(path, "w") as out:
                    for key, value in ENV.settings().items():
                        out.write("vonage.%s = %s\n" % (key, value))
                return path
            ENV.run_tool_settings_path = settings_path
            return compare_npm()
        suite = unittest.TestSuite()
        loader = unittest.defaultTestLoader
        suite.addTests(loader.loadTestsFromTestCase(ClientTokens))
        suite.addTests(loader.loadTestsFromTestCase(Refusals))
        result = unittest.TextTestRunner(verbosity=2).run(suite)
        if result.testsRun == 0:
            return 2
        return 0 if result.wasSuccessful() else 1
    finally:
        ENV.close()


if __name__ == "__main__":
    sys.exit(main())
