"""The built daemon with the fixture plugins of this folder in its plugin
folder (beside the real jitsi.so): a plugin built against another API version,
one missing consultd_plugin_module, or one whose factory fails makes the daemon
refuse to start, naming the file; --check-config fails the same way for the
first two. The good fixture plugin loads and serves through the API.

usage: daemon_refuses_bad_plugins.py WRONG_API.so NO_MODULE.so THROWING.so GOOD.so
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(os.environ.get("CONSULTD_SOURCE_DIR", Path(__file__).resolve().parents[3]))
                       / "tests" / "integration"))
import harness  # noqa: E402
from harness import ApiTestCase, Daemon, PLUGIN_DIR, session_body  # noqa: E402

if len(sys.argv) < 5:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
WRONG_API, NO_MODULE, THROWING, GOOD = (Path(p) for p in sys.argv[1:5])
del sys.argv[1:5]  # the rest is for unittest


class DaemonRefusesBadPluginsTest(ApiTestCase):
    def daemon_with(self, plugin, providers=None):
        d = Daemon(self, name="plugins", jaas=False)
        plugin_dir = d.tmp / "plugins"
        plugin_dir.mkdir()
        (plugin_dir / "jitsi.so").symlink_to(PLUGIN_DIR / "jitsi.so")
        target = plugin_dir / plugin.name
        target.symlink_to(plugin)
        d.update_config({"providers": {"plugin_dir": str(plugin_dir), **(providers or {})}})
        return d, target

    def assertRefusesToStart(self, d, *needles):
        d.spawn()
        code = d.wait_exit(harness.START_DEADLINE)
        self.assertIsNotNone(code, "the daemon is running with a bad plugin")
        self.assertNotEqual(code, 0)
        err = d.stderr_text()
        self.assertNotIn("listening on", err)
        self.assertIn("<3>", err, "no error-level log line")
        for needle in needles:
            self.assertIn(str(needle), err)
        return err

    def assertCheckConfigFails(self, d, *needles):
        proc = d.check_config()
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        for needle in needles:
            self.assertIn(str(needle), proc.stderr)

    def test_wrong_api_version(self):
        d, so = self.daemon_with(WRONG_API)
        err = self.assertRefusesToStart(d, so, "built against plugin API")
        self.assertRegex(err, r"built against plugin API (\d+), this daemon provides (?!\1)\d+")
        self.assertCheckConfigFails(d, so, "built against plugin API")

    def test_missing_module_symbol(self):
        d, so = self.daemon_with(NO_MODULE)
        self.assertRefusesToStart(d, so, "consultd_plugin_module")
        self.assertCheckConfigFails(d, so, "consultd_plugin_module")

    def test_factory_setting_error(self):
        d, so = self.daemon_with(THROWING, {"itest_throw": {"enabled": True, "mode": "weird"}})
        self.assertRefusesToStart(d, "providers.itest_throw", '"weird" is not supported by this plugin')

    def test_factory_failure_names_the_file(self):
        d, so = self.daemon_with(THROWING, {"itest_fail": {"enabled": True}})
        self.assertRefusesToStart(d, so, "itest_fail", "upstream handshake failed (test)")

    def test_throwing_plugin_disabled_is_harmless(self):
        # Loaded but not enabled: its factories are never called.
        d, _ = self.daemon_with(THROWING)
        d.start()
        self.assertEqual(d.stop(), 0)

    def test_good_plugin_serves_through_the_api(self):
        d, so = self.daemon_with(GOOD, {"itest": {"enabled": True, "greeting": "bonjour"}})
        key = d.create_api_key("admin")
        d.start()
        providers = {p["name"]: p for p in d.request("GET", "/api/v1/providers", key=key).json()["providers"]}
        self.assertEqual(set(providers), {"jitsi", "itest"})
        self.assertEqual(providers["itest"]["module"], "good_plugin")
        self.assertEqual(providers["itest"]["version"], "9.9.9")
        self.assertEqual(providers["itest"]["health"]["state"], "degraded")
        self.assertTrue(providers["itest"]["capabilities"]["video"])
        self.assertFalse(providers["itest"]["capabilities"]["recording"])
        r = d.request("POST", "/api/v1/sessions", session_body(provider="itest"), key=key)
        self.assertStatus(r, 201)
        sid = r.json()["id"]
        g = self.assertStatus(d.request("POST", f"/api/v1/sessions/{sid}/token", {"participant_id": "pat-1"}, key=key),
                              200).json()
        self.assertEqual(g["provider"], "itest")
        self.assertEqual(g["token"], "bonjour:pat-1:5")
        self.assertEqual(g["client"], {"role": "patient"})
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    harness.main()
