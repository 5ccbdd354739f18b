#!/usr/bin/python3
"""REST API benchmark: consultd against Janus' HTTP API on loopback, same run.

Usage (as root on Debian 12, from the repository root):
  bench/api/run_bench.py [--consultd build/daemon/consultd] [--plugins build/plugins-out]
                         [--duration 10] [--threads 2] [--connections 16] [--rate 1000]
                         [--only janus-ping,providers,janus-create,sessions,token]
                         [--no-wrk] [--no-fixed] [--nice N] [--out DIR]

What it does, in one run, all on 127.0.0.1 (docs/performance.md, section
"REST API (bench/api)", has the details and the results):
  1. installs wrk, janus and sqlite3 with apt-get when missing (Debian's janus
     service is kept from starting: a policy-rc.d that denies it is in place
     during the install, and the unit is never started);
  2. starts its own janus with a config in a temp dir (HTTP transport only,
     bound to 127.0.0.1 on a free port; other transports, all plugins, event
     handlers and loggers disabled) and its own consultd with a temp config
     (temp state dir, jitsi plugin with a generated 0600 secret, logging at
     warning, rate limits raised: see CONSULTD_CONF below); probes
     write+fdatasync latency on the state dir's filesystem;
  3. wrk -t2 -c16 -d10s --latency, alternating servers:
       janus ping, consultd GET /providers, janus create,
       consultd POST /sessions, consultd POST /sessions/{id}/token
     and reads each server's VmRSS and CPU time after its run;
  4. restarts janus (it would otherwise reap the wrk run's ~300,000 sessions
     in the middle of the next phase) and runs the same five at a fixed
     1,000 requests/s with bench/api/loadgen.c (an open-loop generator: latency
     measured from the intended send time);
  5. stops both servers and counts the token.issued audit rows with sqlite3:
     for the wrk token run (its own 200 sessions) the rows must cover every
     200 wrk counted (rows - 200s is at most the 16 requests in flight when
     wrk stopped the clock, which the server may still have answered); for the
     fixed-rate token run (its own 200 sessions; the generator waits for every
     response) the rows must equal the 200s exactly.
If consultd dies during a run, the run is marked, a gdb backtrace of its core
(left in the work dir) is printed, and consultd is restarted on the same
database. Prints Markdown tables and writes results.json, the wrk outputs and
the configs to --out (default: a new temp dir). Exit status 0 only when the
audit check passes and nothing crashed. Not a test: numbers depend on the
machine and on whatever else runs on it (the load average is recorded).
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SESSIONS_PER_SET = 200
PATIENTS_PER_SESSION = 5

CONSULTD_CONF = """# written by bench/api/run_bench.py
server = {{
  listen_address = "127.0.0.1";
  port = {port};
}};
storage = {{
  state_dir = "state";
}};
security = {{
  # raised so that the benchmark measures the server, not its limits
  api_rate_per_second = 1000000;
  token_rate_per_minute = 10000;
}};
providers = {{
  plugin_dir = "{plugins}";
  default = "jitsi";
  jitsi = {{
    enabled = true;
    domain = "meet.localhost";
    app_id = "consultd-bench";
    app_secret_file = "{secret}";
  }};
}};
turn = {{
  mode = "off";
}};
logging = {{
  level = "warning";
}};
"""

JANUS_LIB = "/usr/lib/x86_64-linux-gnu/janus"

JANUS_CONF = """# written by bench/api/run_bench.py
general: {{
	configs_folder = "{conf}"
	plugins_folder = "{lib}/plugins"
	transports_folder = "{lib}/transports"
	events_folder = "{lib}/events"
	loggers_folder = "{lib}/loggers"
	debug_level = 3
	server_name = "janus-bench"
}}
certificates: {{
}}
media: {{
}}
nat: {{
	nice_debug = false
	ice_ignore_list = "vmnet"
}}
plugins: {{
	disable = "{plugins}"
}}
transports: {{
	disable = "{transports}"
}}
loggers: {{
	disable = "{loggers}"
}}
events: {{
	broadcast = false
}}
"""

JANUS_HTTP_CONF = """# written by bench/api/run_bench.py
general: {{
	json = "indented"
	base_path = "/janus"
	http = true
	port = {port}
	ip = "127.0.0.1"
	https = false
}}
admin: {{
	admin_http = false
	admin_https = false
}}
"""

WRK_COMMON = r"""
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "non_2xx_3xx": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def log(msg):
    print("== " + msg, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def ensure_packages(pkgs):
    missing = [p for p in pkgs if not installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit("missing Debian packages %s; run as root or install them first" % " ".join(missing))
    log("installing " + " ".join(missing))
    # Debian's janus package ships a systemd unit; keep invoke-rc.d from
    # starting it while it is installed (this benchmark runs its own janus).
    policy = "/usr/sbin/policy-rc.d"
    made_policy = False
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# temporary, from consultd bench/api/run_bench.py\nexit 101\n")
        os.chmod(policy, 0o755)
        made_policy = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sh(["apt-get", "update", "-qq"], env=env)
        sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing, env=env)
    finally:
        if made_policy:
            os.unlink(policy)
    if "janus" in missing and shutil.which("systemctl") and os.path.isdir("/run/systemd/system"):
        # Installed and enabled by the package; do not let it run on its own.
        subprocess.run(["systemctl", "disable", "--now", "janus"], capture_output=True)


def fdatasync_probe(folder, seconds=3.0):
    """Latency of write(4 KiB) + fdatasync on the filesystem of the state dir:
    the floor under any write the daemon acknowledges only once it is durable."""
    path = os.path.join(folder, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    lat = []
    end = time.time() + seconds
    try:
        while time.time() < end:
            os.pwrite(fd, b"x" * 4096, (len(lat) % 256) * 4096)
            t = time.perf_counter()
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    n = len(lat)
    return {"count": n, "p50_ms": lat[n // 2], "p90_ms": lat[int(n * 0.9)], "p99_ms": lat[int(n * 0.99)],
            "max_ms": lat[-1]}


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wait_http(port, method, path, body, headers, timeout=20.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server on port %d did not answer within %.0f s" % (port, timeout))


def stop(proc, name, timeout=15):
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log("%s (pid %d) ignored SIGTERM for %d s; killing it" % (name, proc.pid, timeout))
        proc.kill()
        return proc.wait()


class Api:
    """A keep-alive client for setting up sessions."""

    def __init__(self, port, key):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    def post(self, path, obj):
        self.conn.request("POST", path, body=json.dumps(obj), headers=self.headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status not in (200, 201):
            raise RuntimeError("POST %s -> %d %s" % (path, r.status, data[:300]))
        return json.loads(data)


def make_sessions(api, tag):
    pairs, ids = [], []
    for i in range(SESSIONS_PER_SET):
        body = {
            "consultation_id": "bench-%s-%d" % (tag, i),
            "host": {"id": "dr-%d" % i, "name": "Dr Bench %d" % i},
            "participants": [{"id": "pt-%d-%d" % (i, j), "name": "Patient %d" % j, "role": "patient"}
                             for j in range(PATIENTS_PER_SESSION)],
        }
        sid = api.post("/api/v1/sessions", body)["id"]
        ids.append(sid)
        pairs += [(sid, "pt-%d-%d" % (i, j)) for j in range(PATIENTS_PER_SESSION)]
    # Interleave sessions so consecutive requests hit different sessions.
    pairs.sort(key=lambda p: (p[1].rsplit("-", 1)[1], p[0]))
    return ids, pairs


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(path, kind, key, tag=None, pairs=None):
    hdr = "{[\"Content-Type\"] = \"application/json\"%s}" % (
        "" if key is None else ", [\"Authorization\"] = " + lua_string("Bearer " + key))
    lines = [WRK_COMMON, "local headers = " + hdr]
    if kind == "janus-ping":
        lines.append('wrk.method = "POST"\nwrk.path = "/janus"\nwrk.headers = headers\n'
                     'wrk.body = \'{"janus":"ping","transaction":"x"}\'')
    elif kind == "janus-create":
        lines.append('wrk.method = "POST"\nwrk.path = "/janus"\nwrk.headers = headers\n'
                     'wrk.body = \'{"janus":"create","transaction":"x"}\'')
    elif kind == "providers":
        lines.append('wrk.method = "GET"\nwrk.path = "/api/v1/providers"\nwrk.headers = headers')
    elif kind == "sessions":
        lines.append("""
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"consultation_id":"wrk-%s-%%d-%%d","host":{"id":"dr-1","name":"Dr Bench"},' ..
    '"participants":[{"id":"pt-1","name":"Patient One","role":"patient"}]}', tid, counter)
  return wrk.format("POST", "/api/v1/sessions", headers, body)
end""" % tag)
    elif kind == "token":
        lines.append("local grants = {")
        for sid, pid in pairs:
            lines.append("  {%s, %s}," % (lua_string(sid), lua_string('{"participant_id":"%s"}' % pid)))
        lines.append("}")
        lines.append("""
local i = nil
request = function()
  if i == nil then i = (tid - 1) * 7919 end
  i = i + 1
  local p = grants[(i % #grants) + 1]
  return wrk.format("POST", "/api/v1/sessions/" .. p[1] .. "/token", headers, p[2])
end""")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def loadgen_requests(path, kind, tag=None, pairs=None):
    with open(path, "w") as f:
        if kind == "janus-ping":
            f.write('POST\t/janus\t{"janus":"ping","transaction":"x"}\n')
        elif kind == "janus-create":
            f.write('POST\t/janus\t{"janus":"create","transaction":"x"}\n')
        elif kind == "providers":
            f.write("GET\t/api/v1/providers\t\n")
        elif kind == "sessions":
            f.write('POST\t/api/v1/sessions\t{"consultation_id":"fixed-%s-%%N%%","host":{"id":"dr-1","name":"Dr Bench"},'
                    '"participants":[{"id":"pt-1","name":"Patient One","role":"patient"}]}\n' % tag)
        elif kind == "token":
            for sid, pid in pairs:
                f.write('POST\t/api/v1/sessions/%s/token\t{"participant_id":"%s"}\n' % (sid, pid))


def parse_wrk(text):
    m = re.search(r"^BENCHJSON (\{.*\})$", text, re.M)
    if not m:
        raise RuntimeError("no summary in wrk output:\n" + text)
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["ok"] = r["requests"] - r["non_2xx_3xx"]
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--consultd", default=os.path.join(ROOT, "build/daemon/consultd"))
    ap.add_argument("--plugins", default=os.path.join(ROOT, "build/plugins-out"))
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run and per fixed-rate run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rate", type=int, default=1000, help="requests/s of the fixed-rate runs")
    ap.add_argument("--out", help="folder for results (default: a new temp dir)")
    ap.add_argument("--only", help="comma-separated subset of janus-ping,providers,janus-create,sessions,token "
                                   "(default: all; the audit check needs token)")
    ap.add_argument("--no-wrk", action="store_true", help="skip the wrk runs")
    ap.add_argument("--no-fixed", action="store_true", help="skip the fixed-rate runs")
    ap.add_argument("--nice", type=int, default=0,
                    help="run both servers and the load generators at this niceness (e.g. -10 on a machine "
                         "shared with builds; the same for Janus and consultd)")
    args = ap.parse_args()

    consultd_bin = os.path.abspath(args.consultd)
    plugins = os.path.abspath(args.plugins)
    for p in (consultd_bin, os.path.join(plugins, "jitsi.so")):
        if not os.path.exists(p):
            sys.exit("%s is missing: build first (scripts/setup.sh)" % p)

    ensure_packages(["wrk", "janus", "sqlite3"])
    work = tempfile.mkdtemp(prefix="consultd-apibench-")
    out = os.path.abspath(args.out) if args.out else work
    os.makedirs(out, exist_ok=True)
    log("work dir " + work + (", results in " + out if out != work else ""))

    loadgen = os.path.join(work, "loadgen")
    sh(["cc", "-O2", "-Wall", "-o", loadgen, os.path.join(HERE, "loadgen.c"), "-lm"])

    started = []  # every process this run starts; all are stopped by pid at the end
    try:
        return run(args, work, out, loadgen, consultd_bin, plugins, started)
    finally:
        for proc, name in started:
            if proc.poll() is None:
                log("stopping %s (pid %d)" % (name, proc.pid))
                stop(proc, name)


def run(args, work, out, loadgen, consultd_bin, plugins, started):
    nice = ["nice", "-n", str(args.nice)] if args.nice else []
    # ---- janus ------------------------------------------------------------
    jconf = os.path.join(work, "janus")
    os.makedirs(jconf)
    jport = free_port()

    def sos(folder):
        return ",".join(sorted(n for n in os.listdir(os.path.join(JANUS_LIB, folder)) if n.endswith(".so")))

    with open(os.path.join(jconf, "janus.jcfg"), "w") as f:
        f.write(JANUS_CONF.format(conf=jconf, lib=JANUS_LIB, plugins=sos("plugins"),
                                  transports=",".join(n for n in sos("transports").split(",") if n != "libjanus_http.so"),
                                  loggers=sos("loggers")))
    with open(os.path.join(jconf, "janus.transport.http.jcfg"), "w") as f:
        f.write(JANUS_HTTP_CONF.format(port=jport))
    janus_cmd = ["janus", "-C", os.path.join(jconf, "janus.jcfg"), "-F", jconf, "-o"]
    janus_log = open(os.path.join(work, "janus.log"), "w")
    def start_janus():
        proc = subprocess.Popen(nice + janus_cmd, stdout=janus_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        started.append((proc, "janus"))
        log("janus pid %d on 127.0.0.1:%d: %s" % (proc.pid, jport, " ".join(janus_cmd)))
        return proc

    janus = start_janus()

    # ---- consultd ---------------------------------------------------------
    cdir = os.path.join(work, "consultd")
    os.makedirs(os.path.join(cdir, "state"), mode=0o700)
    secret = os.path.join(cdir, "jitsi_app_secret")
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, secrets.token_urlsafe(48).encode())
    os.close(fd)
    cport = free_port()
    conf = os.path.join(cdir, "bench.conf")
    with open(conf, "w") as f:
        f.write(CONSULTD_CONF.format(port=cport, plugins=plugins, secret=secret))
    created = subprocess.run([consultd_bin, "apikey", "create", "--config", conf, "--name", "bench", "--scopes",
                              "admin", "--json"], capture_output=True, text=True)
    if created.returncode != 0:
        raise RuntimeError("consultd apikey create failed: " + created.stderr.strip())
    key = json.loads(created.stdout)["key"]
    consultd_cmd = [consultd_bin, "--config", conf]
    consultd_log = open(os.path.join(work, "consultd.log"), "a")

    def start_consultd():
        # A crash leaves a core file in the consultd folder of the work dir
        # (kernel.core_pattern permitting); see after_run().
        proc = subprocess.Popen(nice + consultd_cmd, stdout=consultd_log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cdir,
                                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,
                                                                                             resource.RLIM_INFINITY)))
        started.append((proc, "consultd"))
        log("consultd pid %d on 127.0.0.1:%d: %s" % (proc.pid, cport, " ".join(consultd_cmd)))
        return proc

    consultd = start_consultd()
    servers = {"janus": janus, "consultd": consultd}

    results = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "nice": args.nice, "duration": args.duration, "rate": args.rate, "threads": args.threads,
               "connections": args.connections,
               "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
               "versions": {}, "runs": [], "fixed": [], "audit": {}, "crashes": []}

    def after_run(server, kind):
        """None if the server is still up; else records the crash (with a gdb
        backtrace from the core when there is one) and restarts consultd on the
        same database, so the remaining runs and the audit check still happen."""
        proc = servers[server]
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return None
        rc = proc.returncode
        info = {"server": server, "during": kind, "pid": proc.pid, "status": rc,
                "signal": signal.Signals(-rc).name if rc < 0 else None}
        core = os.path.join(cdir, "core")
        if server == "consultd" and os.path.exists(core):
            kept = core + ".%d" % proc.pid
            os.rename(core, kept)
            info["core"] = kept
            if shutil.which("gdb"):
                bt = subprocess.run(["gdb", "-batch", "-nx", consultd_bin, kept, "-ex", "bt 24"],
                                    capture_output=True, text=True, timeout=300).stdout
                info["backtrace"] = [line for line in bt.splitlines() if re.match(r"#\d+ ", line)]
        results["crashes"].append(info)
        log("!! %s (pid %d) died during %s: status %s %s" % (server, proc.pid, kind, rc, info["signal"] or ""))
        for line in info.get("backtrace", [])[:16]:
            log("!!   " + line[:200])
        if server != "consultd":
            raise RuntimeError("%s died; see %s" % (server, os.path.join(work, server + ".log")))
        servers["consultd"] = start_consultd()
        wait_http(cport, "GET", "/api/v1/providers", None, auth, proc=servers["consultd"])
        return info
    auth = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    try:
        wait_http(jport, "POST", "/janus", '{"janus":"ping","transaction":"x"}', {"Content-Type": "application/json"},
                  proc=janus)
        wait_http(cport, "GET", "/api/v1/providers", None, auth, proc=consultd)
        results["versions"]["janus"] = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "janus"],
                                                      capture_output=True, text=True).stdout
        results["versions"]["wrk"] = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "wrk"],
                                                    capture_output=True, text=True).stdout
        results["versions"]["consultd"] = subprocess.run([consultd_bin, "--version"], capture_output=True,
                                                         text=True).stdout.strip()
        results["config"] = {"consultd": open(conf).read(),
                             "janus_disabled": {"plugins": sos("plugins"), "loggers": sos("loggers")}}

        results["fdatasync_before"] = fdatasync_probe(os.path.join(cdir, "state"))
        log("fdatasync on the state dir's filesystem: %(count)d calls, p50 %(p50_ms).2f ms, p99 %(p99_ms).2f ms, "
            "max %(max_ms).2f ms" % results["fdatasync_before"])
        api = Api(cport, key)
        wrk_ids, wrk_pairs = make_sessions(api, "w" + secrets.token_hex(3))
        fixed_ids, fixed_pairs = make_sessions(api, "f" + secrets.token_hex(3))
        api.conn.close()
        tag = secrets.token_hex(3)

        targets = [
            ("janus", "janus-ping", "POST /janus ping", jport, None),
            ("consultd", "providers", "GET /api/v1/providers", cport, key),
            ("janus", "janus-create", "POST /janus create", jport, None),
            ("consultd", "sessions", "POST /api/v1/sessions", cport, key),
            ("consultd", "token", "POST /api/v1/sessions/{id}/token", cport, key),
        ]
        if args.only:
            targets = [t for t in targets if t[1] in args.only.split(",")]
        # ---- wrk, closed loop -------------------------------------------
        for server, kind, label, port, k in ([] if args.no_wrk else targets):
            proc = servers[server]
            script = os.path.join(work, "wrk-%s.lua" % kind)
            wrk_script(script, kind, k, tag=tag, pairs=wrk_pairs)
            cmd = ["wrk", "-t%d" % args.threads, "-c%d" % args.connections, "-d%ds" % args.duration, "--latency",
                   "-s", script, "http://127.0.0.1:%d" % port]
            load_before = loadavg()
            log("wrk %s: %s" % (label, " ".join(cmd)))
            cpu_before = cpu_seconds(proc.pid)
            text = sh(nice + cmd, capture_output=True).stdout
            rss = rss_kib(proc.pid) if proc.poll() is None else 0
            cpu = cpu_seconds(proc.pid) - cpu_before if proc.poll() is None else None
            crash = after_run(server, "wrk " + kind)
            with open(os.path.join(out, "wrk-%s.txt" % kind), "w") as f:
                f.write(text)
            r = parse_wrk(text)
            r.update(server=server, kind=kind, label=label, rss_kib=rss, cmd=cmd, crashed=crash and crash["signal"],
                     server_cpu_s=cpu, cpu_us_per_request=None if cpu is None else 1e6 * cpu / max(r["requests"], 1),
                     loadavg_before=load_before, loadavg_after=loadavg())
            results["runs"].append(r)
            log("  %.0f req/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, RSS %d KiB, server CPU %s us/request" % (
                r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000, r["non_2xx_3xx"], r["rss_kib"],
                us(r["cpu_us_per_request"])))
            time.sleep(1)

        # ---- fixed rate, open loop ----------------------------------------
        if not args.no_wrk and not args.no_fixed and any(t[0] == "janus" for t in targets):
            # Janus keeps the ~300,000 sessions of the wrk create run in memory
            # until they time out (60 s) and reaps them in bulk, which stalls it
            # for hundreds of ms in the middle of the fixed-rate runs. A fresh
            # Janus for this phase; consultd keeps its database (the audit
            # check needs it), so this only favours Janus.
            log("restarting janus for the fixed-rate runs (status %s)" % stop(servers["janus"], "janus"))
            servers["janus"] = start_janus()
            wait_http(jport, "POST", "/janus", '{"janus":"ping","transaction":"x"}',
                      {"Content-Type": "application/json"}, proc=servers["janus"])
        for server, kind, label, port, k in ([] if args.no_fixed else targets):
            proc = servers[server]
            reqs = os.path.join(work, "fixed-%s.txt" % kind)
            loadgen_requests(reqs, kind, tag=tag, pairs=fixed_pairs)
            cmd = [loadgen, "--port", str(port), "--rate", str(args.rate), "--duration", str(args.duration),
                   "--connections", str(args.connections), "--requests", reqs]
            if k:
                cmd += ["--header", "Authorization: Bearer " + k]
            load_before = loadavg()
            shown = [("Authorization: Bearer <key>" if c.startswith("Authorization") else c) for c in cmd]
            log("fixed %s: %s" % (label, " ".join(shown)))
            cpu_before = cpu_seconds(proc.pid)
            lines = sh(nice + cmd, capture_output=True).stdout.splitlines()
            r = json.loads(lines[0])
            r.update(json.loads(lines[1]))
            rss = rss_kib(proc.pid) if proc.poll() is None else 0
            cpu = cpu_seconds(proc.pid) - cpu_before if proc.poll() is None else None
            crash = after_run(server, "fixed " + kind)
            r.update(server=server, kind=kind, label=label, rss_kib=rss, cmd=shown, crashed=crash and crash["signal"],
                     server_cpu_s=cpu, cpu_us_per_request=None if cpu is None else 1e6 * cpu / max(r["answered"], 1),
                     loadavg_before=load_before, loadavg_after=loadavg())
            results["fixed"].append(r)
            log("  %.0f req/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms, status %s, server CPU %s us/request" % (
                r["achieved_rate"], r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["latency_ms"]["p999"],
                r["latency_ms"]["max"], r["status"], us(r["cpu_us_per_request"])))
            log("  worst latency (ms) by second: " + " ".join("%.0f" % x for x in r["max_ms_by_second"]))
            time.sleep(1)
    finally:
        rc_j = stop(servers["janus"], "janus")
        rc_c = stop(servers["consultd"], "consultd")
        log("stopped janus (%s) and consultd (%s)" % (rc_j, rc_c))

    # ---- durability of acknowledged grants ------------------------------------
    db = os.path.join(cdir, "state", "consultd.db")

    def token_rows(ids):
        sql = ("CREATE TEMP TABLE s(id TEXT PRIMARY KEY);\n" +
               "".join("INSERT INTO s VALUES('%s');\n" % i for i in ids) +
               "SELECT count(*) FROM audit_log WHERE action = 'token.issued' AND target IN (SELECT id FROM s);\n")
        return int(sh(["sqlite3", db], input=sql, capture_output=True).stdout.strip())

    wrk_token = next((r for r in results["runs"] if r["kind"] == "token"), {"ok": 0})
    fixed_token = next((r for r in results["fixed"] if r["kind"] == "token"), {"status": {}})
    a = {"wrk_200": wrk_token["ok"], "wrk_rows": token_rows(wrk_ids),
         "fixed_200": fixed_token["status"].get("200", 0), "fixed_rows": token_rows(fixed_ids),
         "total_rows": int(sh(["sqlite3", db, "SELECT count(*) FROM audit_log WHERE action='token.issued'"],
                              capture_output=True).stdout.strip())}
    a["wrk_ok"] = 0 <= a["wrk_rows"] - a["wrk_200"] <= args.connections
    a["fixed_ok"] = a["fixed_rows"] == a["fixed_200"]
    results["audit"] = a
    log("token.issued rows: wrk run %d rows for %d acknowledged (%s); fixed-rate run %d rows for %d acknowledged (%s)" % (
        a["wrk_rows"], a["wrk_200"], "ok" if a["wrk_ok"] else "MISMATCH",
        a["fixed_rows"], a["fixed_200"], "ok" if a["fixed_ok"] else "MISMATCH"))

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(table(results))
    return 0 if a["wrk_ok"] and a["fixed_ok"] and not results["crashes"] else 1


