#!/usr/bin/env python3
"""Relays datagrams through a TURN server (RFC 8656, UDP) and back, with only
Python's standard library, so it runs on an appliance without coturn's tools:
Allocate with long-term credentials, CreatePermission, Send and Data
indications, ChannelBind and ChannelData both ways, to an echo peer this
script runs itself, then Refresh with lifetime 0.

  scripts/turn-probe.py --server 127.0.0.1:3478 --username U --password P \\
      [--peer 127.0.0.1] [--count 20]

U and P are the `username` and `credential` of `GET /api/v1/ice-servers`.
The peer address must be one the relay's peer policy allows (loopback only
with turn.allow_loopback_peers = true). Prints what it did; exits 0 when every
datagram came back intact, 1 with the reason otherwise.
"""
import argparse
import hashlib
import hmac
import os
import socket
import struct
import sys
import threading

COOKIE = 0x2112A442
ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 0x003, 0x004, 0x006, 0x007, 0x008, 0x009
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, CHANNEL_NUMBER, LIFETIME = 0x0006, 0x0008, 0x0009, 0x000C, 0x000D
XOR_PEER_ADDRESS, DATA_ATTR, REALM, NONCE, XOR_RELAYED_ADDRESS = 0x0012, 0x0013, 0x0014, 0x0015, 0x0016
REQUESTED_TRANSPORT = 0x0019


def attr(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_address(host, port):
    return struct.pack("!BBH", 0, 1, port ^ (COOKIE >> 16)) + struct.pack("!I", struct.unpack(
        "!I", socket.inet_aton(host))[0] ^ COOKIE)


def parse_xor_address(value):
    port = struct.unpack("!H", value[2:4])[0] ^ (COOKIE >> 16)
    return socket.inet_ntoa(struct.pack("!I", struct.unpack("!I", value[4:8])[0] ^ COOKIE)), port


def message(kind, attrs, key=None):
    """A STUN message of type `kind`; with `key`, MESSAGE-INTEGRITY last."""
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key is not None:
        header = struct.pack("!HHI", kind, len(body) + 24, COOKIE) + tid
        body += attr(MESSAGE_INTEGRITY, hmac.new(key, header + body, hashlib.sha1).digest())
    return struct.pack("!HHI", kind, len(body), COOKIE) + tid + body, tid


def parse(data):
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != COOKIE or len(data) < 20 + length:
        raise ValueError("not a STUN message")
    attrs, pos = {}, 20
    while pos + 4 <= 20 + length:
        t, n = struct.unpack("!HH", data[pos:pos + 4])
        attrs.setdefault(t, data[pos + 4:pos + 4 + n])
        pos += 4 + n + (-n % 4)
    return kind, data[8:20], attrs


class Probe:
    def __init__(self, server, username, password):
        self.server, self.username, self.password = server, username, password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2)
        self.realm = self.nonce = self.key = None

    def request(self, method, attrs, signed=True):
        extra = [attr(USERNAME, self.username.encode()), attr(REALM, self.realm), attr(NONCE, self.nonce)] \
            if signed else []
        data, tid = message(method, attrs + extra, self.key if signed else None)
        self.sock.sendto(data, self.server)
        while True:
            kind, got_tid, answer = parse(self.sock.recv(2048))
            if got_tid == tid:
                return kind, answer

    def allocate(self):
        transport = [attr(REQUESTED_TRANSPORT, struct.pack("!I", 17 << 24))]
        kind, answer = self.request(ALLOCATE, transport, signed=False)
        if kind != ALLOCATE | 0x0110 or REALM not in answer or NONCE not in answer:
            raise RuntimeError("Allocate without credentials: expected 401 with REALM and NONCE")
        self.realm, self.nonce = answer[REALM], answer[NONCE]
        self.key = hashlib.md5(b"%s:%s:%s" % (self.username.encode(), self.realm, self.password.encode())).digest()
        return parse_xor_address(self.expect(ALLOCATE, transport)[XOR_RELAYED_ADDRESS])

    def expect(self, method, attrs):
        kind, answer = self.request(method, attrs)
        if kind != method | 0x0100:
            code = answer.get(ERROR_CODE, b"\0\0\0\0")
            raise RuntimeError("method 0x%03x refused: %d %s" % (method, code[2] * 100 + code[3],
                                                                 code[4:].decode(errors="replace")))
        return answer

    def receive_data(self):
        """The next Data indication's or ChannelData's payload."""
        data = self.sock.recv(2048)
        if data[0] & 0xC0 == 0x40:
            return data[4:4 + struct.unpack("!H", data[2:4])[0]]
        kind, _, answer = parse(data)
        if kind != DATA | 0x0010:
            raise RuntimeError("expected a Data indication, got type 0x%04x" % kind)
        return answer[DATA_ATTR]


def echo(peer, stop):
    while not stop.is_set():
        try:
            data, sender = peer.recvfrom(2048)
        except socket.timeout:
            continue
        peer.sendto(data, sender)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True, help="HOST:PORT of the relay's UDP listener")
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--peer", default="127.0.0.1", help="IPv4 address for the echo peer")
    ap.add_argument("--count", type=int, default=20, help="datagrams each way per mode")
    args = ap.parse_args()
    host, _, port = args.server.rpartition(":")
    if not host or not port.isdigit():
        ap.error("--server must be HOST:PORT, got %r" % args.server)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((args.peer, 0))
    peer.settimeout(0.2)
    stop = threading.Event()
    thread = threading.Thread(target=echo, args=(peer, stop), daemon=True)
    thread.start()
    probe = Probe((host, int(port)), args.username, args.password)
    try:
        relayed = probe.allocate()
        print("allocated %s:%d" % relayed)
        peer_address = xor_address(*peer.getsockname())
        probe.expect(CREATE_PERMISSION, [attr(XOR_PEER_ADDRESS, peer_address)])
        for i in range(args.count):
            payload = b"send-%d" % i
            probe.sock.sendto(message(SEND | 0x0010, [attr(XOR_PEER_ADDRESS, peer_address),
                                                      attr(DATA_ATTR, payload)])[0], probe.server)
            if probe.receive_data() != payload:
                raise RuntimeError("Send/Data round trip %d came back altered" % i)
        print("ok: %d Send indications to the peer and Data indications back" % args.count)
        probe.expect(CHANNEL_BIND, [attr(CHANNEL_NUMBER, struct.pack("!I", 0x4000 << 16)),
                                    attr(XOR_PEER_ADDRESS, peer_address)])
        for i in range(args.count):
            payload = b"channel-%d" % i
            probe.sock.sendto(struct.pack("!HH", 0x4000, len(payload)) + payload, probe.server)
            if probe.receive_data() != payload:
                raise RuntimeError("ChannelData round trip %d came back altered" % i)
        print("ok: %d ChannelData each way on channel 0x4000" % args.count)
        probe.expect(REFRESH, [attr(LIFETIME, struct.pack("!I", 0))])
        print("ok: allocation deleted (Refresh, lifetime 0)")
    except (RuntimeError, ValueError, OSError) as e:
        print("FAIL: %s" % e)
        return 1
    finally:
        stop.set()
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
