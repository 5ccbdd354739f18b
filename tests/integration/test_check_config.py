"""consultd --check-config: exit 0 on a valid file; non-zero with
"file:line: setting: problem" on stderr for each error; conf.d/*.conf read in
name order (later wins); a warning for a secret file others can read."""

import os
import re
import shutil
import tempfile
import unittest
from pathlib import Path

import harness
from harness import BIN, PLUGIN_DIR, write_secret

# Plain lines for a person at a terminal ("file:line: setting: problem",
# "warning: file:line: ..."); the daemon's journal form ("<3>consultd: config:
# file:line: ...") is accepted as well.
ERROR_LINE = re.compile(r"^(?:<3>[\w.]+: config: )?(?P<file>/[^:]+):(?P<line>\d+): (?P<setting>[a-z_.]+): "
                        r"(?P<problem>.+)$")
WARNING_LINE = re.compile(r"^(?:<4>[\w.]+: config: |warning: )(?P<file>/[^:]+):(?P<line>\d+): "
                          r"(?P<setting>[a-z_.]+): (?P<problem>.+)$")

# Line numbers matter: the tests below point at lines of this text.
VALID = """\
server = {
  listen_address = "127.0.0.1";
  port = 0;
};
storage = {
  state_dir = "state";
};
security = {
  token_rate_per_minute = 10;
};
providers = {
  plugin_dir = "@PLUGIN_DIR@";
  default = "jitsi";
  jitsi = {
    enabled = true;
    domain = "meet.example.org";
    app_id = "consultd-it";
    app_secret_file = "secrets/jitsi_app_secret";
  };
};
turn = {
  mode = "off";
};
"""


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="consultd-checkcfg-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.conf = self.dir / "consultd.conf"
        write_secret(self.dir / "secrets" / "jitsi_app_secret", "s" * 48 + "\n")

    def write(self, text=VALID, path=None, replace=None):
        text = text.replace("@PLUGIN_DIR@", str(PLUGIN_DIR))
        for old, new in (replace or {}).items():
            self.assertIn(old, text)
            text = text.replace(old, new)
        target = path or self.conf
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def check(self):
        import subprocess
        return subprocess.run([str(BIN), "--check-config", "--config", str(self.conf)], capture_output=True,
                              text=True, timeout=60, preexec_fn=harness._die_with_parent)

    def errors(self, proc):
        return [m.groupdict() for m in map(ERROR_LINE.match, proc.stderr.splitlines()) if m]

    def assertInvalid(self, file, line, setting, problem_regex):
        proc = self.check()
        self.assertNotEqual(proc.returncode, 0, f"accepted an invalid config:\n{proc.stdout}{proc.stderr}")
        errors = self.errors(proc)
        self.assertTrue(errors, f"no 'file:line: setting: problem' line on stderr:\n{proc.stderr}")
        want = [e for e in errors if e["file"] == str(file) and e["line"] == str(line) and e["setting"] == setting]
        self.assertTrue(want, f"expected {file}:{line}: {setting}: ... in:\n{proc.stderr}")
        self.assertRegex(want[0]["problem"], problem_regex, proc.stderr)
        return proc

    def test_valid(self):
        self.write()
        proc = self.check()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("valid", proc.stdout)
        self.assertEqual(self.errors(proc), [])
        self.assertEqual(proc.stderr.strip(), "", "a valid file printed errors or warnings")

    def test_unknown_setting_typo(self):
        self.write(replace={"token_rate_per_minute = 10;": "token_rate_per_minut = 10;"})
        self.assertInvalid(self.conf, 9, "security.token_rate_per_minut", r"unknown setting")

    def test_unknown_provider_setting_typo(self):
        self.write(replace={'app_id = "consultd-it";': 'appid = "consultd-it";'})
        proc = self.assertInvalid(self.conf, 17, "providers.jitsi.appid", r"unknown setting")
        # And the now-missing required app_id is named too.
        self.assertIn("providers.jitsi.app_id", proc.stderr)

    def test_unknown_group(self):
        self.write(VALID + "srever = {\n  port = 1;\n};\n")
        self.assertInvalid(self.conf, 24, "srever", r"unknown group")

    def test_wrong_type(self):
        self.write(replace={"port = 0;": 'port = "8080";'})
        self.assertInvalid(self.conf, 3, "server.port", r"expected an integer")

    def test_wrong_type_bool(self):
        self.write(replace={"enabled = true;": 'enabled = "yes";'})
        self.assertInvalid(self.conf, 15, "providers.jitsi.enabled", r"boolean")

    def test_out_of_range(self):
        self.write(replace={"port = 0;": "port = 70000;"})
        self.assertInvalid(self.conf, 3, "server.port", r"70000.*range|range.*70000")

    def test_value_not_allowed(self):
        self.write(replace={'mode = "off";': 'mode = "sometimes";'})
        self.assertInvalid(self.conf, 22, "turn.mode", r"sometimes")

    def test_missing_secret_file(self):
        self.write(replace={"secrets/jitsi_app_secret": "secrets/no_such_file"})
        proc = self.assertInvalid(self.conf, 18, "providers.jitsi.app_secret_file", r"no_such_file")
        self.assertIn(str(self.dir / "secrets" / "no_such_file"), proc.stderr, "the resolved path is not named")

    def test_every_error_is_reported(self):
        self.write(replace={"port = 0;": "port = -1;", "token_rate_per_minute = 10;": "token_rate = 10;"})
        proc = self.check()
        self.assertNotEqual(proc.returncode, 0)
        settings = {e["setting"] for e in self.errors(proc)}
        self.assertIn("server.port", settings, proc.stderr)
        self.assertIn("security.token_rate", settings, proc.stderr)

    def test_syntax_error(self):
        self.write(replace={"port = 0;": "port = = 0;"})
        proc = self.check()
        self.assertNotEqual(proc.returncode, 0)
        self.assertRegex(proc.stderr, re.escape(str(self.conf)) + r":\d+: .*syntax error", proc.stderr)

    def test_conf_d_later_file_wins(self):
        self.write()
        confd = self.dir / "conf.d"
        # 10 sets an invalid value, 20 overrides it: valid overall.
        self.write("security = {\n  token_rate_per_minute = 0;\n};\n", confd / "10-first.conf")
        self.write("security = {\n  token_rate_per_minute = 20;\n};\n", confd / "20-second.conf")
        # Not *.conf: never read, even though it is garbage.
        self.write("this is { not libconfig", confd / "30-disabled.conf.bak")
        proc = self.check()
        self.assertEqual(proc.returncode, 0, f"later conf.d file did not override the earlier one:\n{proc.stderr}")

        # Swap the values: now the later (invalid) one wins and is named.
        self.write("security = {\n  token_rate_per_minute = 20;\n};\n", confd / "10-first.conf")
        self.write("security = {\n\n  token_rate_per_minute = 0;\n};\n", confd / "20-second.conf")
        self.assertInvalid(confd / "20-second.conf", 3, "security.token_rate_per_minute", r"range")

        # conf.d beats the main file.
        (confd / "20-second.conf").unlink()
        self.write("server = {\n  port = 99999;\n};\n", confd / "05-port.conf")
        self.assertInvalid(confd / "05-port.conf", 2, "server.port", r"range")

    def test_conf_d_unknown_setting_named_in_its_file(self):
        self.write()
        confd = self.dir / "conf.d"
        self.write("providers = {\n  jitsi = {\n    token_ttl = 60;\n  };\n};\n", confd / "50-jitsi.conf")
        self.assertInvalid(confd / "50-jitsi.conf", 3, "providers.jitsi.token_ttl", r"unknown setting")

    def test_enabled_provider_without_plugin(self):
        self.write(replace={"  };\n};\nturn": "  };\n  acmevideo = {\n    enabled = true;\n  };\n};\nturn"})
        proc = self.check()
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        errors = [e for e in self.errors(proc) if e["setting"].startswith("providers.acmevideo")]
        self.assertTrue(errors, proc.stderr)
        self.assertEqual(errors[0]["file"], str(self.conf))
        self.assertIn(errors[0]["line"], ("20", "21"), proc.stderr)
        self.assertRegex(errors[0]["problem"], r"no plugin", proc.stderr)

    def test_disabled_provider_without_plugin_is_fine(self):
        self.write(replace={"  };\n};\nturn": "  };\n  acmevideo = {\n    enabled = false;\n    region = \"eu\";\n  };\n};\nturn"})
        proc = self.check()
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_world_readable_secret_warns(self):
        self.write()
        os.chmod(self.dir / "secrets" / "jitsi_app_secret", 0o644)
        proc = self.check()
        self.assertEqual(proc.returncode, 0, f"a readable secret is a warning, not an error:\n{proc.stderr}")
        warnings = [m.groupdict() for m in map(WARNING_LINE.match, proc.stderr.splitlines()) if m]
        match = [w for w in warnings if w["setting"] == "providers.jitsi.app_secret_file"]
        self.assertTrue(match, f"no warning for a world-readable secret:\n{proc.stderr}")
        self.assertEqual(match[0]["file"], str(self.conf))
        self.assertEqual(match[0]["line"], "18")
        self.assertRegex(match[0]["problem"], r"readable")
        # The secret itself is never printed.
        self.assertNotIn("s" * 48, proc.stderr + proc.stdout)

    def start_daemon_with_short_secret(self):
        import subprocess
        write_secret(self.dir / "secrets" / "jitsi_app_secret", "short\n")
        self.write()
        start = subprocess.run([str(BIN), "--config", str(self.conf)], capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL, preexec_fn=harness._die_with_parent)
        self.assertNotEqual(start.returncode, 0, "the daemon started with a 5-byte HS256 secret")
        self.assertIn("32 bytes", start.stderr)
        return start

    def test_provider_setting_error_at_start_names_file_line_setting(self):
        # A problem the provider finds in its own settings (SettingError from
        # create()) is reported like every other config error.
        start = self.start_daemon_with_short_secret()
        self.assertIn(f"{self.conf}:18: providers.jitsi.app_secret_file:", start.stderr,
                      "the start-time provider error lacks file:line: providers.jitsi.<setting>")

    def test_check_config_refuses_what_the_start_refuses(self):
        # A secret the provider cannot use (HS256 needs >= 32 bytes) fails the
        # start; --check-config must fail on it too, or a restart after a
        # "valid" check takes the service down.
        self.start_daemon_with_short_secret()
        self.assertInvalid(self.conf, 18, "providers.jitsi.app_secret_file", r"32")


    def test_check_config_refuses_plaintext_on_non_loopback(self):
        # The daemon refuses this at start (test_tls); the check must say so
        # too, naming the setting. 192.0.2.10 (TEST-NET-1) is never bound here.
        self.write(replace={'listen_address = "127.0.0.1";': 'listen_address = "192.0.2.10";'})
        self.assertInvalid(self.conf, 2, "server.listen_address", r"allow_plaintext|tls")

    def test_check_config_refuses_missing_tls_certificate(self):
        # tls = true with a certificate file that does not exist: the start
        # fails ("server.tls_cert_file: cannot read ..."), so must the check.
        write_secret(self.dir / "secrets" / "server.key", "not a key\n")
        self.write(replace={"port = 0;": 'port = 0;\n  tls = true;\n  tls_cert_file = "tls/missing.crt";\n'
                                         '  tls_key_file = "secrets/server.key";'})
        self.assertInvalid(self.conf, 5, "server.tls_cert_file", r"missing\.crt")


if __name__ == "__main__":
    harness.main()
