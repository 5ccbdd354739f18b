"""Shared pieces of the recorder tests: the JSON-lines harness around the
RecorderPeer, an independent GStreamer webrtcbin sender (videotestsrc VP8 +
audiotestsrc Opus), gst-discoverer parsing, and the key file.

Only loopback traffic: both sides add 127.0.0.1 as a local ICE address and
only 127.0.0.1 candidates are passed between them.
"""
import json
import os
import queue
import re
import subprocess
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

Gst.init(None)

HARNESS = os.environ.get("RECORDER_HARNESS")
TOOL = os.environ.get("RECORDING_TOOL")
TRANSPORT_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


_KEEP_ALIVE = []


class Failure(Exception):
    pass


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        raise Failure(what)


def make_key(directory):
    path = os.path.join(directory, "recording.key")
    subprocess.run(["openssl", "rand", "-out", path, "32"], check=True)
    os.chmod(path, 0o600)
    return path


def loopback_only(candidate):
    return " 127.0.0.1 " in candidate


class Harness:
    """The RecorderPeer in a child process, spoken to over stdin/stdout."""

    def __init__(self, directory, key_file, extra=(), preexec_fn=None):
        self.events = queue.Queue()
        self.log = []
        self.media_started = {}  # participant -> monotonic time of its first media
        self.proc = subprocess.Popen(
            [HARNESS, "--dir", directory, "--key-file", key_file, "--local-address", "127.0.0.1", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, preexec_fn=preexec_fn)
        self.handlers = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "log":
                print("  [recorder] %s: %s" % (event["participant"], event["line"]), flush=True)
                self.log.append(event)
                if event["line"] == "media flowing":
                    self.media_started.setdefault(event["participant"], time.monotonic())
            for handler in list(self.handlers):
                handler(event)
            self.events.put(event)
        self.events.put({"event": "eof"})

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("timed out waiting for " + what)
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("event") == "error":
                raise Failure("harness error: " + event["message"])
            if predicate(event):
                return event
            if event.get("event") == "eof":
                raise Failure("harness exited while waiting for " + what)

    def stop(self, timeout=30):
        self.send(cmd="stop")
        finished = []
        self.wait_for(lambda e: (e["event"] == "finished" and finished.append(e) and False) or e["event"] == "stopped",
                      timeout, "stop")
        self.proc.wait(timeout=10)
        return finished

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class GstSender:
    """An independent webrtcbin peer that sends test video (VP8) and audio (Opus)
    and offers to the recorder, with the transport-cc header extension."""

    def __init__(self, harness, participant, recorder_offers=False, turn_uri=None, video="VP8"):
        """recorder_offers: the recorder is the offerer (RecorderPeer.createOffer)
        and this sender answers; otherwise this sender offers."""
        self.harness = harness
        self.participant = participant
        self.recorder_offers = recorder_offers
        self.answer_sdp = None
        self.offer_sdp = None
        encoders = {
            "VP8": "vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay ! "
                   "application/x-rtp,media=video,encoding-name=VP8,payload=96",
            "VP9": "vp9enc deadline=1 cpu-used=8 keyframe-max-dist=30 ! rtpvp9pay ! "
                   "application/x-rtp,media=video,encoding-name=VP9,payload=98",
        }
        self.pipeline = Gst.parse_launch(
            "webrtcbin name=send bundle-policy=max-bundle "
            "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! "
            "%s,extmap-3=(string)\"%s\" ! send. "
            "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc ! rtpopuspay ! "
            "application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! send." % (encoders[video], TRANSPORT_CC))
        self.webrtc = self.pipeline.get_by_name("send")
        if turn_uri:
            self.webrtc.set_property("ice-transport-policy", GstWebRTC.WebRTCICETransportPolicy.RELAY)
            self.webrtc.emit("add-turn-server", turn_uri)
        self.webrtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.webrtc.connect("on-ice-candidate", self._on_ice_candidate)
        harness.handlers.append(self._on_harness_event)
        self.loop = GLib.MainLoop()
        threading.Thread(target=self.loop.run, daemon=True).start()
        self.pipeline.set_state(Gst.State.PLAYING)
        # PyGObject sinks webrtcbin's floating ICE agent on first access and
        # frees it with the wrapper, so the wrapper must live as long as the
        # process (webrtcbin itself never takes a ref it could give back).
        self.agent = self.webrtc.get_property("ice-agent")
        _KEEP_ALIVE.append((self.agent, self.pipeline))
        self.agent.emit("add-local-ip-address", "127.0.0.1")
        # No UPnP gateway discovery (SSDP multicast): loopback traffic only.
        self.agent.get_property("agent").set_property("upnp", False)

    def _on_negotiation_needed(self, element):
        if self.recorder_offers:
            return
        # Offer only once every sink pad knows its caps: an offer made earlier
        # silently leaves out the track whose encoder has not started yet.
        def offer_when_ready():
            pads = [p for p in element.sinkpads if p.get_direction() == Gst.PadDirection.SINK]
            if len(pads) < 2 or any(p.get_current_caps() is None for p in pads):
                return True
            promise = Gst.Promise.new_with_change_func(self._on_offer_created, element, None)
            element.emit("create-offer", None, promise)
            return False
        GLib.timeout_add(50, offer_when_ready)

    def _on_offer_created(self, promise, element, _):
        promise.wait()
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        if offer is None or offer.sdp is None:
            print("sender: create-offer failed: %s" % reply.to_string(), flush=True)
            return
        element.emit("set-local-description", offer, Gst.Promise.new())
        self.harness.send(cmd="offer", participant=self.participant, sdp=offer.sdp.as_text())

    def _on_answer_created(self, promise, element, _):
        promise.wait()
        reply = promise.get_reply()
        answer = reply.get_value("answer")
        if answer is None or answer.sdp is None:
            print("sender: create-answer failed: %s" % reply.to_string(), flush=True)
            return
        element.emit("set-local-description", answer, Gst.Promise.new())
        self.answer_sdp = answer.sdp.as_text()
        self.harness.send(cmd="answer", participant=self.participant, sdp=self.answer_sdp)

    def _on_ice_candidate(self, _element, mline, candidate):
        if loopback_only(candidate):
            self.harness.send(cmd="candidate", participant=self.participant, mline=mline, candidate=candidate)

    def _on_harness_event(self, event):
        if event.get("participant") != self.participant:
            return
        if event["event"] == "description" and event["type"] == "offer":
            self.offer_sdp = event["sdp"]
            _, sdp = GstSdp.SDPMessage.new_from_text(event["sdp"])
            offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
            self.webrtc.emit("set-remote-description", offer, Gst.Promise.new())
            promise = Gst.Promise.new_with_change_func(self._on_answer_created, self.webrtc, None)
            self.webrtc.emit("create-answer", None, promise)
        elif event["event"] == "description" and event["type"] == "answer":
            self.answer_sdp = event["sdp"]
            _, sdp = GstSdp.SDPMessage.new_from_text(event["sdp"])
            answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
            self.webrtc.emit("set-remote-description", answer, Gst.Promise.new())
        elif event["event"] == "candidate" and event["candidate"] and loopback_only(event["candidate"]):
            self.webrtc.emit("add-ice-candidate", event["mline"], event["candidate"])

    def close(self):
        self.pipeline.set_state(Gst.State.NULL)
        self.loop.quit()


def discover(path):
    """gst-discoverer-1.0's view: (video stream count, audio stream count, duration s, raw text)."""
    out = subprocess.run(["gst-discoverer-1.0", "-v", path], capture_output=True, text=True, timeout=60).stdout
    video = len(re.findall(r"^\s*video(?: #\d+)?: ", out, re.M))
    audio = len(re.findall(r"^\s*audio(?: #\d+)?: ", out, re.M))
    m = re.search(r"Duration: (\d+):(\d+):(\d+\.\d+)", out)
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None
    return video, audio, duration, out


def decrypt(src, dst, key_file):
    p = subprocess.run([TOOL, "recording", "decrypt", src, dst, "--key-file", key_file],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def wait_for_media(harness, participant, timeout=30):
    """Waits until the recorder reports media from `participant`; returns when it started."""
    deadline = time.monotonic() + timeout
    while participant not in harness.media_started:
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for media from " + participant)
        if harness.proc.poll() is not None:
            raise Failure("harness exited while waiting for media from " + participant)
        time.sleep(0.05)
    return harness.media_started[participant]


class Coturn:
    """coturn on 127.0.0.1 with time-limited (REST API) credentials: the username
    is "expiry:user" and the password base64, i.e. exactly the characters
    (':', '=', '/', '+') that must be percent-encoded for webrtcbin."""

    def __init__(self, directory):
        import base64
        import hashlib
        import hmac
        import socket
        self.secret = base64.b64encode(os.urandom(18)).decode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.username = "%d:recorder-test" % (int(time.time()) + 3600)
        digest = hmac.new(self.secret.encode(), self.username.encode(), hashlib.sha1).digest()
        self.password = base64.b64encode(digest).decode()
        self.log_path = os.path.join(directory, "turnserver.log")
        self.proc = subprocess.Popen(
            ["turnserver", "-n", "--verbose", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
             "--listening-port=%d" % self.port, "--min-port=49152", "--max-port=65535",
             "--use-auth-secret", "--static-auth-secret=" + self.secret, "--realm=consultd.test",
             "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp-relay",
             "--userdb=" + os.path.join(directory, "turndb"), "--pidfile=" + os.path.join(directory, "turn.pid"),
             "--log-file=" + self.log_path, "--simple-log", "--no-stdout-log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12)  # STUN binding request
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                s.sendto(request, ("127.0.0.1", self.port))
                try:
                    if s.recv(1500)[:2] == b"\x01\x01":
                        return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
        self.stop()
        raise Failure("turnserver did not come up")

    def uri(self):
        from urllib.parse import quote
        return "turn://%s:%s@127.0.0.1:%d" % (quote(self.username, safe=""), quote(self.password, safe=""), self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def matroska_layout(path):
    """Top-level view of a Matroska/WebM file: (segment size known, has Cues, Duration value).
    A muxer that got EOS and could seek back writes all three; a crashed or
    "streamable" one leaves the size unknown, no Cues and Duration 0/absent."""
    import struct
    data = open(path, "rb").read()

    def element(i):
        first = data[i]
        id_len = 1
        while id_len <= 4 and not first & (0x80 >> (id_len - 1)):
            id_len += 1
        ident = int.from_bytes(data[i:i + id_len], "big")
        s0 = data[i + id_len]
        size_len = 1
        while size_len <= 8 and not s0 & (0x80 >> (size_len - 1)):
            size_len += 1
        raw = data[i + id_len:i + id_len + size_len]
        value = int.from_bytes(bytes([raw[0] & (0xFF >> size_len)]) + raw[1:], "big")
        unknown = value == (1 << (7 * size_len)) - 1
        return ident, i + id_len + size_len, None if unknown else value

    ident, start, size = element(0)
    if ident != 0x1A45DFA3:
        return False, False, None
    ident, seg_start, seg_size = element(start + size)
    if ident != 0x18538067:
        return False, False, None
    end = len(data) if seg_size is None else seg_start + seg_size
    has_cues, duration, i = False, None, seg_start
    while i < end:
        ident, body, size = element(i)
        if size is None:
            break
        if ident == 0x1C53BB6B:
            has_cues = True
        elif ident == 0x1549A966:
            j = body
            while j < body + size:
                cid, cbody, csize = element(j)
                if cid == 0x4489:
                    duration = struct.unpack(">d" if csize == 8 else ">f", data[cbody:cbody + csize])[0]
                j = cbody + csize
        i = body + size
    return seg_size is not None, has_cues, duration
