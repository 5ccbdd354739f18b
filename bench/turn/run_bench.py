#!/usr/bin/python3
"""TURN relay benchmark: consultd's embedded relay against coturn, same load,
same run, alternating which goes first, a fresh server process for every run.

Usage:
  bench/turn/run_bench.py --runner build-turn/tests-turn/turn_relay_runner \\
      [--rounds 2] [--quick] [--out bench/turn/results]

Needs: coturn (turnserver, turnutils_uclient, turnutils_peer), g++, the built
consultd-turn library (found next to the runner: <build>/turn/libconsultd-turn.a).
Everything runs on 127.0.0.1. Not a test: it takes a few minutes and its
numbers depend on the machine.

Workloads
  uclient: turnutils_uclient -c -m M -n 300 -l 1200 -z 20 against
           turnutils_peer, channels on (default) and off (-s, Send/Data
           indications); server CPU per relayed packet from /proc/PID/stat.
  loadgen: bench/turn/turn_loadgen (this folder), 100 sessions, 200-byte
           ChannelData, offered rate stepped up until loss; reports relayed
           packets/s, Mbit/s, RTT percentiles and server CPU per packet.
"""
import argparse
import datetime
import json
import os
import platform
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def free_port(kind=socket.SOCK_DGRAM, pair=False):
    for _ in range(200):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if not pair:
            return port
        if port % 2 == 0 and port < 65000:
            try:
                t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                t.bind(("127.0.0.1", port + 1))
                t.close()
                return port
            except OSError:
                pass
    raise RuntimeError("no free port")


def wait_stun(port, deadline=10.0):
    """Binding request until the server answers (no sleeps in place of readiness)."""
    end = time.monotonic() + deadline
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    tid = secrets.token_bytes(12)
    req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid
    try:
        while time.monotonic() < end:
            s.sendto(req, ("127.0.0.1", port))
            try:
                data, _ = s.recvfrom(2048)
                if data[8:20] == tid:
                    return
            except socket.timeout:
                continue
    finally:
        s.close()
    raise RuntimeError("server on port %d never answered a binding request" % port)


class Server:
    def __init__(self, kind, runner, secret, tmp, threads):
        self.kind = kind
        if kind == "consultd":
            cmd = [runner, "--secret", secret, "--tcp-port", "-1"]
            if threads:
                cmd += ["--threads", str(threads)]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            line = self.proc.stdout.readline().decode()
            self.port = int(re.search(r"udp=(\d+)", line).group(1))
        else:
            self.port = free_port()
            lo = free_port(socket.SOCK_DGRAM)
            lo = 20000 + (lo % 20000)
            cmd = ["turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                   "-p", str(self.port), "--use-auth-secret", "--static-auth-secret=" + secret, "--realm=bench",
                   "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp",
                   "--no-tcp-relay", "--min-port=%d" % lo, "--max-port=%d" % (lo + 4000),
                   "--log-file=" + os.path.join(tmp, "coturn.log"), "--simple-log", "--no-stdout-log",
                   "--pidfile=" + os.path.join(tmp, "coturn.pid"), "--userdb=" + os.path.join(tmp, "coturn.db")]
            if threads:
                cmd += ["--relay-threads", str(threads)]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_stun(self.port)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        stop_proc(self.proc)


def start_peer(tmp):
    port = free_port(pair=True)
    log = open(os.path.join(tmp, "peer-%d.log" % port), "w")
    proc = subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    time.sleep(0.2)  # turnutils_peer has no readiness signal
    if proc.poll() is not None:
        raise RuntimeError("turnutils_peer exited at start")
    return proc, port


