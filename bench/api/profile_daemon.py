#!/usr/bin/python3
"""Profiles consultd under the wrk load of bench/api/run_bench.py (one endpoint).

Usage (root, Debian 12, from the repository root):
  bench/api/profile_daemon.py --endpoint token|sessions|providers [--consultd BIN] [--plugins DIR]
                       [--duration 10] [--perf] [--gdb-samples 20] [--out DIR]

Starts its own consultd (same temp config as run_bench.py), creates the 200
sessions x 5 patients the token run uses, runs wrk -t2 -c16 against the
endpoint and, while it runs:
  --perf           perf record -g --call-graph dwarf on the daemon for 5 s, then
                   perf report (on-CPU: where the CPU time goes);
  --gdb-samples N  N "thread apply all bt" snapshots with gdb, 0.3 s apart,
                   folded into counts of the innermost consultd frame and the
                   full stacks (off-CPU: where the worker threads wait).
Everything stays on 127.0.0.1; every process it starts is stopped by pid.
"""
import argparse
import collections
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402


CATEGORIES = [
    ("std::regex compilation", lambda n: "_Compiler" in n or "basic_regex<char" in n),
    ("JWT signing (Poco::JWT::Signer::sign)", lambda n: "JWT::Signer::sign" in n),
    ("store writer thread (group commit, fdatasync)", lambda n: "Writer::threadMain" in n),
    ("Store::findSession (read transaction + queries)", lambda n: "Store::findSession" in n),
    ("JSON stringify", lambda n: "Stringifier" in n or "doStringify" in n),
    ("JSON parse", lambda n: "JSON::Parser" in n or "ParserImpl" in n),
    ("Dispatcher::send", lambda n: "Dispatcher::send" in n),
    ("API key check (sha256)", lambda n: "sha256Hex" in n),
    ("request id / random bytes", lambda n: "randomBase32" in n or "randomBytes" in n),
]


def fold_perf(data, top=30):
    """Shares of the daemon's samples by category and by innermost consultd
    frame (function file:line) from perf script."""
    text = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym,srcline"], capture_output=True,
                          text=True).stdout
    samples, cur = [], None
    for line in text.splitlines():
        if not line.strip():
            if cur is not None:
                samples.append(cur)
            cur = None
        elif re.match(r"^\s*\d+\s*$", line):
            cur = []
        elif cur is not None:
            m = re.match(r"\s*[0-9a-f]+ (.+)", line)
            if m:
                cur.append([m.group(1), ""])
            elif cur:
                cur[-1][1] = line.strip().split("/")[-1]
    if cur:
        samples.append(cur)
    n = max(len(samples), 1)
    cats, inner = collections.Counter(), collections.Counter()
    for frames in samples:
        names = [f[0] for f in frames]
        for label, match in CATEGORIES:
            if any(match(x) for x in names):
                cats[label] += 1
        own = next((f for f in frames if re.search(r"consultd::", f[0])), None)
        inner[(own[0].split("(")[0][:100] + "  " + own[1]) if own else "(no consultd frame) " +
              (names[0][:60] if names else "")] += 1
    lines = ["%d samples" % len(samples), "", "by category (a sample may count in several):"]
    lines += ["%5.1f%%  %s" % (100.0 * v / n, k) for k, v in cats.most_common()]
    lines += ["", "by innermost consultd frame:"]
    lines += ["%5.1f%%  %s" % (100.0 * v / n, k) for k, v in inner.most_common(top)]
    return "\n".join(lines)


