#!/usr/bin/python3
"""bench/recording: concurrent native recordings of pre-encoded streams. A
measurement, not a test.

1. Encode once: a 640x360 30 fps VP8 + Opus WebM of --source-seconds (videotestsrc "ball":
   vp8enc asks for 1 Mbit/s but the simple picture needs ~150 kbit/s)
   (bench/recording/work/source.webm; reused when present).
2. The recorder: tests/gst/recorder_harness (one RecorderPeer, exactly the
   daemon's recorder code, driven over JSON lines), writing CDREC-encrypted
   WebM into a temp folder.
3. The load: N webrtcbin senders in this process that demux the file and
   packetise it (rtpvp8pay / rtpopuspay) in real time (identity sync=true):
   no encoding while measuring. Each sender offers to the recorder over
   loopback (127.0.0.1 candidates only).
4. Once every sender's media flows, the recorder's CPU time (utime+stime of
   its process, /proc) is sampled over --seconds; then the recording stops.
5. Drops: each file is decrypted with the project's tool and its video
   frames counted (Matroska SimpleBlocks of the video track). The file spans
   the measured window, so it must hold at least every frame its sender
   packetised during the window (counted at rtpvp8pay's input); recorded /
   sent below 0.99 counts as dropping.

With --janus, the same senders publish to Janus (Debian package janus,
VideoRoom plugin, record=true: its .mjr recorder) over its HTTP API, and
Janus's CPU is measured the same way.

  /usr/bin/python3 bench/recording/run_bench.py --build build [--levels 1,4,8,16] [--seconds 20] \
      [--janus] [--json bench/recording/results-latest.json]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent
sys.path.insert(0, str(SOURCE / "tests" / "gst"))

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

Gst.init(None)
_LOOP = GLib.MainLoop()
threading.Thread(target=_LOOP.run, daemon=True).start()
_KEEP = []
CLK_TCK = os.sysconf("SC_CLK_TCK")
TRANSPORT_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else 0.0


def make_source(path: Path, seconds: int) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = seconds * 30
    subprocess.run([
        "gst-launch-1.0", "-q",
        "videotestsrc", f"num-buffers={frames}", "pattern=ball", "!",
        "video/x-raw,width=640,height=360,framerate=30/1", "!",
        "vp8enc", "deadline=1", "cpu-used=8", "target-bitrate=1000000", "keyframe-max-dist=60", "!", "queue", "!",
        "webmmux", "name=m", "!", "filesink", f"location={path}",
        "audiotestsrc", f"num-buffers={seconds * 50}", "samplesperbuffer=960", "wave=sine", "!",
        "audio/x-raw,rate=48000,channels=2", "!", "audioconvert", "!", "opusenc", "!", "queue", "!", "m.",
    ], check=True, timeout=600)


class FileSender:
    """Replays the pre-encoded file over one webrtcbin, in real time, no encoding."""

    def __init__(self, name: str, source: Path, on_offer, on_candidate, loopback_only: bool = True):
        self.name = name
        self.on_offer = on_offer
        self.on_candidate = on_candidate
        self.pipeline = Gst.parse_launch(
            f"webrtcbin name=w bundle-policy=max-bundle "
            f"filesrc location={source} ! matroskademux name=d "
            f"d.video_0 ! queue ! identity sync=true ! rtpvp8pay pt=96 mtu=1200 ! "
            f"application/x-rtp,media=video,encoding-name=VP8,payload=96,extmap-3=(string)\"{TRANSPORT_CC}\" ! w. "
            f"d.audio_0 ! queue ! identity sync=true ! rtpopuspay pt=111 ! "
            f"application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! w.")
        self.webrtc = self.pipeline.get_by_name("w")
        self.offered = False
        # Video frames handed to the payloader (what the recorder should get).
        self.video_frames = 0
        self._lock = threading.Lock()
        pay = [e for e in self.pipeline.iterate_recurse() if e.get_factory().get_name() == "rtpvp8pay"][0]

        def count(_pad, _info):
            with self._lock:
                self.video_frames += 1
            return Gst.PadProbeReturn.OK
        pay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, count)
        self.webrtc.connect("on-negotiation-needed", self._negotiation_needed)
        self.webrtc.connect("on-ice-candidate",
                            lambda _e, mline, c: (not loopback_only or " 127.0.0.1 " in c) and self.on_candidate(mline, c))
        self.pipeline.set_state(Gst.State.PLAYING)
        agent = self.webrtc.get_property("ice-agent")
        _KEEP.append((agent, self.pipeline))
        if loopback_only:
            agent.emit("add-local-ip-address", "127.0.0.1")  # libnice then uses this address alone
        agent.get_property("agent").set_property("upnp", False)

    def _negotiation_needed(self, element):
        if self.offered:
            return
        self.offered = True

        def ready():
            pads = [p for p in element.sinkpads if p.get_direction() == Gst.PadDirection.SINK]
            if len(pads) < 2 or any(p.get_current_caps() is None for p in pads):
                return True
            promise = Gst.Promise.new_with_change_func(self._offer_created, element, None)
            element.emit("create-offer", None, promise)
            return False
        GLib.timeout_add(30, ready)

    def _offer_created(self, promise, element, _):
        promise.wait()
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply else None
        if offer is None or offer.sdp is None:
            print(f"{self.name}: create-offer failed: {reply.to_string() if reply else None}", flush=True)
            return
        element.emit("set-local-description", offer, Gst.Promise.new())
        self.on_offer(offer.sdp.as_text())

    def set_answer(self, sdp_text: str) -> None:
        _, sdp = GstSdp.SDPMessage.new_from_text(sdp_text)
        self.webrtc.emit("set-remote-description",
                         GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp), Gst.Promise.new())

    def add_candidate(self, mline: int, candidate: str) -> None:
        self.webrtc.emit("add-ice-candidate", mline, candidate)

    def frames(self) -> int:
        with self._lock:
            return self.video_frames

    def close(self) -> None:
        self.pipeline.set_state(Gst.State.NULL)


# ---- WebM frame counting ----------------------------------------------------------------------

def _vint(data: bytes, pos: int, strip: bool) -> tuple[int, int]:
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    value = first & (mask - 1) if strip else first
    for i in range(1, length):
        value = (value << 8) | data[pos + i]
    if strip and value == (1 << (7 * length)) - 1:
        value = -1  # unknown size
    return value, pos + length


def count_frames(path: Path) -> dict[int, int]:
    """SimpleBlocks (and Blocks) per track number in a WebM/Matroska file."""
    data = path.read_bytes()
    counts: dict[int, int] = {}
    masters = {0x18538067, 0x1F43B675, 0xA0}  # Segment, Cluster, BlockGroup: descend
    pos = 0
    while pos < len(data) - 2:
        try:
            eid, p = _vint(data, pos, strip=False)
            size, p = _vint(data, p, strip=True)
        except IndexError:
            break
        if eid in masters:
            pos = p
            continue
        if eid in (0xA3, 0xA1):
            track, _ = _vint(data, p, strip=True)
            counts[track] = counts.get(track, 0) + 1
        if size < 0:
            break
        pos = p + size
    return counts


def discover_duration(path: Path) -> float | None:
    out = subprocess.run(["gst-discoverer-1.0", str(path)], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"Duration: (\d+):(\d+):(\d+\.\d+)", out)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None


# ---- consultd's recorder ------------------------------------------------------------------------

def run_consultd(build: Path, source: Path, n: int, seconds: float) -> dict:
    from webrtc_peers import Harness, make_key  # tests/gst: the RecorderPeer over JSON lines
    os.environ.setdefault("RECORDER_HARNESS", str(build / "tests" / "gst" / "recorder_harness"))
    import webrtc_peers
    webrtc_peers.HARNESS = str(build / "tests" / "gst" / "recorder_harness")
    tool = build / "tests" / "daemon" / "recording" / "consultd-recording-tool"
    tmp = Path(tempfile.mkdtemp(prefix="bench-rec-"))
    rec_dir = tmp / "rec"
    rec_dir.mkdir()
    key = make_key(str(tmp))
    harness = Harness(str(rec_dir), key)
    senders = {}
    try:
        def handler(event):
            who = event.get("participant")
            if who in senders:
                if event["event"] == "description" and event["type"] == "answer":
                    senders[who].set_answer(event["sdp"])
                elif event["event"] == "candidate" and event["candidate"] and " 127.0.0.1 " in event["candidate"]:
                    senders[who].add_candidate(event["mline"], event["candidate"])
        harness.handlers.append(handler)
        for i in range(n):
            name = f"s{i}"
            senders[name] = FileSender(
                name, source,
                lambda sdp, name=name: harness.send(cmd="offer", participant=name, sdp=sdp),
                lambda mline, c, name=name: harness.send(cmd="candidate", participant=name, mline=mline, candidate=c))
        deadline = time.monotonic() + 60 + 3 * n
        while len(harness.media_started) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(harness.media_started)} of {n} senders flowing")
            time.sleep(0.1)
        time.sleep(2)  # let jitterbuffers and muxers settle
        pid = harness.proc.pid
        sent0 = {name: s.frames() for name, s in senders.items()}
        c0, t0, g0 = cpu_seconds(pid), time.monotonic(), cpu_seconds(os.getpid())
        time.sleep(seconds)
        c1, t1, g1 = cpu_seconds(pid), time.monotonic(), cpu_seconds(os.getpid())
        sent1 = {name: s.frames() for name, s in senders.items()}
        rss = rss_mib(pid)
        finished = harness.stop(timeout=120)
    finally:
        for s in senders.values():
            s.close()
        harness.kill()
    ok_files = [f for f in finished if f["ok"]]
    ratios = []
    for f in ok_files:
        plain = tmp / (Path(f["file"]).name + ".plain.webm")
        subprocess.run([str(tool), "recording", "decrypt", f["file"], str(plain), "--key-file", key],
                       check=True, capture_output=True, timeout=120)
        frames = count_frames(plain)
        duration = discover_duration(plain) or f["duration_ms"] / 1000
        video = frames.get(1, 0)  # the muxer's first pad is video
        # The file spans at least the measured window: it must hold every frame sent in it.
        window = sent1[f["participant"]] - sent0[f["participant"]]
        ratios.append(video / window if window else 0)
    shutil.rmtree(tmp, ignore_errors=True)
    cores = (c1 - c0) / (t1 - t0)
    return {"recorder": "consultd", "streams": n, "cores": round(cores, 3),
            "cpu_percent_per_stream": round(100 * cores / n, 2), "rss_mib": round(rss, 1),
            "generator_cores": round((g1 - g0) / (t1 - t0), 3),
            "files_ok": len(ok_files), "min_recorded_over_sent": round(min(ratios), 4) if ratios else None,
            "drops": bool(not ratios or min(ratios) < 0.99 or len(ok_files) < n)}


# ---- Janus VideoRoom with record=true -------------------------------------------------------------

JANUS_CFG = """general: {{ configs_folder = "{cfg}" plugins_folder = "/usr/lib/x86_64-linux-gnu/janus/plugins"
  transports_folder = "/usr/lib/x86_64-linux-gnu/janus/transports" events_folder = "/usr/lib/x86_64-linux-gnu/janus/events"
  loggers_folder = "/usr/lib/x86_64-linux-gnu/janus/loggers" debug_level = 3 admin_secret = "bench" protected_folders = [] }}
