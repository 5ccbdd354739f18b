#!/usr/bin/python3
"""Independent check of the tokens jitsi.so issues, with PyJWT.

Usage: verify_tokens.py JITSI_GRANT_TOOL JITSI_SO

Makes a throwaway HS256 secret and RSA key (python3-cryptography) in a temp
dir, runs the grant tool (which dlopen()s the built module) and verifies every
grant against PROVIDERS.md sections 1 and 2: signature with the secret or the
public key, header typ/alg/kid, aud, iss, sub, room, nbf/iat/exp, the context
structure and its types, moderator only for the host, features per role, join
URLs and client settings. Also checks that bad settings and unsafe room names
are refused through the plugin boundary. Exits non-zero on the first mismatch.
"""

import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import unittest

import jwt  # Debian python3-jwt (PyJWT)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

TOOL, PLUGIN = sys.argv[1], sys.argv[2]
ROLES = ("host", "patient", "guest", "device")
FEATURES = ("recording", "livestreaming", "transcription", "outbound-call", "screen-sharing")
APP_ID = "vpaas-magic-cookie-" + secrets.token_hex(16)
ROOM = "consult-room-1"


def b64url_json(segment):
    if "=" in segment:
        raise AssertionError("JWT segment is padded: " + segment)
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class Keys:
    """Throwaway secrets, written 0600 into a temp dir."""

    def __init__(self, directory):
        self.dir = directory
        self.secret = secrets.token_hex(32)
        self.secret_file = self.write("jitsi.secret", self.secret + "\n")
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.pkcs8_file = self.write("jaas-pkcs8.pem", self.rsa.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode())
        self.traditional_file = self.write("jaas-traditional.pem", self.rsa.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()).decode())
        self.other_public_pem = rsa.generate_private_key(
            public_exponent=65537, key_size=2048).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.ec_file = self.write("ec.pem", ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode())

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        return path


def run_tool(directory, settings, room=None):
    path = os.path.join(directory, "settings.conf")
    with open(path, "w") as out:
        out.write("# written by verify_tokens.py\n")
        for key, value in settings.items():
            out.write(f"{key} = {value}\n")
    command = [TOOL, PLUGIN, path] + (["--room", room] if room else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    try:
        output = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"tool printed no JSON (exit {done.returncode}): "
                             f"{done.stdout!r} {done.stderr!r}") from None
    return done.returncode, output, done.stderr