def stop_proc(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def run_uclient(server, secret, clients, channels, tmp):
    # A fresh echo peer per run: in one long session a turnutils_peer died
    # mid-benchmark and every later run reported 100% loss.
    peer, peer_port = start_peer(tmp)
    try:
        return _run_uclient(server, secret, clients, channels, peer, peer_port)
    finally:
        stop_proc(peer)


def _run_uclient(server, secret, clients, channels, peer, peer_port):
    args = ["turnutils_uclient", "-W", secret, "-u", "bench", "-e", "127.0.0.1", "-r", str(peer_port),
            "-p", str(server.port), "-c", "-m", str(clients), "-n", "300", "-l", "1200", "-z", "20"]
    if not channels:
        args.append("-s")
    args.append("127.0.0.1")
    cpu0 = server.cpu()
    t0 = time.monotonic()
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300).stdout.decode(
        errors="replace")
    elapsed = time.monotonic() - t0
    cpu1 = server.cpu()
    totals = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out)
    lost = re.search(r"Total lost packets (\d+) \(([\d.]+)%\)", out)
    rtt = re.search(r"Average round trip delay ([\d.]+) ms; min = ([\d.]+) ms, max = ([\d.]+) ms", out)
    if peer.poll() is not None:
        raise RuntimeError("turnutils_peer died during the run; results invalid")
    sent, recv = (int(totals[-1][0]), int(totals[-1][1])) if totals else (0, 0)
    relayed = sent + recv  # each echoed message crosses the relay twice
    return {
        "sent": sent, "received": recv, "lost": int(lost.group(1)) if lost else None,
        "rtt_avg_ms": float(rtt.group(1)) if rtt else None, "rtt_max_ms": float(rtt.group(3)) if rtt else None,
        "server_cpu_s": round(cpu1 - cpu0, 3),
        "server_cpu_us_per_pkt": round((cpu1 - cpu0) * 1e6 / relayed, 2) if relayed else None,
        "wall_s": round(elapsed, 1),
    }


def run_loadgen(loadgen, server, secret, rate, duration, sessions, size, client_threads):
    cmd = [loadgen, "--port", str(server.port), "--secret", secret, "--sessions", str(sessions), "--rate", str(rate),
           "--duration", str(duration), "--size", str(size), "--client-threads", str(client_threads),
           "--server-pid", str(server.proc.pid)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120).stdout.decode()
    result = {}
    for kv in out.split():
        if "=" in kv:
            k, v = kv.split("=", 1)
            result[k] = float(v)
    if "sent" not in result:
        raise RuntimeError("loadgen failed: " + out)
    return result


def build_loadgen(runner, tmp):
    # The relay library of the build the runner came from: walk up from the
    # runner (build/tests/daemon/turn/turn_relay_runner) to a folder holding
    # daemon/turn/libconsultd-turn.a (or turn/libconsultd-turn.a).
    lib = None
    folder = os.path.dirname(os.path.abspath(runner))
    while lib is None and folder != os.path.dirname(folder):
        for candidate in ("daemon/turn/libconsultd-turn.a", "turn/libconsultd-turn.a"):
            if os.path.exists(os.path.join(folder, candidate)):
                lib = os.path.join(folder, candidate)
                break
        folder = os.path.dirname(folder)
    if lib is None:
        sys.exit("libconsultd-turn.a not found above " + runner + "; build the consultd-turn target")
    out = os.path.join(tmp, "turn_loadgen")
    cmd = ["g++", "-std=c++20", "-O2", "-Wall", "-Wextra", "-I" + os.path.join(ROOT, "daemon/turn/include"),
           "-I" + os.path.join(ROOT, "daemon/turn/src"), os.path.join(HERE, "turn_loadgen.cpp"), lib,
           "-lssl", "-lcrypto", "-pthread", "-o", out]
    subprocess.run(cmd, check=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer steps, for a smoke run")
    ap.add_argument("--threads", type=int, default=0, help="worker threads for both servers (0 = their default)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="turn-bench-")
    loadgen = build_loadgen(args.runner, tmp)
    secret = secrets.token_hex(16)
    results = {"uclient": [], "loadgen": []}
    order = ["coturn", "consultd"]
    uclient_cases = [(50, True), (50, False), (200, True)]
    if args.quick:
        uclient_cases = [(50, True)]
    rates = [20000, 30000, 40000, 50000, 60000, 70000, 80000, 90000, 100000, 120000, 150000]
    if args.quick:
        rates = [20000, 60000, 100000]
    # The rate sweep runs every rate for every round (no early stop): on a
    # shared machine one stall can cost a single run its zero-loss result.
    for i, rate in enumerate(rates):
        for rnd in range(args.rounds):
            for kind in (order if (rnd + i) % 2 == 0 else list(reversed(order))):
                srv = Server(kind, args.runner, secret, tmp, args.threads)
                try:
                    r = run_loadgen(loadgen, srv, secret, rate, 3, 100, 200, 1)
                finally:
                    srv.stop()
                r.update({"server": kind, "round": rnd})
                results["loadgen"].append(r)
                print("loadgen %-8s rate=%-6d %s" % (kind, rate, json.dumps(r)), flush=True)
        recent = [r for r in results["loadgen"] if r["offered_pps"] >= rates[max(0, i - 1)]]
        if i > 0 and all(r["loss_pct"] > 2.0 for r in recent):
            break  # both servers lost packets in every run of the last two rates
    for rnd in range(args.rounds):
        for clients, channels in uclient_cases:
            for kind in (order if rnd % 2 == 0 else list(reversed(order))):
                srv = Server(kind, args.runner, secret, tmp, args.threads)
                try:
                    r = run_uclient(srv, secret, clients, channels, tmp)
                finally:
                    srv.stop()
                r.update({"server": kind, "round": rnd, "clients": clients, "channels": channels})
                results["uclient"].append(r)
                print("uclient %-8s m=%-3d %-8s %s" % (kind, clients, "channels" if channels else "send",
                                                        json.dumps(r)), flush=True)
    os.makedirs(args.out, exist_ok=True)
    meta = {"date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "cpus": os.cpu_count(),
            "kernel": platform.release(), "command": " ".join(sys.argv),
            "coturn": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "coturn"], stdout=subprocess.PIPE).stdout.decode()}
    path = os.path.join(args.out, "latest.json")
    with open(path, "w") as f:
        json.dump({"meta": meta, **results}, f, indent=1)
    print("wrote " + path)
    summarize(results)


