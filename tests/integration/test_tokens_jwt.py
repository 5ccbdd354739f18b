"""Join grants issued through the API, verified by an independent JWT
implementation (PyJWT, Debian python3-jwt) against PROVIDERS.md sections 1-2:
the self-hosted Jitsi flavour (HS256 with the app secret) and the JaaS flavour
(RS256 with the public half of a throwaway RSA key)."""

import datetime as dt
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

import harness
from harness import JAAS_APP_ID, JAAS_KEY_ID, JITSI_APP_ID, JITSI_DOMAIN, ApiTestCase, Daemon, session_body

DEFAULT_TTL = 5400


class TokensJwtTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(name="jwt", jaas=True)
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.key = cls.daemon.create_api_key("sessions:read,sessions:write")
        cls.daemon.start()

    def api(self, method, path, body=None):
        return self.daemon.request(method, "/api/v1" + path, body, key=self.key)

    def grants(self, provider):
        r = self.assertStatus(self.api("POST", "/sessions", session_body(provider=provider)), 201)
        session = r.json()
        self.assertEqual(session["provider"], provider)
        out = {}
        for pid in ("dr-house", "pat-1", "guest-1"):
            before = int(time.time())
            g = self.assertStatus(self.api("POST", f"/sessions/{session['id']}/token", {"participant_id": pid}),
                                  200).json()
            after = int(time.time())
            self.assertEqual(g["provider"], provider)
            out[pid] = (g, before, after)
        return session, out

    def check_common(self, claims, header, grant, before, after):
        self.assertEqual(header.get("typ"), "JWT", header)
        # nbf in the past (prosody checks without leeway), exp after it, both integers.
        for name in ("nbf", "exp"):
            self.assertIsInstance(claims.get(name), int, claims)
        self.assertLessEqual(claims["nbf"], before, claims)
        self.assertGreaterEqual(claims["nbf"], before - 120, f"nbf too far in the past: {claims}")
        self.assertGreater(claims["exp"], after)
        if "iat" in claims:
            self.assertIsInstance(claims["iat"], int)
            self.assertLessEqual(claims["iat"], after + 1)
            self.assertEqual(claims["exp"] - claims["iat"], DEFAULT_TTL, claims)
        else:
            self.assertAlmostEqual(claims["exp"] - before, DEFAULT_TTL, delta=5)
        # expires_at in the response is exp.
        at = dt.datetime.fromisoformat(grant["expires_at"].replace("Z", "+00:00")).timestamp()
        self.assertEqual(int(at), claims["exp"], grant["expires_at"])
        user = claims["context"]["user"]
        for field in ("id", "name", "email", "avatar"):
            if field in user:
                self.assertIsInstance(user[field], str, f"context.user.{field} must be a string: {user}")
        self.assertIsInstance(user.get("id"), str)
        self.assertIsInstance(user.get("name"), str)
        return user

    def test_jitsi_hs256_claims(self):
        session, grants = self.grants("jitsi")
        room = session["room"]
        for pid, (grant, before, after) in grants.items():
            token = grant["token"]
            header = jwt.get_unverified_header(token)
            self.assertEqual(header.get("alg"), "HS256", header)
            claims = jwt.decode(token, self.daemon.app_secret, algorithms=["HS256"], audience="jitsi",
                                issuer=JITSI_APP_ID, options={"require": ["exp", "nbf", "aud", "iss", "sub", "room"]})
            self.assertIsInstance(claims["aud"], str, "aud must be a single string")
            self.assertEqual(claims["sub"], JITSI_DOMAIN)
            self.assertEqual(claims["room"], room)
            self.assertEqual(claims["room"], claims["room"].lower())
            self.assertEqual(grant["room"], room)
            self.assertEqual(grant["join_url"], f"https://{JITSI_DOMAIN}/{room}?jwt={token}")
            user = self.check_common(claims, header, grant, before, after)
            self.assertEqual(user["id"], pid)
            if pid == "dr-house":
                self.assertEqual(user["name"], "Dr. Gregory House")
                self.assertEqual(user.get("email"), "house@example.org")
                self.assertIn(user.get("moderator"), ("true", True), user)
                self.assertEqual(user.get("affiliation"), "owner", user)
            else:
                self.assertIn(user.get("moderator", "false"), ("false", False), f"{pid} must not be moderator: {user}")
                self.assertNotIn(user.get("affiliation"), ("owner", "moderator"), user)
            # The signature really depends on the secret.
            with self.assertRaises(jwt.InvalidSignatureError):
                jwt.decode(token, "x" * 64, algorithms=["HS256"], audience="jitsi")
        # Each participant's token names that participant only.
        self.assertEqual(len({g[0]["token"] for g in grants.values()}), 3)

    def test_jaas_rs256_claims(self):
        session, grants = self.grants("jaas")
        room = session["room"]
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        for pid, (grant, before, after) in grants.items():
            token = grant["token"]
            header = jwt.get_unverified_header(token)
            self.assertEqual(header.get("alg"), "RS256", header)
            self.assertEqual(header.get("kid"), f"{JAAS_APP_ID}/{JAAS_KEY_ID}", header)
            claims = jwt.decode(token, self.daemon.jaas_public_pem, algorithms=["RS256"], audience="jitsi",
                                issuer="chat", options={"require": ["exp", "nbf", "aud", "iss", "sub", "room"]})
            self.assertEqual(claims["aud"], "jitsi")
            self.assertEqual(claims["iss"], "chat")
            self.assertEqual(claims["sub"], JAAS_APP_ID)
            self.assertIn(claims["room"], (room, "*"), claims)
            user = self.check_common(claims, header, grant, before, after)
            self.assertEqual(user["id"], pid)
            self.assertIn("moderator", user, user)
            self.assertEqual(user["moderator"], "true" if pid == "dr-house" else "false", user)
            features = claims["context"].get("features", {})
            for name, value in features.items():
                self.assertIn(value, ("true", "false"), f"feature {name} must be the string true/false: {features}")
            self.assertEqual(grant["join_url"], f"https://8x8.vc/{JAAS_APP_ID}/{room}?jwt={token}")
            with self.assertRaises(jwt.InvalidSignatureError):
                jwt.decode(token, other_key, algorithms=["RS256"], audience="jitsi")
            # An HS256 verifier must not accept it (no algorithm confusion).
            with self.assertRaises(jwt.InvalidTokenError):
                jwt.decode(token, self.daemon.app_secret, algorithms=["HS256"], audience="jitsi")


if __name__ == "__main__":
    harness.main()
