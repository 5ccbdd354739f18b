"""WebSocket signaling client helpers for the it_signal_* tests (python3-websockets 10).

Every wait has a deadline; nothing sleeps for a fixed time except the short
`quiet()` window that shows a message was NOT delivered, and that is always
paired with a positive marker message that proves the path was live."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import harness  # noqa: E402
import websockets  # noqa: E402  (Debian: python3-websockets)

DEADLINE = 15.0


def webrtc_daemon(test, name: str, config: dict | None = None) -> harness.Daemon:
    """A daemon with the webrtc provider as default and the embedded TURN relay on loopback."""
    base = {
        "providers": {"default": "webrtc", "webrtc": {"enabled": True}},
        "turn": {"mode": "embedded", "secret_file": "secrets/turn_secret", "listen_address": "127.0.0.1",
                 "udp_port": 0, "tcp_port": 0, "relay_address": "127.0.0.1", "credential_ttl_seconds": 600},
        "security": {"token_rate_per_minute": 1000},
    }
    d = harness.Daemon(test, jaas=False, name=name, config=harness.deep_merge(base, config or {}))
    harness.write_secret(d.secrets_dir / "turn_secret", "turn-shared-secret-0123456789abcdef\n")
    return d


class Peer:
    """One signaling connection; keeps every message it received, in order."""

    def __init__(self, ws, name: str):
        self.ws = ws
        self.name = name
        self.received: list[dict] = []
        self._cursor = 0

    @classmethod
    async def connect(cls, daemon: harness.Daemon, name: str, origin: str | None = None, **kw) -> "Peer":
        scheme = "wss" if daemon.scheme == "https" else "ws"
        url = f"{scheme}://127.0.0.1:{daemon.port}/api/v1/signal"
        if scheme == "wss":
            kw.setdefault("ssl", daemon.ssl_context)
        ws = await asyncio.wait_for(websockets.connect(url, origin=origin, max_size=4 * 1024 * 1024,
                                                       ping_interval=None, **kw), DEADLINE)
        return cls(ws, name)

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def _next(self, deadline: float) -> dict:
        raw = await asyncio.wait_for(self.ws.recv(), deadline)
        msg = json.loads(raw)
        self.received.append(msg)
        return msg

    async def expect(self, type_: str, deadline: float = DEADLINE, **match) -> dict:
        """The next not-yet-consumed message of `type_` (and fields `match`)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while True:
            for i in range(self._cursor, len(self.received)):
                m = self.received[i]
                if m.get("type") == type_ and all(m.get(k) == v for k, v in match.items()):
                    self.received[i] = {"type": "__consumed__", "was": m}
                    return m
            remaining = end - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no {type_} {match} within {deadline} s; got {self.received}")
            try:
                await self._next(remaining)
            except asyncio.TimeoutError:
                continue

    async def drain(self) -> None:
        """Takes in every message the client library has buffered, without
        waiting: a peer that sends a lot must keep reading too, or the
        daemon rightly closes it as a slow consumer."""
        while self.ws.messages:
            await self._next(1.0)

    def seen(self, type_: str) -> list[dict]:
        out = []
        for m in self.received:
            if m.get("type") == type_:
                out.append(m)
            elif m.get("type") == "__consumed__" and m["was"].get("type") == type_:
                out.append(m["was"])
        return out

    async def join(self, token: str, **extra) -> dict:
        await self.send({"type": "join", "token": token, **extra})
        return await self.expect("joined")

    async def closed(self, deadline: float = DEADLINE) -> int:
        """Reads until the server closes; returns the close code."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        try:
            while True:
                remaining = end - loop.time()
                if remaining <= 0:
                    raise AssertionError(f"{self.name}: not closed within {deadline} s")
                await self._next(remaining)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd is not None else 1006

    async def close(self) -> None:
        await self.ws.close()


def grant(daemon: harness.Daemon, key: str, session_id: str, participant: str) -> dict:
    r = daemon.request("POST", f"/api/v1/sessions/{session_id}/token", {"participant_id": participant}, key=key)
    assert r.status == 200, r.describe()
    return r.json()


def create_session(daemon: harness.Daemon, key: str, start: bool = True) -> dict:
    r = daemon.request("POST", "/api/v1/sessions", harness.session_body(provider="webrtc"), key=key)
    assert r.status == 201, r.describe()
    s = r.json()
    if start:
        r = daemon.request("POST", f"/api/v1/sessions/{s['id']}/start", {}, key=key)
        assert r.status == 200, r.describe()
    return s


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))