def summarize(results):
    print("\n== uclient (mean over rounds) ==")
    keys = sorted({(r["clients"], r["channels"]) for r in results["uclient"]})
    for clients, channels in keys:
        for kind in ("coturn", "consultd"):
            rs = [r for r in results["uclient"] if r["server"] == kind and r["clients"] == clients and
                  r["channels"] == channels]
            if not rs:
                continue
            cpu = sum(r["server_cpu_us_per_pkt"] or 0 for r in rs) / len(rs)
            lost = sum(r["lost"] or 0 for r in rs)
            print("m=%-3d %-8s %-8s cpu/pkt=%.2fus lost=%d rtt_avg=%s" % (
                clients, "channels" if channels else "send", kind, cpu, lost,
                [r["rtt_avg_ms"] for r in rs]))
    print("\n== loadgen: per offered rate, runs with zero loss / runs ==")
    rates = sorted({r["offered_pps"] for r in results["loadgen"]})
    for kind in ("coturn", "consultd"):
        cells = []
        for rate in rates:
            rs = [r for r in results["loadgen"] if r["server"] == kind and r["offered_pps"] == rate]
            cells.append("%dk:%d/%d" % (rate / 1000, sum(1 for r in rs if r["lost"] == 0), len(rs)))
        print("%-8s %s" % (kind, " ".join(cells)))
    print("\n== loadgen: highest rate where most runs had zero loss ==")
    for kind in ("coturn", "consultd"):
        best = None
        for rate in rates:
            rs = [r for r in results["loadgen"] if r["server"] == kind and r["offered_pps"] == rate]
            zero = [r for r in rs if r["lost"] == 0]
            if rs and 2 * len(zero) > len(rs):
                best = zero
        top = max((r for r in results["loadgen"] if r["server"] == kind), key=lambda r: r["relayed_pps"])
        if best:
            n = len(best)
            avg = lambda k: sum(r[k] for r in best) / n
            print("%-8s zero-loss: offered %.0f/s, relayed %.0f pkt/s %.1f Mbit/s, rtt p50/p90/p99 %.0f/%.0f/%.0f us, "
                  "cpu/pkt %.2f us (mean of %d runs)" % (
                      kind, best[0]["offered_pps"], avg("relayed_pps"), avg("relayed_mbps"), avg("rtt_p50_us"),
                      avg("rtt_p90_us"), avg("rtt_p99_us"), avg("server_cpu_us_per_pkt"), n))
        print("%-8s highest relayed: %.0f pkt/s (offered %.0f/s, loss %.2f%%)" % (
            kind, top["relayed_pps"], top["offered_pps"], top["loss_pct"]))

if __name__ == "__main__":
    sys.exit(main())
