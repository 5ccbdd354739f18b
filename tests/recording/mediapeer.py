"""A WebRTC participant for the daemon recording tests: joins a webrtc session
through the daemon's signaling (python3-websockets) with a real join grant and
sends videotestsrc VP8 + audiotestsrc Opus from GStreamer webrtcbin, one
webrtcbin per remote participant (mesh, like a browser), relay-only through
the TURN server of the grant (the daemon's embedded relay).

It follows the room's glare rule (docs/webrtc.md): it offers to everyone
listed in `joined`, and answers offers from those who join later. So with
the recorder already in the room it offers to the recorder; when the
recorder joins later, the recorder offers and it answers.

Threads: GStreamer callbacks run on GStreamer threads and only hand work to
the asyncio loop (call_soon_threadsafe); the loop owns the WebSocket.
"""
from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import harness  # noqa: E402
import websockets  # noqa: E402

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

Gst.init(None)

_GLIB_LOOP = GLib.MainLoop()
threading.Thread(target=_GLIB_LOOP.run, daemon=True).start()
_KEEP_ALIVE = []  # ICE agents: PyGObject frees a floating agent with its wrapper

DEADLINE = 30.0
TRANSPORT_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


def turn_uri(ice_servers: list[dict]) -> str | None:
    """The grant's first turn: UDP URL in webrtcbin's form (credentials percent-encoded)."""
    for server in ice_servers:
        for url in server.get("urls", []):
            if url.startswith("turn:") and "transport=tcp" not in url:
                hostport = url[len("turn:"):].split("?")[0]
                user = urllib.parse.quote(server["username"], safe="")
                password = urllib.parse.quote(server["credential"], safe="")
                return f"turn://{user}:{password}@{hostport}"
    return None


