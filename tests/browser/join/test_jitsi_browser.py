#!/usr/bin/python3
"""browser_join_jitsi: a Jitsi session on the join page embeds external_api.js
from the configured domain (the page's CSP allows exactly that origin) with the
grant's room and JWT; the JWT the page handed to the API verifies with PyJWT
against the app secret (moderator false for a patient). The provider's script is
a stand-in served by the test: there is no Jitsi server offline."""

import json
import re
import sys
import unittest
from pathlib import Path

import jwt  # Debian: python3-jwt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calldaemon import invite  # noqa: E402  (puts harness on the path)
import harness  # noqa: E402
from browser_harness import Daemon, run_node_spec  # noqa: E402


class JitsiBrowserTest(unittest.TestCase):
    def test_join_page_embeds_jitsi_with_the_grant(self):
        d = Daemon(self, name="browser-jitsi", jaas=False).start()
        key = d.create_api_key("admin")
        r = d.request("POST", "/api/v1/sessions", {
            "consultation_id": "jitsi-browser", "provider": "jitsi", "mode": "video",
            "host": {"id": "dr-house", "name": "Dr. House"},
            "participants": [{"id": "pat-1", "name": "Pat Patient", "role": "patient"}]}, key=key)
        self.assertEqual(r.status, 201, r.describe())
        link = invite(d, key, r.json()["id"], "pat-1")
        out = run_node_spec(self, HERE / "jitsi.spec.mjs", {"JITSI_INVITE": link, "JITSI_DOMAIN": harness.JITSI_DOMAIN},
                            daemon=d, timeout=120)
        seen = json.loads(re.search(r"^JITSI_SEEN (.*)$", out, re.M).group(1))
        claims = jwt.decode(seen["jwt"], d.app_secret, algorithms=["HS256"], audience="jitsi", issuer=harness.JITSI_APP_ID)
        self.assertEqual(claims["room"], seen["roomName"])
        self.assertEqual(claims["context"]["user"]["id"], "pat-1")
        self.assertEqual(claims["context"]["user"]["moderator"], "false")
        self.assertNotIn(seen["jwt"], d.stderr_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
