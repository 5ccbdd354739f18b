#!/usr/bin/python3
"""coturn's own clients against the real consultd TURN relay, on 127.0.0.1 only.

Usage: coturn_clients_test.py <path to turn_relay_runner> [--io-engine io_uring|epoll]

Starts turn_relay_runner (the TurnRelay library with a random secret, UDP, TCP
and TLS listeners on kernel-chosen ports) and turnutils_peer, then runs
turnutils_stunclient and turnutils_uclient with -W <secret> over UDP, TCP and
TLS, with channels and with Send indications (-s), with and without RTCP
allocations (-c), several concurrent clients each, and requires zero loss. A
run with the wrong secret must fail. With --io-engine the relay must report
that engine (CTest runs the script once per engine). Every process is stopped by PID; every
wait has a deadline.
"""
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, flush=True)


def free_udp_port_pair():
    """An even UDP port p with p and p+1 free (uclient also talks to peer port+1)."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port % 2 == 0 and port < 65000:
            try:
                t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                t.bind(("127.0.0.1", port + 1))
                t.close()
                return port
            except OSError:
                continue
    raise RuntimeError("no free UDP port pair")


def read_line(proc, deadline_s):
    end = time.monotonic() + deadline_s
    buf = b""
    while time.monotonic() < end:
        r, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            break
        if chunk == b"\n":
            return buf.decode()
        buf += chunk
    raise RuntimeError("relay runner did not report its ports in time (got %r)" % buf)


def stop(proc, name):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            fail(name + " did not stop on SIGTERM")


def run_uclient(name, args, expect_ok=True, timeout=60):
    cmd = ["turnutils_uclient"] + args
    start = time.monotonic()
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout).stdout.decode(
            errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        if expect_ok:
            fail("%s: uclient timed out after %ds\n%s" % (name, timeout, out[-2000:]))
        else:
            print("ok   %-34s refused (timed out without relaying)" % name, flush=True)
        return
    lost = re.search(r"Total lost packets (\d+) \(([\d.]+)%\)", out)
    # The last progress line is the final total.
    totals = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out)
    sent = totals[-1] if totals else None
    if expect_ok:
        if not lost or not sent:
            fail("%s: no summary from uclient:\n%s" % (name, out[-3000:]))
            return
        n_sent, n_recv = int(sent[0]), int(sent[1])
        if int(lost.group(1)) != 0 or n_sent != n_recv or n_sent == 0:
            fail("%s: loss: sent=%d received=%d lost=%s\n%s" % (name, n_sent, n_recv, lost.group(1), out[-1500:]))
            return
        rtt = re.search(r"Average round trip delay ([\d.]+) ms", out)
        print("ok   %-34s sent=%d received=%d lost=0 rtt=%sms (%.1fs)" %
              (name, n_sent, n_recv, rtt.group(1) if rtt else "?", time.monotonic() - start), flush=True)
    else:
        relayed = sent and int(sent[1]) > 0
        if relayed:
            fail("%s: expected refusal but packets were relayed:\n%s" % (name, out[-1500:]))
        else:
            print("ok   %-34s refused" % name, flush=True)


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] != "--io-engine"):
        print(__doc__)
        return 2
    runner_path = sys.argv[1]
    engine_args = sys.argv[2:]
    for tool in ("turnutils_uclient", "turnutils_peer", "turnutils_stunclient", "openssl"):
        if not shutil.which(tool):
            print("missing %s (apt-get install coturn openssl)" % tool)
            return 1

    tmp = tempfile.mkdtemp(prefix="turn-test-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)
    secret = secrets.token_hex(16)

    relay = subprocess.Popen([runner_path, "--secret", secret, "--threads", "2", "--tls-port", "0", "--cert", cert,
                              "--key", key] + engine_args, stdout=subprocess.PIPE)
    peer = None
    expected_packets = 0
    try:
        ports = dict(kv.split("=") for kv in read_line(relay, 10).split())
        udp, tcp, tls = ports["udp"], ports["tcp"], ports["tls"]
        print("relay ports: udp=%s tcp=%s tls=%s, io engine %s" % (udp, tcp, tls, ports.get("io")), flush=True)
        if engine_args and ports.get("io") != engine_args[1]:
            raise RuntimeError("asked for io engine %s, the relay reports %r" % (engine_args[1], ports.get("io")))

        peer_port = free_udp_port_pair()
        peer = subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p", str(peer_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # turnutils_peer gives no readiness signal; uclient retries nothing, so give it a moment
        if peer.poll() is not None:
            raise RuntimeError("turnutils_peer exited")

        out = subprocess.run(["turnutils_stunclient", "-p", udp, "127.0.0.1"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=20).stdout.decode(errors="replace")
        if re.search(r"UDP reflexive addr: 127\.0\.0\.1:\d+", out):
            print("ok   turnutils_stunclient (binding)", flush=True)
        else:
            fail("stunclient: no reflexive address:\n" + out)

        common = ["-W", secret, "-e", "127.0.0.1", "-r", str(peer_port), "-z", "5"]
        runs = [
            ("udp channels, 8 clients", ["-p", udp, "-c", "-m", "8", "-n", "200", "-l", "400"]),
            ("udp send indications, 4 clients", ["-p", udp, "-c", "-s", "-m", "4", "-n", "200", "-l", "400"]),
            ("udp channels + rtcp (even-port)", ["-p", udp, "-m", "4", "-n", "100", "-l", "200"]),
            ("tcp channels, 6 clients", ["-t", "-p", tcp, "-c", "-m", "6", "-n", "200", "-l", "400"]),
            ("tcp send indications, 3 clients", ["-t", "-p", tcp, "-c", "-s", "-m", "3", "-n", "200", "-l", "301"]),
            ("tls channels, 3 clients", ["-t", "-S", "-p", tls, "-c", "-m", "3", "-n", "100", "-l", "400"]),
        ]
        for name, args in runs:
            run_uclient(name, ["-u", "user%d" % len(name)] + common + args + ["127.0.0.1"])
        expected_packets = sum(int(a[a.index("-m") + 1]) * int(a[a.index("-n") + 1]) for _, a in runs)

        bad = ["-W", "wrong-" + secret, "-u", "intruder", "-e", "127.0.0.1", "-r", str(peer_port), "-p", udp, "-c",
               "-n", "5", "127.0.0.1"]
        run_uclient("wrong secret", bad, expect_ok=False, timeout=15)
    finally:
        if peer:
            stop(peer, "turnutils_peer")
        stop(relay, "relay runner")
    final = dict(line.split("=", 1) for line in relay.stdout.read().decode().split() if "=" in line)
    print("relay counters: " + " ".join("%s=%s" % kv for kv in sorted(final.items())), flush=True)
    if (int(final.get("packets_from_clients", 0)) < expected_packets or
            int(final.get("packets_to_clients", 0)) < expected_packets):
        fail("relay counters too low for the runs above: %r" % final)
    if int(final.get("auth_failures", 0)) < 1:
        fail("the wrong-secret run left no auth failure in the relay's counters")
    shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("all coturn client runs passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