class Link:
    """One webrtcbin towards one remote participant, sending and receiving."""

    def __init__(self, peer: "MediaPeer", remote: str):
        self.peer = peer
        self.remote = remote
        self.received_buffers = 0
        self.received_kinds: set[str] = set()
        self._lock = threading.Lock()
        self.pipeline = Gst.parse_launch(
            "webrtcbin name=w bundle-policy=max-bundle latency=100 "
            "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! "
            "vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay ! "
            "application/x-rtp,media=video,encoding-name=VP8,payload=96,extmap-3=(string)\"%s\" ! w. "
            "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc ! rtpopuspay ! "
            "application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! w." % TRANSPORT_CC)
        self.webrtc = self.pipeline.get_by_name("w")
        if peer.turn:
            self.webrtc.set_property("ice-transport-policy", GstWebRTC.WebRTCICETransportPolicy.RELAY)
            self.webrtc.emit("add-turn-server", peer.turn)
        self.webrtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.webrtc.connect("on-ice-candidate", self._on_ice_candidate)
        self.webrtc.connect("pad-added", self._on_pad_added)
        self.offering = False
        self.offer_scheduled = False
        self.pipeline.set_state(Gst.State.PLAYING)
        agent = self.webrtc.get_property("ice-agent")
        _KEEP_ALIVE.append((agent, self.pipeline))
        agent.emit("add-local-ip-address", "127.0.0.1")
        agent.get_property("agent").set_property("upnp", False)

    def _when_pads_ready(self, then) -> None:
        """Runs `then` once both sink pads know their caps (an offer or answer made
        earlier silently leaves out the track whose encoder has not started)."""
        def poll():
            pads = [p for p in self.webrtc.sinkpads if p.get_direction() == Gst.PadDirection.SINK]
            if len(pads) < 2 or any(p.get_current_caps() is None for p in pads):
                return True
            then()
            return False
        GLib.timeout_add(30, poll)

    def _on_negotiation_needed(self, element):
        if not self.offering or self.offer_scheduled:
            return
        self.offer_scheduled = True

        def offer():
            promise = Gst.Promise.new_with_change_func(self._on_offer_created, element, None)
            element.emit("create-offer", None, promise)
        self._when_pads_ready(offer)

    def _on_offer_created(self, promise, element, _):
        promise.wait()
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply else None
        if offer is None or offer.sdp is None:
            print(f"{self.peer.name} -> {self.remote}: create-offer failed: {reply.to_string() if reply else None}",
                  flush=True)
            return
        element.emit("set-local-description", offer, Gst.Promise.new())
        self.peer.post({"type": "offer", "to": self.remote, "sdp": offer.sdp.as_text()})

    def apply_offer(self, sdp_text: str) -> None:
        def answer():
            _, sdp = GstSdp.SDPMessage.new_from_text(sdp_text)
            offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
            self.webrtc.emit("set-remote-description", offer, Gst.Promise.new())
            promise = Gst.Promise.new_with_change_func(self._on_answer_created, self.webrtc, None)
            self.webrtc.emit("create-answer", None, promise)
        self._when_pads_ready(answer)

    def _on_answer_created(self, promise, element, _):
        promise.wait()
        reply = promise.get_reply()
        answer = reply.get_value("answer") if reply else None
        if answer is None or answer.sdp is None:
            print(f"{self.peer.name} -> {self.remote}: create-answer failed: {reply.to_string() if reply else None}",
                  flush=True)
            return
        element.emit("set-local-description", answer, Gst.Promise.new())
        self.peer.post({"type": "answer", "to": self.remote, "sdp": answer.sdp.as_text()})

    def apply_answer(self, sdp_text: str) -> None:
        _, sdp = GstSdp.SDPMessage.new_from_text(sdp_text)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        self.webrtc.emit("set-remote-description", answer, Gst.Promise.new())

    def add_candidate(self, candidate: dict) -> None:
        text = candidate.get("candidate") or ""
        if text:
            self.webrtc.emit("add-ice-candidate", int(candidate.get("sdpMLineIndex") or 0), text)

    def _on_ice_candidate(self, _element, mline, candidate):
        self.peer.post({"type": "ice-candidate", "to": self.remote,
                        "candidate": {"candidate": candidate, "sdpMLineIndex": mline}})

    def _on_pad_added(self, _element, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        kind = caps.get_structure(0).get_string("media") or "?"
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("async", False)
        sink.set_property("sync", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

        def count(_pad, _info):
            with self._lock:
                self.received_buffers += 1
                self.received_kinds.add(kind)
            return Gst.PadProbeReturn.OK
        pad.add_probe(Gst.PadProbeType.BUFFER, count)

    def received(self) -> tuple[int, set]:
        with self._lock:
            return self.received_buffers, set(self.received_kinds)

    def close(self) -> None:
        self.pipeline.set_state(Gst.State.NULL)


class MediaPeer:
    """One participant: a signaling connection plus a Link per remote participant."""

    def __init__(self, daemon: harness.Daemon, key: str, session_id: str, participant: str, relay: bool = True):
        r = daemon.request("POST", f"/api/v1/sessions/{session_id}/token", {"participant_id": participant}, key=key)
        assert r.status == 200, r.describe()
        self.grant = r.json()
        self.daemon = daemon
        self.name = participant
        self.turn = turn_uri(self.grant["ice_servers"]) if relay else None
        assert not relay or self.turn, "the grant has no TURN server: %s" % self.grant["ice_servers"]
        self.links: dict[str, Link] = {}
        self.messages: list[dict] = []
        self.ws = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue | None = None
        self._tasks: list[asyncio.Task] = []
        self.closed = asyncio.Event()

    # -- from GStreamer threads
    def post(self, message: dict) -> None:
        self.loop.call_soon_threadsafe(self._outbox.put_nowait, message)

    # -- asyncio side
    async def join(self) -> dict:
        self.loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue()
        url = f"ws://127.0.0.1:{self.daemon.port}/api/v1/signal"
        self.ws = await asyncio.wait_for(websockets.connect(url, max_size=4 * 1024 * 1024, ping_interval=None),
                                         DEADLINE)
        await self.ws.send(json.dumps({"type": "join", "token": self.grant["token"]}))
        joined = json.loads(await asyncio.wait_for(self.ws.recv(), DEADLINE))
        assert joined["type"] == "joined", joined
        self.messages.append(joined)
        self._tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._writer())]
        for other in joined["participants"]:  # we joined later: we offer
            self._link(other["id"], offering=True)
        return joined

    def _link(self, remote: str, offering: bool) -> Link:
        if remote not in self.links:
            link = Link(self, remote)
            link.offering = offering
            self.links[remote] = link
            if offering:
                # on-negotiation-needed may have fired before `offering` was set.
                link._on_negotiation_needed(link.webrtc)
        return self.links[remote]

    async def _writer(self) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await self.ws.send(json.dumps(message))
            except websockets.ConnectionClosed:
                return

    async def _reader(self) -> None:
        try:
            async for raw in self.ws:
                m = json.loads(raw)
                self.messages.append(m)
                kind, sender = m.get("type"), m.get("from")
                if kind == "offer":
                    self._link(sender, offering=False).apply_offer(m["sdp"])
                elif kind == "answer" and sender in self.links:
                    self.links[sender].apply_answer(m["sdp"])
                elif kind == "ice-candidate" and sender in self.links:
                    self.links[sender].add_candidate(m.get("candidate") or {})
                elif kind == "participant-left":
                    link = self.links.pop(m.get("participant_id"), None)
                    if link:
                        link.close()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def seen(self, type_: str, **match) -> list[dict]:
        return [m for m in self.messages if m.get("type") == type_ and all(m.get(k) == v for k, v in match.items())]

    async def wait_for(self, predicate, what: str, deadline: float = DEADLINE):
        end = time.monotonic() + deadline
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > end:
                raise AssertionError(f"{self.name}: timed out waiting for {what}; messages: "
                                     f"{[m.get('type') for m in self.messages]}")
            await asyncio.sleep(0.05)

    async def wait_receiving(self, remote: str, deadline: float = DEADLINE) -> None:
        """Until video and audio buffers from `remote` arrive on our link to it."""
        def ok():
            link = self.links.get(remote)
            return link is not None and link.received()[0] > 20 and link.received()[1] >= {"video", "audio"}
        await self.wait_for(ok, f"media from {remote}", deadline)

    async def leave(self) -> None:
        try:
            await self.ws.send(json.dumps({"type": "leave"}))
        except websockets.ConnectionClosed:
            pass
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        for link in self.links.values():
            link.close()
        self.links.clear()


