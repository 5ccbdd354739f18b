#!/usr/bin/python3
"""Log lines carry the request id and the session id (issue 7, item 5): an
operator greps journalctl for either and finds every line of that API call or
consultation, at the level journald was given."""

import re

from harness import ApiTestCase, Daemon, main, session_body


class LogContextTest(ApiTestCase):
    def test_lines_name_request_and_session(self):
        d = Daemon(self, name="logctx").start()
        key = d.create_api_key("admin")
        created = self.assertStatus(d.request("POST", "/api/v1/sessions", session_body(), key=key), 201)
        sid = created.json()["id"]
        rid = created.headers["x-request-id"]
        line = d.wait_for_log(r"(?m)^<6>sessions: session %s created.*$" % re.escape(sid))
        self.assertIn(" request_id=%s" % rid, line.group(0))
        self.assertIn(" session_id=%s" % sid, line.group(0))

        # An upstream proxy's id is kept and shows up in the lines of that call.
        trace = "it-trace-0123456789"
        self.assertStatus(d.request("POST", "/api/v1/sessions/%s/start" % sid, {}, key=key,
                                    headers={"X-Request-Id": trace}), 200)
        line = d.wait_for_log(r"(?m)^<6>sessions: session %s started.*$" % re.escape(sid))
        self.assertIn(" request_id=%s" % trace, line.group(0))
        self.assertIn(" session_id=%s" % sid, line.group(0))
        # The debug access line of the same call.
        access = d.wait_for_log(r"(?m)^<7>http: POST /api/v1/sessions/\{id\}/start 200 \d+us.*$")
        self.assertIn(" request_id=%s" % trace, access.group(0))
        self.assertIn(" session_id=%s" % sid, access.group(0))

        # A hostile id in the path never reaches the log as a session id.
        d.request("GET", "/api/v1/sessions/%3Cscript%3E%20x", key=key)
        self.assertNotRegex(d.stderr_text(), r"session_id=<script>")
        # Context does not leak into the next request on the same worker thread.
        self.assertStatus(d.request("GET", "/api/v1/providers", key=key), 200)
        providers = d.wait_for_log(r"(?m)^<7>http: GET /api/v1/providers 200 .*$")
        self.assertNotIn("session_id=", providers.group(0))


if __name__ == "__main__":
    main()
