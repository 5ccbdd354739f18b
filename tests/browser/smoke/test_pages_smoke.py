#!/usr/bin/python3
"""The pages load in Debian's Chromium under the daemon's real CSP."""

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from browser_harness import Daemon, run_node_spec  # noqa: E402


class PagesSmokeTest(unittest.TestCase):
    def test_pages_load_without_csp_violations(self):
        d = Daemon(self, name="browser-smoke").start()
        run_node_spec(self, HERE / "pages.spec.mjs", daemon=d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
