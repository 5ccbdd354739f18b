"""SIGHUP reload: a valid change of a reloadable setting takes effect without
a restart; an invalid file (syntax error, unknown setting, bad value) is
rejected with a logged reason and the daemon keeps serving on the old config."""

import signal

import harness
from harness import ApiTestCase, Daemon, session_body

RELOADED = r"<5>consultd: configuration reloaded"
REJECTED = r"<3>consultd: reload rejected"


class SighupReloadTest(ApiTestCase):
    def setUp(self):
        self.daemon = Daemon(self, name="sighup", jaas=False, config={"security": {"token_rate_per_minute": 2}})
        self.key = self.daemon.create_api_key("admin")
        self.daemon.start()
        self.pid = self.daemon.proc.pid
        self.reloads = 0
        self.rejections = 0

    def api(self, method, path, body=None):
        return self.daemon.request(method, "/api/v1" + path, body, key=self.key)

    def grants_in_a_row(self, n):
        """Issues up to n grants to a fresh participant; returns how many succeeded before a 429."""
        body = session_body(participants=[{"id": "fresh", "name": "Fresh", "role": "patient"}])
        sid = self.assertStatus(self.api("POST", "/sessions", body), 201).json()["id"]
        for i in range(n):
            r = self.api("POST", f"/sessions/{sid}/token", {"participant_id": "fresh"})
            if r.status == 429:
                return i
            self.assertStatus(r, 200)
        return n

    def hup(self, expect):
        self.daemon.signal(signal.SIGHUP)
        if expect == "reloaded":
            self.reloads += 1
            self.daemon.wait_for_log(RELOADED, count=self.reloads)
        else:
            self.rejections += 1
            self.daemon.wait_for_log(REJECTED, count=self.rejections)
        self.assertIsNone(self.daemon.proc.poll(), "the daemon exited on SIGHUP")
        self.assertEqual(self.daemon.proc.pid, self.pid)
        self.assertStatus(self.daemon.request("GET", "/healthz"), 200)

    def test_valid_change_takes_effect(self):
        self.assertEqual(self.grants_in_a_row(4), 2, "token_rate_per_minute = 2 is not in effect at start")
        self.daemon.update_config({"security": {"token_rate_per_minute": 6}})
        self.hup("reloaded")
        self.assertEqual(self.grants_in_a_row(8), 6, "the reloaded token_rate_per_minute = 6 is not in effect")
        self.assertEqual(self.daemon.log_count(REJECTED), 0)

    def test_invalid_files_are_rejected_and_old_config_kept(self):
        good = dict(self.daemon.config)
        self.daemon.update_config({"security": {"token_rate_per_minute": 5}})
        self.hup("reloaded")
        self.assertEqual(self.grants_in_a_row(7), 5)

        cases = [
            ("syntax error", lambda: self.daemon.write_config(
                text='security = { token_rate_per_minute = 1 \n server = {;\n'),
             r"<3>consultd: config: .*consultd\.conf:\d+: syntax error"),
            ("unknown setting", lambda: self.daemon.update_config(
                {"security": {"token_rate_per_minute": 1, "token_rate_per_minutes": 1}}),
             r"<3>consultd: config: .*consultd\.conf:\d+: security\.token_rate_per_minutes: unknown setting"),
            ("out of range", lambda: self.daemon.update_config({"security": {"token_rate_per_minute": 0}}),
             r"<3>consultd: config: .*consultd\.conf:\d+: security\.token_rate_per_minute: .*range"),
            ("wrong type", lambda: self.daemon.update_config({"security": {"token_rate_per_minute": "1"}}),
             r"<3>consultd: config: .*consultd\.conf:\d+: security\.token_rate_per_minute: expected an integer"),
            ("missing secret", lambda: self.daemon.update_config(
                {"security": {"token_rate_per_minute": 1},
                 "providers": {"jitsi": {"app_secret_file": "secrets/gone"}}}),
             r"<3>consultd: config: .*providers\.jitsi\.app_secret_file: cannot read secret file"),
        ]
        for name, write, reason in cases:
            with self.subTest(name):
                self.daemon.write_config(good)
                self.daemon.update_config({"security": {"token_rate_per_minute": 5}})
                before = self.daemon.log_count(reason)
                write()
                self.hup("rejected")
                self.assertGreater(self.daemon.log_count(reason), before,
                                   f"no logged reason matching /{reason}/:\n{self.daemon.stderr_text()[-2000:]}")
                # Still serving, still on the previous value (5), not the new file's 1.
                self.assertEqual(self.grants_in_a_row(7), 5, f"after a rejected reload ({name})")

        # A valid file afterwards is accepted again.
        self.daemon.write_config(good)
        self.daemon.update_config({"security": {"token_rate_per_minute": 3}})
        self.hup("reloaded")
        self.assertEqual(self.grants_in_a_row(5), 3)

    def test_setting_needing_restart_keeps_running_value(self):
        self.daemon.update_config({"server": {"threads": 8}, "security": {"token_rate_per_minute": 4}})
        self.hup("reloaded")
        self.daemon.wait_for_log(r"<4>consultd: reload: changed settings need a restart.*server\.threads")
        self.assertEqual(self.grants_in_a_row(6), 4)


    def test_body_limit_is_reloadable(self):
        self.daemon.update_config({"server": {"max_body_bytes": 2048}})
        self.hup("reloaded")
        big = session_body(metadata={"notes": "x" * 3000})
        r = self.api("POST", "/sessions", big)
        self.assertStatus(r, 413, "PAYLOAD_TOO_LARGE")
        self.daemon.update_config({"server": {"max_body_bytes": 65536}})
        self.hup("reloaded")
        self.assertStatus(self.api("POST", "/sessions", big), 201)


    def test_log_level_is_reloadable(self):
        # The harness starts at debug: each request logs a <7>http: line.
        self.assertStatus(self.daemon.request("GET", "/api/v1/sessions", key=self.key), 200)
        self.daemon.wait_for_log(r"<7>http: GET /api/v1/sessions 200")
        # notice, not warning: "configuration reloaded" (a notice, logged after
        # the new level is set) must stay visible to tell the reload is done.
        self.daemon.update_config({"logging": {"level": "notice"}})
        self.hup("reloaded")
        mark = len(self.daemon.stderr_text())
        for _ in range(3):
            self.assertStatus(self.daemon.request("GET", "/api/v1/sessions", key=self.key), 200)
        self.assertStatus(self.daemon.request("GET", "/api/v1/sessions/ses_missing", key=self.key), 404)
        after = self.daemon.stderr_text()[mark:]
        self.assertNotRegex(after, r"<[67]>", f"info/debug lines after reloading to notice:\n{after}")


if __name__ == "__main__":
    harness.main()
