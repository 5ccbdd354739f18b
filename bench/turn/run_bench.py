#!/usr/bin/python3
"""TURN relay benchmark: consultd's embedded relay against coturn, same load,
same run, alternating which goes first, a fresh server process for every run.

Usage:
  bench/turn/run_bench.py --runner build/tests/daemon/turn/turn_relay_runner \\
      [--rounds 5] [--quick] [--only floor,sweep,uclient] [--out bench/turn/results]

Needs: coturn (turnserver, turnutils_uclient, turnutils_peer), g++, the built
consultd-turn library (found next to the runner: <build>/turn/libconsultd-turn.a).
Everything runs on 127.0.0.1. Not a test: it takes a few minutes and its
numbers depend on the machine.

Workloads
  uclient: turnutils_uclient -c -m M -n 300 -l 1200 -z 20 against
           turnutils_peer, channels on (default) and off (-s, Send/Data
           indications); server CPU per relayed packet from /proc/PID/stat.
  sweep:   bench/turn/turn_loadgen (this folder), 100 sessions, 200-byte
           ChannelData. Every round steps the offered rate up for both
           servers, alternating which goes first at each step; a server's
           round ends at its first run with any loss, and its zero-loss rate
           for the round is the last rate it relayed without loss. Reports
           the median and range over rounds, the per-round ratio, and at
           every rate both servers passed in a round the paired CPU ratio.
  floor:   turn_loadgen --floor: one sendto() + recv() of the same datagram on
           loopback in one thread, the kernel's work per relayed packet
           without any relay, wakeup or context switch (once per round).

Every server figure comes from /proc/<pid>: CPU = utime + stime and context
switches (voluntary + involuntary, all threads). Not the utime/stime split:
it is sampled at timer ticks and on this VM it contradicts perf at low
rates; use perf for the user/kernel share. The load
average is recorded with every run: on a shared machine read the medians and
the spread, not single runs.
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
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    user, system, _ = usage(pid)
    return user + system


def usage(pid):
    """(user seconds, system seconds, context switches of all threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    switches = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, task)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        switches += int(line.split(":")[1])
        except FileNotFoundError:
            pass  # a thread that exited meanwhile
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK, switches


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
    extra_args = []  # --consultd-args, for A/B runs of the relay's own settings
    io_engine = None  # what the last consultd reported ("io_uring" / "epoll")
    loops = None  # and how many worker loops it runs

    def __init__(self, kind, runner, secret, tmp, threads):
        self.kind = kind
        if kind == "consultd":
            cmd = [runner, "--secret", secret, "--tcp-port", "-1"] + Server.extra_args
            if threads:
                cmd += ["--threads", str(threads)]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            line = self.proc.stdout.readline().decode()
            self.port = int(re.search(r"udp=(\d+)", line).group(1))
            engine = re.search(r"io=(\S+)", line)
            Server.io_engine = engine.group(1) if engine else None
            loops = re.search(r"threads=(\d+)", line)
            Server.loops = int(loops.group(1)) if loops else None
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

    def usage(self):
        return usage(self.proc.pid)

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
    u0, s0, x0 = server.usage()
    t0 = time.monotonic()
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300).stdout.decode(
        errors="replace")
    elapsed = time.monotonic() - t0
    u1, s1, x1 = server.usage()
    cpu0, cpu1 = u0 + s0, u1 + s1
    totals = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out)
    lost = re.search(r"Total lost packets (\d+) \(([\d.]+)%\)", out)
    rtt = re.search(r"Average round trip delay ([\d.]+) ms; min = ([\d.]+) ms, max = ([\d.]+) ms", out)
    if peer.poll() is not None:
        raise RuntimeError("turnutils_peer died during the run; results invalid")
    sent, recv = (int(totals[-1][0]), int(totals[-1][1])) if totals else (0, 0)
    relayed = sent + recv  # each echoed message crosses the relay twice
    extra = {} if totals else {"error": out[-2000:]}  # uclient gave up: keep why, for the JSON
    return {**extra,
        "sent": sent, "received": recv, "lost": int(lost.group(1)) if lost else None,
        "rtt_avg_ms": float(rtt.group(1)) if rtt else None, "rtt_max_ms": float(rtt.group(3)) if rtt else None,
        "server_cpu_s": round(cpu1 - cpu0, 3),
        "server_cpu_us_per_pkt": round((cpu1 - cpu0) * 1e6 / relayed, 2) if relayed else None,
        "server_ctx_switches_per_pkt": round((x1 - x0) / relayed, 3) if relayed else None,
        "wall_s": round(elapsed, 1), "load1": os.getloadavg()[0],
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
    result["load1"] = os.getloadavg()[0]
    return result


def run_floor(loadgen, size):
    out = subprocess.run([loadgen, "--floor", "200000", "--size", str(size)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=120, check=True).stdout.decode()
    result = {k: float(v) for k, v in (kv.split("=", 1) for kv in out.split() if "=" in kv)}
    result["load1"] = os.getloadavg()[0]
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


def alternate(order, flip):
    return list(reversed(order)) if flip else list(order)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner")
    ap.add_argument("--summarize", nargs="+", metavar="JSON",
                    help="only print the summary of earlier runs' latest.json files, pooled (rounds renumbered)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer steps and cases, for a smoke run")
    ap.add_argument("--threads", type=int, default=0, help="worker threads for both servers (0 = their default)")
    ap.add_argument("--only", default="floor,sweep,uclient", help="comma-separated parts to run")
    ap.add_argument("--duration", type=float, default=3, help="seconds per load generator run")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--consultd-args", default="",
                    help="extra turn_relay_runner arguments, e.g. '--io-engine epoll' or '--batch-wait-us 0'")
    args = ap.parse_args()
    if args.summarize:
        return summarize(pooled(args.summarize))
    if not args.runner:
        ap.error("--runner is required")
    parts = set(args.only.split(","))
    Server.extra_args = args.consultd_args.split()

    tmp = tempfile.mkdtemp(prefix="turn-bench-")
    loadgen = build_loadgen(args.runner, tmp)
    secret = secrets.token_hex(16)
    results = {"floor": [], "sweep": [], "uclient": []}
    order = ["coturn", "consultd"]
    size, sessions = 200, 100
    uclient_cases = [(50, True), (50, False), (200, True)]
    rates = list(range(20000, 160001, 10000))
    if args.quick:
        uclient_cases = [(50, True)]
        rates = [20000, 60000, 100000]
    started = time.monotonic()
    for rnd in range(args.rounds if "floor" in parts else 0):
        r = run_floor(loadgen, size)
        r["round"] = rnd
        results["floor"].append(r)
        print("floor    round=%d %s" % (rnd, json.dumps(r)), flush=True)
    for rnd in range(args.rounds if "sweep" in parts else 0):
        # Both servers step up together, alternating who runs first, so a
        # burst of load from elsewhere hits both at about the same rates.
        active = list(order)
        for i, rate in enumerate(rates):
            for kind in alternate(order, (rnd + i) % 2 == 1):
                if kind not in active:
                    continue
                srv = Server(kind, args.runner, secret, tmp, args.threads)
                try:
                    r = run_loadgen(loadgen, srv, secret, rate, args.duration, sessions, size, 1)
                finally:
                    srv.stop()
                r.update({"server": kind, "round": rnd, "duration_s": args.duration})
                results["sweep"].append(r)
                print("sweep    %-8s round=%d rate=%-6d %s" % (kind, rnd, rate, json.dumps(r)), flush=True)
                if not passed(r):
                    active.remove(kind)  # this round's zero-loss rate for it is the previous step
            if not active:
                break
    for rnd in range(args.rounds if "uclient" in parts else 0):
        for c, (clients, channels) in enumerate(uclient_cases):
            for kind in alternate(order, (rnd + c) % 2 == 1):
                srv = Server(kind, args.runner, secret, tmp, args.threads)
                try:
                    r = run_uclient(srv, secret, clients, channels, tmp)
                finally:
                    srv.stop()
                r.update({"server": kind, "round": rnd, "clients": clients, "channels": channels})
                results["uclient"].append(r)
                print("uclient  %-8s round=%d m=%-3d %-8s %s" % (kind, rnd, clients, "channels" if channels else "send",
                                                               json.dumps(r)), flush=True)
    os.makedirs(args.out, exist_ok=True)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpus": os.cpu_count(), "kernel": platform.release(), "command": " ".join(sys.argv),
            "minutes": round((time.monotonic() - started) / 60, 1),
            "consultd_io_engine": Server.io_engine, "consultd_threads": Server.loops, "consultd_args": args.consultd_args,
            "coturn": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "coturn"],
                                     stdout=subprocess.PIPE).stdout.decode()}
    path = os.path.join(args.out, "latest.json")
    with open(path, "w") as f:
        json.dump({"meta": meta, **results}, f, indent=1)
    print("wrote " + path)
    summarize(results)