def discover(path) -> tuple[int, int, float | None, str]:
    """gst-discoverer-1.0: (video streams, audio streams, duration in s, text)."""
    import re
    import subprocess
    out = subprocess.run(["gst-discoverer-1.0", "-v", str(path)], capture_output=True, text=True, timeout=60).stdout
    video = len(re.findall(r"^\s*video(?: #\d+)?: ", out, re.M))
    audio = len(re.findall(r"^\s*audio(?: #\d+)?: ", out, re.M))
    m = re.search(r"Duration: (\d+):(\d+):(\d+\.\d+)", out)
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None
    return video, audio, duration, out


def webrtc_recording_daemon(test, name: str, config: dict | None = None) -> harness.Daemon:
    """webrtc as the default provider, the embedded TURN relay on loopback
    (loopback peers allowed: a same-host test), the recorder relay-only."""
    base = {
        "providers": {"default": "webrtc", "webrtc": {"enabled": True, "ice_transport_policy": "relay"}},
        "turn": {"mode": "embedded", "secret_file": "secrets/turn_secret", "listen_address": "127.0.0.1",
                 "udp_port": 0, "tcp_port": 0, "relay_address": "127.0.0.1", "allow_loopback_peers": True,
                 "credential_ttl_seconds": 600},
        "security": {"token_rate_per_minute": 1000},
        "recording": {"ice_transport_policy": "relay", "local_addresses": ["127.0.0.1"]},
        "logging": {"level": "info"},
    }
    d = harness.Daemon(test, jaas=False, name=name, config=harness.deep_merge(base, config or {}))
    harness.write_secret(d.secrets_dir / "turn_secret", "turn-shared-secret-0123456789abcdef\n")
    return d