def gdb_sample(pid):
    r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "set pagination off",
                        "-ex", "thread apply all bt 40"], capture_output=True, text=True, timeout=60)
    stacks, cur = [], None
    for line in r.stdout.splitlines():
        if line.startswith("Thread "):
            cur = []
            stacks.append(cur)
        elif cur is not None and re.match(r"#\d+ ", line):
            m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(.+?) \(", line)
            fn = m.group(1) if m else line
            loc = re.search(r" at (\S+):(\d+)", line)
            cur.append(fn + ("  [" + os.path.basename(loc.group(1)) + ":" + loc.group(2) + "]" if loc else ""))
    return stacks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", choices=["token", "sessions", "providers"], default="token")
    ap.add_argument("--consultd", default=os.path.join(rb.ROOT, "build/daemon/consultd"))
    ap.add_argument("--plugins", default=os.path.join(rb.ROOT, "build/plugins-out"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--gdb-samples", type=int, default=0)
    ap.add_argument("--syscalls", action="store_true",
                    help="perf stat: fdatasync calls (= group commits) and context switches for 5 s")
    ap.add_argument("--out")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="consultd-apiprof-")
    out = os.path.abspath(args.out) if args.out else work
    os.makedirs(out, exist_ok=True)
    cdir = os.path.join(work, "consultd")
    os.makedirs(os.path.join(cdir, "state"), mode=0o700)
    secret = os.path.join(cdir, "jitsi_app_secret")
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, secrets.token_urlsafe(48).encode())
    os.close(fd)
    port = rb.free_port()
    conf = os.path.join(cdir, "bench.conf")
    with open(conf, "w") as f:
        f.write(rb.CONSULTD_CONF.format(port=port, plugins=os.path.abspath(args.plugins), secret=secret))
    binary = os.path.abspath(args.consultd)
    created = subprocess.run([binary, "apikey", "create", "--config", conf, "--name", "bench", "--scopes", "admin",
                              "--json"], capture_output=True, text=True, check=True)
    key = json.loads(created.stdout)["key"]
    daemon = subprocess.Popen([binary, "--config", conf], stdout=open(os.path.join(work, "consultd.log"), "w"),
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    helpers = []
    try:
        auth = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
        rb.wait_http(port, "GET", "/api/v1/providers", None, auth, proc=daemon)
        api = rb.Api(port, key)
        _, pairs = rb.make_sessions(api, "p" + secrets.token_hex(3))
        api.conn.close()
        script = os.path.join(work, "wrk.lua")
        rb.wrk_script(script, args.endpoint, key, tag=secrets.token_hex(3), pairs=pairs)
        wrk = subprocess.Popen(["wrk", "-t2", "-c16", "-d%ds" % args.duration, "--latency", "-s", script,
                                "http://127.0.0.1:%d" % port], stdout=subprocess.PIPE, text=True)
        helpers.append(wrk)
        time.sleep(2)
        if args.perf:
            data = os.path.join(out, "perf.data")
            subprocess.run(["perf", "record", "-q", "-F", "499", "-g", "--call-graph", "dwarf,16384", "-o", data,
                            "-p", str(daemon.pid), "--", "sleep", "5"], check=True)
        if args.syscalls:
            r = subprocess.run(["perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,"
                                "context-switches,task-clock", "-p", str(daemon.pid), "--", "sleep", "5"],
                               capture_output=True, text=True)
            print("perf stat over 5 s (count,unit,event,...):\n" + r.stderr)
        folded = collections.Counter()
        inner = collections.Counter()
        for _ in range(args.gdb_samples):
            for stack in gdb_sample(daemon.pid):
                if not stack:
                    continue
                folded[" <- ".join(stack[:14])] += 1
                own = next((f for f in stack if "consultd" in f or "[" in f and ".cpp" in f), stack[0])
                inner[own] += 1
            time.sleep(0.3)
        text, _ = wrk.communicate(timeout=args.duration + 30)
        print(text)
        if args.gdb_samples:
            with open(os.path.join(out, "gdb-stacks.txt"), "w") as f:
                for stack, n in folded.most_common():
                    f.write("%5d %s\n\n" % (n, stack))
            print("innermost consultd frames of all threads over %d gdb samples:" % args.gdb_samples)
            for fn, n in inner.most_common(25):
                print("%5d  %s" % (n, fn))
            print("full stacks: " + os.path.join(out, "gdb-stacks.txt"))
        if args.perf:
            report = subprocess.run(["perf", "report", "-i", os.path.join(out, "perf.data"), "--no-children",
                                     "--sort", "dso,symbol", "--stdio", "-g", "none", "--percent-limit", "0.7"],
                                    capture_output=True, text=True).stdout
            with open(os.path.join(out, "perf-report.txt"), "w") as f:
                f.write(report)
            folded = fold_perf(os.path.join(out, "perf.data"))
            with open(os.path.join(out, "perf-folded.txt"), "w") as f:
                f.write(folded + "\n")
            print(folded)
            print("perf report: " + os.path.join(out, "perf-report.txt"))
    finally:
        for p in helpers:
            if p.poll() is None:
                p.terminate()
                p.wait()
        rb.stop(daemon, "consultd")
    return 0


if __name__ == "__main__":
    sys.exit(main())
