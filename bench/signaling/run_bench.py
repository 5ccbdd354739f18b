#!/usr/bin/python3
"""bench/signaling: N concurrent WebSocket participants in N/2 rooms of the
built daemon's signaling, exchanging offer/answer/ICE/chat. A measurement,
not a test.

For each N (default 100, 500, 1000) a fresh daemon (tests/integration/harness.py:
temp dir, free loopback port, webrtc provider) gets N/2 sessions, started, with
a host and a patient grant each; the load generator (Debian's
python3-websockets, asyncio, split over --procs processes by room) opens N
sockets, joins them all, then for --seconds every room runs cycles of
offer -> answer, 2 ICE candidates each way and one chat from each side, one
cycle per --period seconds per room (staggered). Every relayed message carries
the sender's CLOCK_MONOTONIC time; the receiver records the relay latency.

Reported per N: connections held (joined, and consultd_signaling_connections
from /metrics), messages sent/received, relay latency p50/p99/max, daemon RSS
(VmRSS while loaded, VmHWM peak) and thread count, both before the sockets
and under load. The soft RLIMIT_NOFILE is raised to the hard limit first
(the daemon inherits it): 1,000 sockets need 2,000+ descriptors on one host.

  /usr/bin/python3 bench/signaling/run_bench.py --bin build-sig/daemon/consultd \
      --plugins build-sig/plugins-out [--levels 100,500,1000] [--seconds 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def proc_status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) // 1024  # MiB
            elif key == "Threads":
                out[key] = int(value)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


# ---- load generator (one process handles a subset of rooms) ------------------------------


async def room_worker(port, rooms, seconds, period, start_at, results):
    import websockets

    url = f"ws://127.0.0.1:{port}/api/v1/signal"
    lat = results["latency_us"]
    sockets = {}
    connect_sem = asyncio.Semaphore(32)

    async def open_peer(key, token):
        async with connect_sem:
            for attempt in range(5):
                try:
                    ws = await websockets.connect(url, ping_interval=None, max_size=1 << 20, open_timeout=30)
                    await ws.send(json.dumps({"type": "join", "token": token}))
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if msg.get("type") != "joined":
                        results["join_errors"] += 1
                        await ws.close()
                        return
                    sockets[key] = ws
                    results["joined"] += 1
                    return
                except (OSError, asyncio.TimeoutError, websockets.WebSocketException):
                    await asyncio.sleep(0.2 * (attempt + 1))
            results["join_errors"] += 1

    await asyncio.gather(*(open_peer((sid, who), tok) for sid, pair in rooms for who, tok in pair.items()))
    results["joined_at"] = time.monotonic()

    async def reader(key, ws):
        try:
            async for raw in ws:
                m = json.loads(raw)
                stamp = m.get("ts")
                if stamp is None and m.get("type") == "chat":
                    stamp = int(m["text"].split(" ", 1)[0])  # chats are rebuilt by the server: stamp in the text
                if stamp is not None:
                    lat.append((time.monotonic_ns() - stamp) // 1000)
                    results["received"] += 1
                elif m.get("type") == "error":
                    results["errors"] += 1
        except websockets.ConnectionClosed as e:
            if not results.get("stopping"):
                results["closed"] += 1

    readers = [asyncio.ensure_future(reader(k, ws)) for k, ws in sockets.items()]

    # Wait for every process to have joined (a shared start time), so the
    # latency is measured with all N sockets held.
    await asyncio.sleep(max(0.0, start_at - time.time()))
    end = time.monotonic() + seconds

    async def send(ws, message):
        message["ts"] = time.monotonic_ns()
        if message["type"] == "chat":
            message["text"] = f"{message['ts']} {message['text']}"
        await ws.send(json.dumps(message))
        results["sent"] += 1

    async def room_loop(sid):
        host, patient = sockets.get((sid, "host")), sockets.get((sid, "patient"))
        if host is None or patient is None:
            return
        await asyncio.sleep(random.uniform(0, period))
        cycle = 0
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                await send(host, {"type": "offer", "to": "pat-1", "sdp": "v=0 " + "o" * 1500})
                await send(patient, {"type": "answer", "to": "dr-house", "sdp": "v=0 " + "a" * 1500})
                for i in range(2):
                    cand = {"candidate": f"candidate:{i} 1 udp 2122260223 10.0.0.{i} 5000{i} typ host",
                            "sdpMid": "0", "sdpMLineIndex": 0}
                    await send(host, {"type": "ice-candidate", "to": "pat-1", "candidate": cand})
                    await send(patient, {"type": "ice-candidate", "to": "dr-house", "candidate": cand})
                await send(host, {"type": "chat", "text": f"cycle {cycle} from the host"})
                await send(patient, {"type": "chat", "text": f"cycle {cycle} from the patient"})
            except websockets.ConnectionClosed:
                return
            cycle += 1
            await asyncio.sleep(max(0.0, period - (time.monotonic() - t0)))

    await asyncio.gather(*(room_loop(sid) for sid, _ in rooms))
    await asyncio.sleep(1.0)  # let the last relays arrive
    results["stopping"] = True
    await asyncio.gather(*(ws.close() for ws in sockets.values()), return_exceptions=True)
    for r in readers:
        r.cancel()


def worker_main(port, rooms, seconds, period, start_at, queue):
    results = {"latency_us": [], "joined": 0, "join_errors": 0, "sent": 0, "received": 0, "errors": 0,
               "closed": 0}
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1:] * 2)
    except (ValueError, OSError):
        pass
    asyncio.run(room_worker(port, rooms, seconds, period, start_at, results))
    queue.put(results)


# ---- one level ------------------------------------------------------------------------------


def run_level(harness, n, args):
    d = harness.Daemon(None, jaas=False, name=f"bench-sig-{n}", config={
        "providers": {"default": "webrtc", "webrtc": {"enabled": True, "token_ttl_seconds": 3600}},
        "security": {"token_rate_per_minute": 10000, "api_rate_per_second": 1000000},
        "signaling": {"max_connections": max(2000, n + 100), "max_connections_per_address": n + 100,
                      "worker_threads": args.workers},
        "logging": {"level": "notice"},
        "server": {"threads": 32},
    })
    key = d.create_api_key("admin")
    d.start()
    try:
        rooms = []
        for i in range(n // 2):
            r = d.request("POST", "/api/v1/sessions", harness.session_body(provider="webrtc"), key=key)
            assert r.status == 201, r.describe()
            sid = r.json()["id"]
            assert d.request("POST", f"/api/v1/sessions/{sid}/start", {}, key=key).status == 200
            pair = {}
            for who, pid in (("host", "dr-house"), ("patient", "pat-1")):
                g = d.request("POST", f"/api/v1/sessions/{sid}/token", {"participant_id": pid}, key=key)
                assert g.status == 200, g.describe()
                pair[who] = g.json()["token"]
            rooms.append((sid, pair))
        idle = proc_status(d.proc.pid)
        procs = max(1, min(args.procs, len(rooms)))
        shares = [rooms[i::procs] for i in range(procs)]
        # Joining N sockets takes a while on 2 cores: the shared start is after it.
        start_at = time.time() + 5 + n * 0.02
        queue = mp.Queue()
        workers = [mp.Process(target=worker_main, args=(d.port, share, args.seconds, args.period, start_at, queue))
                   for share in shares]
        for w in workers:
            w.start()
        # Sample the daemon while loaded: CPU over the exchange window, memory mid-run.
        time.sleep(max(0.0, start_at - time.time()))
        cpu0, t0 = cpu_seconds(d.proc.pid), time.monotonic()
        time.sleep(args.seconds / 2)
        loaded = proc_status(d.proc.pid)
        metrics = d.request("GET", "/metrics", key=key).text
        time.sleep(max(0.0, args.seconds - (time.monotonic() - t0)))
        cpu_percent = 100.0 * (cpu_seconds(d.proc.pid) - cpu0) / (time.monotonic() - t0)
        held = next((int(float(l.split()[1])) for l in metrics.splitlines()
                     if l.startswith("consultd_signaling_connections ")), -1)
        parts = [queue.get(timeout=args.seconds + 600) for _ in workers]
        for w in workers:
            w.join(timeout=60)
        peak = proc_status(d.proc.pid)
        lat = sorted(x for p in parts for x in p["latency_us"])
        total = lambda k: sum(p[k] for p in parts)  # noqa: E731

        def pct(q):
            return lat[min(len(lat) - 1, int(q * len(lat)))] / 1000.0 if lat else float("nan")

        row = {
            "connections": n, "rooms": n // 2, "joined": total("joined"), "join_errors": total("join_errors"),
            "held_metric": held, "sent": total("sent"), "received": total("received"),
            "errors": total("errors"), "unexpected_closes": total("closed"),
            "p50_ms": round(pct(0.50), 2), "p99_ms": round(pct(0.99), 2), "max_ms": round(lat[-1] / 1000, 2) if lat else None,
            "mean_ms": round(statistics.fmean(lat) / 1000, 2) if lat else None,
            "rss_idle_mib": idle["VmRSS"], "rss_loaded_mib": loaded["VmRSS"], "rss_peak_mib": peak["VmHWM"],
            "daemon_cpu_percent": round(cpu_percent, 1), "relayed_per_second": round(total("received") / args.seconds),
            "threads_idle": idle["Threads"], "threads_loaded": loaded["Threads"], "fds_loaded": loaded["fds"],
            "seconds": args.seconds, "period": args.period, "procs": procs, "workers": args.workers,
        }
        return row
    finally:
        d.stop()
        d.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(SOURCE / "build" / "daemon" / "consultd"))
    ap.add_argument("--plugins", default=None, help="plugin folder (default: <bin>/../../plugins-out)")
    ap.add_argument("--levels", default="100,500,1000")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--period", type=float, default=2.0, help="seconds between a room's cycles")
    ap.add_argument("--procs", type=int, default=2, help="load generator processes")
    ap.add_argument("--workers", type=int, default=2, help="signaling.worker_threads")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the daemon
    os.environ["CONSULTD_BIN"] = str(Path(args.bin).absolute())
    os.environ["CONSULTD_PLUGIN_DIR"] = str(Path(args.plugins or Path(args.bin).parent.parent / "plugins-out").absolute())
    sys.path.insert(0, str(SOURCE / "tests" / "integration"))
    import harness

    print(f"RLIMIT_NOFILE {soft} -> {hard}; cores {os.cpu_count()}", flush=True)
    rows = []
    for n in [int(x) for x in args.levels.split(",")]:
        row = run_level(harness, n, args)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| connections (rooms) | held (metric) | msgs sent / relayed (relayed/s) | errors / unexpected closes | "
          "relay p50 / p99 / max | daemon CPU | RSS idle / loaded / peak | threads idle / loaded |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['connections']} ({r['rooms']}) | {r['joined']} ({r['held_metric']}) | {r['sent']} / {r['received']} "
              f"({r['relayed_per_second']}) | "
              f"{r['errors']} / {r['unexpected_closes']} | {r['p50_ms']} / {r['p99_ms']} / {r['max_ms']} ms | "
              f"{r['daemon_cpu_percent']} % | "
              f"{r['rss_idle_mib']} / {r['rss_loaded_mib']} / {r['rss_peak_mib']} MiB | "
              f"{r['threads_idle']} / {r['threads_loaded']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