media: {{ rtp_port_range = "40000-60000" }}
nat: {{ nice_debug = false ignore_mdns = true }}
plugins: {{ disable = "libjanus_audiobridge.so,libjanus_echotest.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_voicemail.so,libjanus_videocall.so,libjanus_duktape.so,libjanus_lua.so" }}
transports: {{ disable = "libjanus_websockets.so,libjanus_pfunix.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_rabbitmq.so" }}
events: {{ broadcast = false }}
"""
JANUS_HTTP = """general: {{ json = "indented" base_path = "/janus" http = true port = {port} ip = "127.0.0.1" https = false }}
admin: {{ admin_base_path = "/admin" admin_http = false }}
"""
JANUS_ROOM = """general: {{ }}
room-1234: {{ description = "bench" publishers = 200 bitrate = 0 record = true rec_dir = "{rec}" videocodec = "vp8" audiocodec = "opus" }}
"""


class Janus:
    def __init__(self, tmp: Path):
        self.cfg = tmp / "cfg"
        self.cfg.mkdir()
        self.rec = tmp / "rec"
        self.rec.mkdir()
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (self.cfg / "janus.jcfg").write_text(JANUS_CFG.format(cfg=self.cfg))
        (self.cfg / "janus.transport.http.jcfg").write_text(JANUS_HTTP.format(port=self.port))
        (self.cfg / "janus.plugin.videoroom.jcfg").write_text(JANUS_ROOM.format(rec=self.rec))
        self.log = open(tmp / "janus.log", "w")
        self.proc = subprocess.Popen(["janus", "-C", str(self.cfg / "janus.jcfg"), "-F", str(self.cfg)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.call("/janus", {"janus": "info"})
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("janus did not start; see " + str(tmp / "janus.log"))
                time.sleep(0.2)

    def call(self, path: str, body: dict) -> dict:
        body = dict(body, transaction=os.urandom(6).hex())
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def poll(self, session: int) -> list:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/janus/{session}?maxev=10", timeout=35) as r:
            data = json.loads(r.read())
        return data if isinstance(data, list) else [data]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_janus(source: Path, n: int, seconds: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-janus-"))
    janus = Janus(tmp)
    senders = []
    try:
        session = janus.call("/janus", {"janus": "create"})["data"]["id"]
        flowing = set()
        for i in range(n):
            handle = janus.call(f"/janus/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})["data"]["id"]
            base = f"/janus/{session}/{handle}"
            janus.call(base, {"janus": "message", "body": {"request": "join", "ptype": "publisher", "room": 1234,
                                                            "display": f"s{i}"}})

            def on_offer(sdp, base=base, idx=i):
                janus.call(base, {"janus": "message", "body": {"request": "configure", "audio": True, "video": True,
                                                                "record": True, "filename": f"s{idx}"},
                                  "jsep": {"type": "offer", "sdp": sdp}})

            def on_candidate(mline, c, base=base):
                janus.call(base, {"janus": "trickle", "candidate": {"candidate": c, "sdpMLineIndex": mline}})
            # Janus (libnice) gathers on the host's interfaces, never loopback: so do these senders.
            sender = FileSender(f"s{i}", source, on_offer, on_candidate, loopback_only=False)
            sender.handle = handle
            senders.append(sender)
        by_handle = {s.handle: s for s in senders}
        deadline = time.monotonic() + 60 + 3 * n
        while len(flowing) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"janus: only {len(flowing)} of {n} publishers up")
            for ev in janus.poll(session):
                s = by_handle.get(ev.get("sender"))
                if s and ev.get("jsep", {}).get("type") == "answer":
                    s.set_answer(ev["jsep"]["sdp"])
                if s and ev.get("janus") == "webrtcup":
                    flowing.add(s.handle)
        time.sleep(2)
        c0, t0 = cpu_seconds(janus.proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(janus.proc.pid), time.monotonic()
        rss = rss_mib(janus.proc.pid)
    finally:
        for s in senders:
            s.close()
        janus.stop()
    files = sorted(p.name for p in tmp.rglob("*.mjr"))
    if not files:
        print("janus wrote no .mjr; its log ends:\n" + (tmp / "janus.log").read_text(errors="replace")[-1500:],
              flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    cores = (c1 - c0) / (t1 - t0)
    return {"recorder": "janus", "streams": n, "cores": round(cores, 3),
            "cpu_percent_per_stream": round(100 * cores / n, 2), "rss_mib": round(rss, 1), "mjr_files": len(files)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(SOURCE / "build"))
    ap.add_argument("--levels", default="1,4,8,16")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--source-seconds", type=int, default=120)
    ap.add_argument("--janus", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    source = HERE / "work" / "source.webm"
    make_source(source, args.source_seconds)
    results = []
    for n in [int(x) for x in args.levels.split(",")]:
        r = run_consultd(Path(args.build), source, n, args.seconds)
        print(json.dumps(r), flush=True)
        results.append(r)
        if args.janus:
            j = run_janus(source, n, args.seconds)
            print(json.dumps(j), flush=True)
            results.append(j)
    kbps = round(source.stat().st_size * 8 / args.source_seconds / 1000)
    meta = {"cpus": os.cpu_count(), "load_after": os.getloadavg(), "seconds": args.seconds,
            "source": f"640x360 30 fps VP8 + Opus, pre-encoded, {kbps} kbit/s average",
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
