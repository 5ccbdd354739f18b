"""The daemon the join and kiosk browser tests run against: the native webrtc
provider as default and the embedded TURN relay on 127.0.0.1 with
ice_transport_policy "relay", so every media packet between the browsers
crosses the relay (loopback peers allowed: a test-only setting)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent / "integration"))

import harness  # noqa: E402
from browser_harness import Daemon  # noqa: E402

REPO = HERE.parent.parent.parent


def call_daemon(test, name: str) -> Daemon:
    config = {
        "providers": {"default": "webrtc", "webrtc": {"enabled": True, "ice_transport_policy": "relay"}},
        "turn": {"mode": "embedded", "secret_file": "secrets/turn_secret", "listen_address": "127.0.0.1",
                 "udp_port": 0, "tcp_port": 0, "relay_address": "127.0.0.1", "allow_loopback_peers": True,
                 "credential_ttl_seconds": 600},
        "security": {"token_rate_per_minute": 1000},
        "logging": {"level": "info"},
    }
    d = Daemon(test, jaas=False, name=name, config=config)
    harness.write_secret(d.secrets_dir / "turn_secret", "turn-shared-secret-browser-0123456789\n")
    return d


def create_session(d: Daemon, key: str, **extra) -> dict:
    body = {"consultation_id": f"browser-{name_suffix()}", "mode": "video",
            "host": {"id": "dr-house", "name": "Dr. House"},
            "participants": [{"id": "pat-1", "name": "Pat Patient", "role": "patient"}]}
    body.update(extra)
    r = d.request("POST", "/api/v1/sessions", body, key=key)
    assert r.status == 201, r.describe()
    return r.json()


def invite(d: Daemon, key: str, session_id: str, participant: str) -> str:
    r = d.request("POST", f"/api/v1/sessions/{session_id}/invites", {"participant_id": participant}, key=key)
    assert r.status == 201, r.describe()
    url = r.json()["invite_url"]
    d.issued_secrets.append(url.rsplit("/", 1)[1])
    return url


def turn_bytes(d: Daemon, key: str) -> int:
    text = d.request("GET", "/metrics", key=key).text
    m = re.search(r"^consultd_turn_relayed_bytes_from_clients_total (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


_counter = 0


def name_suffix() -> str:
    global _counter
    _counter += 1
    import os
    import time
    return f"{os.getpid()}-{int(time.time() * 1000)}-{_counter}"


def publish_screenshot(artifact: Path, name: str) -> None:
    """Copies an artifact screenshot to docs/screenshots/ when asked
    (CONSULTD_UPDATE_SCREENSHOTS=1), so the committed copies are refreshed on purpose only."""
    import os
    import shutil
    if os.environ.get("CONSULTD_UPDATE_SCREENSHOTS") == "1" and artifact.exists():
        target = REPO / "docs" / "screenshots" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifact, target)
