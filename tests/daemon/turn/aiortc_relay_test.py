#!/usr/bin/python3
"""Two aiortc peers connect with relay-only ICE through the consultd relay.

Usage: aiortc_relay_test.py <path to turn_relay_runner>

aiortc (python3-aiortc, an independent WebRTC stack) gathers with aioice's
RELAY transport policy, so the only candidates are TURN relay candidates on
our relay, and every ICE check, the DTLS handshake and the SCTP data channel
cross it. The test requires the data channel to carry messages both ways and
the relay's own counters to show the traffic. Loopback only; every wait has a
deadline; the relay is stopped by PID.
"""
import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import select
import signal
import subprocess
import sys
import time

try:
    import aioice
    import aiortc
    import aiortc.rtcicetransport as rtcicetransport
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
except ImportError as e:
    print("python3-aiortc is required (apt-get install python3-aiortc): %s" % e)
    sys.exit(1)


def relay_only():
    """aiortc 1.4 has no iceTransportPolicy; aioice does. Force it to RELAY."""
    original = rtcicetransport.connection_kwargs

    def patched(servers):
        kwargs = original(servers)
        kwargs["transport_policy"] = aioice.TransportPolicy.RELAY
        return kwargs

    rtcicetransport.connection_kwargs = patched


def read_ports(proc, deadline_s=10):
    end = time.monotonic() + deadline_s
    line = b""
    while time.monotonic() < end and not line.endswith(b"\n"):
        r, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            break
        line += chunk
    if not line.endswith(b"\n"):
        raise RuntimeError("relay runner did not report its ports")
    return dict(kv.split("=") for kv in line.decode().split())


async def connect(port, secret):
    username = "%d:aiortc-test" % (int(time.time()) + 600)
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    config = RTCConfiguration(iceServers=[RTCIceServer(urls="turn:127.0.0.1:%d?transport=udp" % port,
                                                       username=username, credential=password)])
    caller, callee = RTCPeerConnection(config), RTCPeerConnection(config)
    received = {"callee": asyncio.Queue(), "caller": asyncio.Queue()}
    channel = caller.createDataChannel("consult")
    opened = asyncio.Event()
    channel.on("open", opened.set)
    channel.on("message", lambda m: received["caller"].put_nowait(m))

    @callee.on("datachannel")
    def on_datachannel(ch):
        @ch.on("message")
        def on_message(message):
            received["callee"].put_nowait(message)
            ch.send("pong:" + message)

    try:
        await caller.setLocalDescription(await caller.createOffer())
        offer = caller.localDescription
        await callee.setRemoteDescription(offer)
        await callee.setLocalDescription(await callee.createAnswer())
        answer = callee.localDescription
        await caller.setRemoteDescription(answer)

        for name, sdp in (("offer", offer.sdp), ("answer", answer.sdp)):
            candidates = [l for l in sdp.splitlines() if l.startswith("a=candidate:")]
            if not candidates:
                raise AssertionError("%s has no ICE candidates (relay allocation failed?)" % name)
            if any(" typ relay" not in c for c in candidates):
                raise AssertionError("%s has non-relay candidates: %s" % (name, candidates))
            if any(" 127.0.0.1 " not in c for c in candidates):
                raise AssertionError("relay candidates should carry the relay's address: %s" % candidates)
        print("ok   offer and answer carry only relay candidates", flush=True)

        await asyncio.wait_for(opened.wait(), timeout=30)
        print("ok   data channel open over the relay", flush=True)
        for i in range(20):
            channel.send("ping%d" % i)
        got = [await asyncio.wait_for(received["caller"].get(), timeout=10) for _ in range(20)]
        if got != ["pong:ping%d" % i for i in range(20)]:
            raise AssertionError("wrong echoes: %r" % got)
        print("ok   20 messages each way through the relay", flush=True)
        pair = caller.sctp.transport.transport._connection._nominated.get(1)
        if pair is None or pair.local_candidate.type != "relay":
            raise AssertionError("nominated pair is not relayed: %r" % pair)
        print("ok   nominated pair %s uses a relay candidate" % pair, flush=True)
    finally:
        await caller.close()
        await callee.close()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    relay_only()
    secret = secrets.token_hex(16)
    relay = subprocess.Popen([sys.argv[1], "--secret", secret, "--threads", "2", "--tcp-port", "-1"],
                             stdout=subprocess.PIPE)
    failed = False
    try:
        ports = read_ports(relay)
        print("relay udp port %s, aiortc %s, aioice %s" % (ports["udp"], aiortc.__version__, aioice.__version__))
        asyncio.run(asyncio.wait_for(connect(int(ports["udp"]), secret), timeout=90))
    except Exception as e:  # report any failure, including timeouts, as a test failure
        print("FAIL: %r" % e, flush=True)
        failed = True
    finally:
        if relay.poll() is None:
            relay.send_signal(signal.SIGTERM)
            try:
                relay.wait(timeout=10)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait(timeout=5)
    counters = dict(l.split("=", 1) for l in relay.stdout.read().decode().split() if "=" in l)
    print("relay counters: %s" % " ".join("%s=%s" % kv for kv in sorted(counters.items())))
    if not failed:
        if int(counters.get("allocations_created", 0)) < 2:
            print("FAIL: the relay made fewer than two allocations")
            failed = True
        if int(counters.get("packets_from_clients", 0)) < 40 or int(counters.get("packets_to_clients", 0)) < 40:
            print("FAIL: too little traffic went through the relay for 40 data channel messages")
            failed = True
    print("FAILED" if failed else "passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