class TokenTest(unittest.TestCase):
    tmp = None
    keys = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="jitsi-pyjwt-")
        cls.keys = Keys(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def issue(self, settings, room=None):
        before = int(time.time())
        code, output, stderr = run_tool(self.tmp.name, settings, room)
        after = int(time.time())
        self.assertEqual(code, 0, f"tool failed: {output} {stderr}")
        self.assertEqual(output["module"], "jitsi")
        self.assertEqual(sorted(output["factories"]), ["jaas", "jitsi"])
        for text in (self.keys.secret,):
            self.assertNotIn(text, stderr, "secret in the provider log")
        return output["providers"], before, after

    def check_times(self, claims, ttl, before, after):
        for name in ("iat", "nbf", "exp"):
            self.assertTrue(is_int(claims[name]), f"{name} is not an integer: {claims[name]!r}")
        self.assertTrue(before <= claims["iat"] <= after)
        self.assertEqual(claims["nbf"], claims["iat"] - 10)
        self.assertLessEqual(claims["nbf"], int(time.time()))
        self.assertLessEqual(abs(claims["exp"] - int(time.time()) - ttl), 2)
        self.assertEqual(claims["exp"] - claims["iat"], ttl)

    def check_user(self, user, role, expect_moderator):
        for field in ("id", "name", "email", "avatar", "moderator"):
            self.assertIsInstance(user[field], str, f"context.user.{field} must be a string")
        self.assertEqual(user["id"], "participant-" + role)
        self.assertEqual(user["name"], f'Test "{role}" \u00dc')
        self.assertEqual(user["email"], "host@example.org" if role == "host" else "")
        self.assertEqual(user["avatar"], "")
        self.assertEqual(user["moderator"], "true" if expect_moderator else "false")

    def check_features(self, features, role):
        self.assertEqual(set(features), set(FEATURES))
        for name in FEATURES:
            self.assertIsInstance(features[name], str, f"feature {name} must be a string")
            self.assertEqual(features[name], "true" if role == "host" else "false", f"{role} {name}")

    # -- self-hosted Jitsi (HS256) ------------------------------------------

    def check_jitsi(self, provider, *, iss, aud, sub, ttl, domain, path_prefix, before, after):
        self.assertEqual(provider["provider_room_id"], ROOM)
        self.assertTrue(provider["healthy"])
        self.assertTrue(provider["capabilities"]["video"])
        self.assertFalse(provider["capabilities"]["webhooks"])
        for role in ROLES:
            grant = provider["grants"][role]
            token = grant["token"]
            header = b64url_json(token.split(".")[0])
            self.assertEqual(header, {"typ": "JWT", "alg": "HS256"})
            self.assertEqual(jwt.get_unverified_header(token)["typ"], "JWT")
            claims = jwt.decode(token, self.keys.secret, algorithms=["HS256"], audience=aud,
                                issuer=iss, options={"require": ["exp", "nbf", "iat", "iss", "aud",
                                                                 "sub", "room"]})
            self.assertIsInstance(claims["aud"], str, "aud must be one string, not an array")
            self.assertEqual(claims["aud"], aud)
            self.assertEqual(claims["sub"], sub)
            self.assertEqual(claims["room"], ROOM)
            self.check_times(claims, ttl, before, after)
            self.assertEqual(set(claims), {"iss", "aud", "sub", "room", "iat", "nbf", "exp",
                                           "context"})
            context = claims["context"]
            self.assertEqual(set(context), {"user", "features"})
            self.check_user(context["user"], role, role == "host")
            self.assertEqual(context["user"]["affiliation"], "owner" if role == "host" else "member")
            self.check_features(context["features"], role)
            self.assertEqual(grant["expires_at"], claims["exp"])
            self.assertEqual(grant["room"], path_prefix + ROOM)
            self.assertEqual(grant["join_url"], f"https://{domain}/{path_prefix}{ROOM}?jwt={token}")
            self.assertEqual(grant["client"]["domain"], domain)
            self.assertEqual(grant["client"]["roomName"], path_prefix + ROOM)
            self.assertEqual(grant["client"]["scriptUrl"], f"https://{domain}/external_api.js")
            self.assertTrue(grant["ice_servers"], "grant carries no ICE servers")
            self.assertEqual(grant["ice_servers"][1]["username"], f"ses-{ROOM}:participant-{role}")
            with self.assertRaises(jwt.InvalidSignatureError):
                jwt.decode(token, self.keys.secret + "x", algorithms=["HS256"], audience=aud)

    def test_jitsi_defaults(self):
        providers, before, after = self.issue({
            "jitsi.domain": "meet.example.org",
            "jitsi.app_id": "consultd-test",
            "jitsi.app_secret_file": self.keys.secret_file,
            "jitsi.token_ttl_seconds": "900",
        })
        self.check_jitsi(providers["jitsi"], iss="consultd-test", aud="jitsi", sub="meet.example.org",
                         ttl=900, domain="meet.example.org", path_prefix="", before=before,
                         after=after)

    def test_jitsi_issuer_audience_tenant(self):
        providers, before, after = self.issue({
            "jitsi.domain": "Meet.Example.ORG",
            "jitsi.app_id": "consultd-test",
            "jitsi.app_secret_file": self.keys.secret_file,
            "jitsi.issuer": "hospital",
            "jitsi.audience": "consultd-aud",
            "jitsi.tenant": "Cardiology",
        })
        self.check_jitsi(providers["jitsi"], iss="hospital", aud="consultd-aud", sub="cardiology",
                         ttl=5400, domain="meet.example.org", path_prefix="cardiology/",
                         before=before, after=after)

    # -- JaaS (RS256) -------------------------------------------------------

    def check_jaas(self, provider, *, ttl, before, after):
        self.assertEqual(provider["provider_room_id"], ROOM)
        self.assertTrue(provider["capabilities"]["recording"])
        self.assertFalse(provider["capabilities"]["webhooks"])
        for role in ROLES:
            grant = provider["grants"][role]
            token = grant["token"]
            header = b64url_json(token.split(".")[0])
            self.assertEqual(header, {"typ": "JWT", "alg": "RS256", "kid": APP_ID + "/testkey1"})
            claims = jwt.decode(token, self.keys.public_pem, algorithms=["RS256"], audience="jitsi",
                                issuer="chat", options={"require": ["exp", "nbf", "iss", "aud", "sub",
                                                                    "room"]})
            self.assertIsInstance(claims["aud"], str)
            self.assertEqual(claims["sub"], APP_ID)
            self.assertEqual(claims["room"], ROOM, "room must be the bare name")
            self.check_times(claims, ttl, before, after)
            context = claims["context"]
            self.assertEqual(set(context), {"user", "features"})
            self.check_user(context["user"], role, role == "host")
            self.assertNotIn("affiliation", context["user"])
            self.check_features(context["features"], role)
            self.assertEqual(grant["expires_at"], claims["exp"])
            self.assertEqual(grant["room"], f"{APP_ID}/{ROOM}")
            self.assertEqual(grant["join_url"], f"https://8x8.vc/{APP_ID}/{ROOM}?jwt={token}")
            self.assertEqual(grant["client"]["domain"], "8x8.vc")
            self.assertEqual(grant["client"]["roomName"], f"{APP_ID}/{ROOM}")
            self.assertEqual(grant["client"]["scriptUrl"], f"https://8x8.vc/{APP_ID}/external_api.js")
            self.assertTrue(grant["ice_servers"])
            with self.assertRaises(jwt.InvalidSignatureError):
                jwt.decode(token, self.keys.other_public_pem, algorithms=["RS256"], audience="jitsi")

    def test_jaas_pkcs8_key(self):
        providers, before, after = self.issue({
            "jaas.app_id": APP_ID,
            "jaas.api_key_id": "testkey1",
            "jaas.private_key_file": self.keys.pkcs8_file,
            "jaas.token_ttl_seconds": "1200",
        })
        self.check_jaas(providers["jaas"], ttl=1200, before=before, after=after)

    def test_both_providers_with_traditional_key(self):
        providers, before, after = self.issue({
            "jaas.app_id": APP_ID,
            "jaas.api_key_id": "testkey1",
            "jaas.private_key_file": self.keys.traditional_file,
            "jitsi.domain": "meet.example.org",
            "jitsi.app_id": "consultd-test",
            "jitsi.app_secret_file": self.keys.secret_file,
        })
        self.check_jaas(providers["jaas"], ttl=5400, before=before, after=after)
        self.check_jitsi(providers["jitsi"], iss="consultd-test", aud="jitsi", sub="meet.example.org",
                         ttl=5400, domain="meet.example.org", path_prefix="", before=before,
                         after=after)

    # -- refusals through the plugin boundary -------------------------------

    def assert_refused(self, settings, code, kind, setting=None, room=None):
        got, output, _ = run_tool(self.tmp.name, settings, room)
        self.assertEqual(got, code, output)
        self.assertEqual(output["error"]["type"], kind)
        if setting:
            self.assertEqual(output["error"]["setting"], setting)
        self.assertNotIn(self.keys.secret, json.dumps(output))

    def jaas_settings(self, **override):
        settings = {"jaas.app_id": APP_ID, "jaas.api_key_id": "testkey1",
                    "jaas.private_key_file": self.keys.pkcs8_file}
        settings.update({"jaas." + key: value for key, value in override.items()})
        return settings

    def test_bad_settings_are_setting_errors(self):
        self.assert_refused(self.jaas_settings(app_id="vpaas-magic-cookie-1234"), 3, "SettingError",
                            "app_id")
        upper_hex = "vpaas-magic-cookie-" + APP_ID[len("vpaas-magic-cookie-"):].upper()
        if upper_hex == APP_ID:  # all-digit random hex: force a letter
            upper_hex = upper_hex[:-1] + "A"
        self.assert_refused(self.jaas_settings(app_id=upper_hex), 3, "SettingError", "app_id")
        self.assert_refused(self.jaas_settings(app_id=APP_ID + "0"), 3, "SettingError", "app_id")
        self.assert_refused(self.jaas_settings(private_key_file=self.keys.ec_file), 3, "SettingError",
                            "private_key_file")
        self.assert_refused(self.jaas_settings(private_key_file=self.keys.secret_file), 3,
                            "SettingError", "private_key_file")
        self.assert_refused(self.jaas_settings(token_ttl_seconds="86401"), 3, "SettingError",
                            "token_ttl_seconds")
        self.assert_refused({"jitsi.domain": "https://meet.example.org", "jitsi.app_id": "a",
                             "jitsi.app_secret_file": self.keys.secret_file}, 3, "SettingError",
                            "domain")
        short = self.keys.write("short.secret", "short\n")
        self.assert_refused({"jitsi.domain": "meet.example.org", "jitsi.app_id": "a",
                             "jitsi.app_secret_file": short}, 3, "SettingError", "app_secret_file")

    def test_unsafe_rooms_are_rejected(self):
        for room in ("Consult-Room", "room/../x", "a" * 65, "room%2f1"):
            self.assert_refused(self.jaas_settings(), 4, "ProviderRejected", room=room)
            self.assert_refused({"jitsi.domain": "meet.example.org", "jitsi.app_id": "a",
                                 "jitsi.app_secret_file": self.keys.secret_file}, 4,
                                "ProviderRejected", room=room)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
