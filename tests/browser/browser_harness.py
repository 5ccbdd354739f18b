"""Runs a browser spec (a Node script using playwright-core and Debian's
chromium) against a daemon started by tests/integration/harness.py.

    d = Daemon(self, config=...).start()
    run_node_spec(self, HERE / "admin.spec.mjs", {"CONSULTD_API_KEY": key}, daemon=d)

The spec gets CONSULTD_URL (the daemon's base URL), CONSULTD_ARTIFACTS_DIR
(build/browser-artifacts/<spec>, kept after the run: screenshots live there)
and the caller's variables. It runs in its own process group, which is
killed on timeout or failure, so no Chromium outlives the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from harness import BUILD_DIR, Daemon  # noqa: E402

NODE = shutil.which("node") or "/usr/bin/node"
CHROMIUM = os.environ.get("CONSULTD_CHROMIUM", "/usr/bin/chromium")


def require_browser(test: unittest.TestCase) -> None:
    """Fails (never skips) when the browser or the npm dependencies are missing:
    scripts/setup.sh installs both, so a missing one is a broken setup."""
    if not Path(CHROMIUM).exists():
        test.fail(f"{CHROMIUM} missing: run scripts/setup.sh (Debian package chromium)")
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        test.fail("tests/browser/node_modules/playwright-core missing: run scripts/setup.sh (npm ci)")


def artifacts_dir(name: str) -> Path:
    path = Path(BUILD_DIR) / "browser-artifacts" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_node_spec(test: unittest.TestCase, spec: Path, env: dict | None = None, daemon: Daemon | None = None,
                  timeout: float = 240) -> str:
    require_browser(test)
    full_env = dict(os.environ)
    full_env.update({
        "CONSULTD_ARTIFACTS_DIR": str(artifacts_dir(Path(spec).stem.replace(".spec", ""))),
        "CONSULTD_CHROMIUM": CHROMIUM,
        "NODE_PATH": str(HERE / "node_modules"),
    })
    if daemon is not None:
        full_env["CONSULTD_URL"] = f"{daemon.scheme}://127.0.0.1:{daemon.port}"
    full_env.update(env or {})
    proc = subprocess.Popen([NODE, str(spec)], cwd=str(HERE), env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        test.fail(f"{spec.name} timed out after {timeout:.0f} s:\n{output}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any Chromium left behind
        except ProcessLookupError:
            pass
    print(output)
    test.assertEqual(proc.returncode, 0, f"{spec.name} failed:\n{output}")
    return output