def pooled(paths):
    """The runs of several latest.json files as one, rounds renumbered so
    that pairs stay within the run (and round) they were measured in."""
    out = {"floor": [], "sweep": [], "uclient": []}
    offset = 0
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        rounds = 0
        for part in out:
            for r in data.get(part, []):
                r = dict(r, round=r["round"] + offset)
                r.setdefault("duration_s", 3)
                out[part].append(r)
                rounds = max(rounds, r["round"] - offset + 1)
        offset += rounds
    return out


def spread(values, fmt="%.2f"):
    """'median [min..max] (n)' of the values that are not None."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return "-"
    return (fmt + " [" + fmt + ".." + fmt + "] (n=%d)") % (statistics.median(values), values[0], values[-1],
                                                           len(values))


def passed(run):
    """Zero loss at the offered rate: nothing lost, and the generator really
    offered the rate (on a saturated machine it can fall behind, and a run
    it did not load fully proves nothing)."""
    return run["lost"] == 0 and run["sent"] >= 0.97 * run["offered_pps"] * run["duration_s"]


def zero_loss_by_round(sweep):
    """{server: {round: (offered, run)}}: the highest rate of the round's
    unbroken loss-free steps (0, None if its first step lost)."""
    out = {}
    for r in sweep:
        rounds = out.setdefault(r["server"], {})
        best = rounds.setdefault(r["round"], (0, None))
        if passed(r) and r["offered_pps"] > best[0]:
            rounds[r["round"]] = (r["offered_pps"], r)
    return out


def summarize(results):
    loads = [r["load1"] for part in results.values() for r in part if "load1" in r]
    if loads:
        print("\nload average (1 min) at the runs: %s" % spread(loads, "%.1f"))
    if results["floor"]:
        print("\n== kernel floor (sendto + recv of one datagram, one thread) ==")
        print("unconnected %s us/pkt, connected %s us/pkt" % (
            spread([r["floor_us_per_pkt"] for r in results["floor"]]),
            spread([r["floor_connected_us_per_pkt"] for r in results["floor"]])))
    sweep = results["sweep"]
    if sweep:
        zl = zero_loss_by_round(sweep)
        print("\n== sweep: zero-loss rate per round (offered msgs/s; relayed pkt/s is about twice) ==")
        for kind in ("coturn", "consultd"):
            per_round = zl.get(kind, {})
            print("%-8s offered %s  relayed pkt/s %s  by round %s" % (
                kind, spread([v[0] for v in per_round.values()], "%.0f"),
                spread([v[1]["relayed_pps"] if v[1] else 0 for v in per_round.values()], "%.0f"),
                [per_round[k][0] for k in sorted(per_round)]))
        ratios = [zl["consultd"][k][0] / zl["coturn"][k][0] for k in zl.get("consultd", {})
                  if k in zl.get("coturn", {}) and zl["coturn"][k][0] > 0]
        print("consultd/coturn zero-loss rate, paired by round: %s" % spread(ratios))
        print("\n== sweep: per rate, both servers in the same round ==")
        print("rate    | cpu us/pkt coturn | consultd | consultd/coturn (paired) | "
              "ctx sw/pkt cot/cons | passed runs cot/cons | rtt p50/p99 us cot | cons")
        for rate in sorted({r["offered_pps"] for r in sweep}):
            by = {}
            for r in sweep:
                if r["offered_pps"] == rate:
                    by.setdefault(r["round"], {})[r["server"]] = r
            pairs = [v for v in by.values() if "coturn" in v and "consultd" in v]
            if not pairs:
                continue
            med = lambda kind, key: statistics.median(p[kind][key] for p in pairs)
            print("%-7d | %-17s | %-8s | %-24s | %.3f / %.3f | %d/%d, %d/%d | %.0f/%.0f | %.0f/%.0f" % (
                rate, "%.2f" % med("coturn", "server_cpu_us_per_pkt"), "%.2f" % med("consultd", "server_cpu_us_per_pkt"),
                spread([p["consultd"]["server_cpu_us_per_pkt"] / p["coturn"]["server_cpu_us_per_pkt"] for p in pairs
                        if p["coturn"]["server_cpu_us_per_pkt"]]),
                med("coturn", "server_ctx_switches_per_pkt"), med("consultd", "server_ctx_switches_per_pkt"),
                sum(1 for p in pairs if passed(p["coturn"])), len(pairs),
                sum(1 for p in pairs if passed(p["consultd"])), len(pairs),
                med("coturn", "rtt_p50_us"), med("coturn", "rtt_p99_us"),
                med("consultd", "rtt_p50_us"), med("consultd", "rtt_p99_us")))
    if results["uclient"]:
        print("\n== uclient (turnutils_uclient -n 300 -l 1200 -z 20) ==")
        keys = sorted({(r["clients"], r["channels"]) for r in results["uclient"]})
        for clients, channels in keys:
            rows = [r for r in results["uclient"] if r["clients"] == clients and r["channels"] == channels]
            for kind in ("coturn", "consultd"):
                rs = [r for r in rows if r["server"] == kind]
                print("m=%-3d %-8s %-8s cpu/pkt %s us  ctx sw/pkt %s  lost %s  rtt avg ms %s" % (
                    clients, "channels" if channels else "send", kind,
                    spread([r["server_cpu_us_per_pkt"] for r in rs]),
                    spread([r["server_ctx_switches_per_pkt"] for r in rs], "%.3f"),
                    [r["lost"] for r in rs], [r["rtt_avg_ms"] for r in rs]))
            by = {}
            for r in rows:
                by.setdefault(r["round"], {})[r["server"]] = r
            ratios = [v["consultd"]["server_cpu_us_per_pkt"] / v["coturn"]["server_cpu_us_per_pkt"]
                      for v in by.values() if "coturn" in v and "consultd" in v and
                      v["coturn"]["server_cpu_us_per_pkt"] and v["consultd"]["server_cpu_us_per_pkt"]]
            print("m=%-3d %-8s consultd/coturn cpu/pkt, paired by round: %s" % (
                clients, "channels" if channels else "send", spread(ratios)))


if __name__ == "__main__":
    sys.exit(main())