def us(value):
    return "-" if value is None else "%.0f" % value


def table(results):
    base = {r["kind"]: r for r in results["runs"] if r["server"] == "janus"}
    fbase = {r["kind"]: r for r in results["fixed"] if r["server"] == "janus"}
    anchor = {"providers": "janus-ping", "sessions": "janus-create", "token": "janus-create"}
    lines = ["", "wrk -t%d -c%d -d%ds --latency (closed loop), nice %d, load average before the first run %s:" % (
        results["threads"], results["connections"], results["duration"], results["nice"],
        results["runs"][0]["loadavg_before"] if results["runs"] else "-"), "",
             "| server | request | requests/s | p50 ms | p99 ms | non-2xx | RSS after (MiB) | server CPU us/req | consultd/Janus req/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results["runs"]:
        ratio = ""
        if r["server"] == "consultd" and anchor[r["kind"]] in base:
            b = base[anchor[r["kind"]]]
            ratio = "%.2f (vs %s)" % (r["rps"] / b["rps"], b["label"].split()[-1])
        lines.append("| %s | %s | %.0f | %.2f | %.2f | %d | %.1f | %s | %s |" % (
            r["server"], r["label"], r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000, r["non_2xx_3xx"],
            r["rss_kib"] / 1024, us(r["cpu_us_per_request"]), ratio) +
            (" **crashed: %s**" % r["crashed"] if r.get("crashed") else ""))
    lines += ["", "fixed rate (bench/api/loadgen, open loop, latency from the intended send time):", "",
              "| server | request | offered/s | answered/s | p50 ms | p99 ms | p99.9 ms | max ms | statuses | RSS after (MiB) | server CPU us/req | p99 consultd/Janus |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in results["fixed"]:
        ratio = ""
        if r["server"] == "consultd" and anchor[r["kind"]] in fbase:
            b = fbase[anchor[r["kind"]]]
            ratio = "%.2f (vs %s)" % (r["latency_ms"]["p99"] / b["latency_ms"]["p99"], b["label"].split()[-1])
        lines.append("| %s | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %s | %.1f | %s | %s |" % (
            r["server"], r["label"], r["target_rate"], r["achieved_rate"], r["latency_ms"]["p50"],
            r["latency_ms"]["p99"], r["latency_ms"]["p999"], r["latency_ms"]["max"],
            " ".join("%s:%d" % kv for kv in sorted(r["status"].items())), r["rss_kib"] / 1024,
            us(r["cpu_us_per_request"]), ratio) + (" **crashed: %s**" % r["crashed"] if r.get("crashed") else ""))
    a = results["audit"]
    if "fdatasync_before" in results:
        lines += ["", "write(4 KiB) + fdatasync on the state dir's filesystem before the runs: p50 %(p50_ms).2f ms, "
                  "p90 %(p90_ms).2f ms, p99 %(p99_ms).2f ms, max %(max_ms).2f ms" % results["fdatasync_before"]]
    lines += ["", "token.issued audit rows after the daemon stopped: wrk run %d rows / %d acknowledged; "
              "fixed-rate run %d rows / %d acknowledged" % (a["wrk_rows"], a["wrk_200"], a["fixed_rows"], a["fixed_200"])]
    for c in results.get("crashes", []):
        lines.append("%s pid %d died during %s: %s" % (c["server"], c["pid"], c["during"], c["signal"] or c["status"]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
