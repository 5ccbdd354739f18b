#!/usr/bin/env bash
# Runs the built .deb packages under a real systemd (PID 1 of a Debian 12
# systemd-nspawn container), which the packaging test cannot do on a machine
# whose PID 1 is not systemd: postinst enables and starts the unit, Type=notify
# readiness and the watchdog under the real service manager, ExecReload,
# restart on failure, the hardened sandbox (ProtectSystem=strict,
# MemoryDenyWriteExecute, the syscall filter...) with the daemon actually
# serving and its embedded TURN relay relaying (scripts/turn-probe.py), and
# `systemd-analyze security` on the loaded unit.
#
#   scripts/verify-systemd-container.sh DEB_DIR
#
# DEB_DIR holds consultd_*.deb and consultd-plugin-*_*.deb (dpkg-buildpackage
# output). Needs root, debootstrap and systemd-container (installed when
# missing); the container root is kept in /var/lib/machines/consultd-verify
# (delete it to start over). Not part of the CTest suite: it downloads a
# Debian base system (about 100 MB) the first time.
set -euo pipefail
DEB_DIR=$(cd "${1:?usage: $0 DEB_DIR}" && pwd)
ROOT=/var/lib/machines/consultd-verify
MIRROR=${MIRROR:-http://deb.debian.org/debian}
log() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root"
command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap systemd-container >/dev/null

if [ ! -x "$ROOT/usr/lib/systemd/systemd" ]; then
    log "debootstrap bookworm into $ROOT"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,curl,python3 \
        bookworm "$ROOT" "$MIRROR" >/tmp/consultd-verify-debootstrap.log
fi
rm -rf "$ROOT/root/debs" && mkdir -p "$ROOT/root/debs"
cp "$DEB_DIR"/consultd_*.deb "$DEB_DIR"/consultd-plugin-*_*.deb "$ROOT/root/debs/"
rm -f "$ROOT"/root/debs/*dbgsym*

log "boot the container"
systemd-nspawn -D "$ROOT" --register=no --keep-unit --boot --console=pipe >/tmp/consultd-verify-boot.log 2>&1 &
nspawn=$!
trap 'kill $nspawn 2>/dev/null; wait $nspawn 2>/dev/null || true' EXIT
leader=""
for _ in $(seq 100); do
    leader=$(pgrep -P "$nspawn" -x systemd || true)
    [ -n "$leader" ] && break
    sleep 0.2
done
[ -n "$leader" ] || fail "the container's systemd did not start ($(cat /tmp/consultd-verify-boot.log))"
ct() { nsenter -t "$leader" -a -- "$@"; }
for _ in $(seq 150); do
    state=$(ct systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 0.2
done
echo "container systemd: $(ct systemctl --version | head -n 1), state $state"

log "apt-get install the packages (postinst enables and starts consultd.service)"
# A previous run's install goes first, so postinst runs as on a fresh machine.
ct sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "consultd*" >/dev/null 2>&1 || true; rm -rf /etc/consultd /var/lib/consultd'
ct sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /root/debs/*.deb' \
    >/tmp/consultd-verify-install.log 2>&1 || { tail -n 40 /tmp/consultd-verify-install.log; fail "install"; }
ct systemctl is-active --quiet consultd || { ct journalctl -u consultd --no-pager | tail -n 40; fail "consultd.service is not active"; }
ct systemctl show consultd -p Type -p NotifyAccess -p WatchdogUSec -p User -p MainPID -p ActiveState -p SubState
echo "ok: active under systemd after postinst (Type=notify: systemd saw READY=1)"

log "enable a provider, reload (ExecReload = SIGHUP), serve"
ct sh -c 'printf "providers = { default = \"webrtc\"; webrtc = { enabled = true; }; };\nturn = { mode = \"embedded\"; secret_file = \"/etc/consultd/secrets/turn_secret\"; io_engine = \"io_uring\"; allow_loopback_peers = true; };\n" >/etc/consultd/conf.d/10-verify.conf'
ct consultctl check-config >/dev/null || fail "check-config with the webrtc provider"
ct systemctl restart consultd
ct systemctl is-active --quiet consultd || fail "restart"
for _ in $(seq 50); do ct curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break; sleep 0.2; done
ct curl -fsS http://127.0.0.1:8080/readyz || fail "/readyz"
echo
# io_engine = "io_uring" refuses to start when the unit's SystemCallFilter
# forbids io_uring, so a running relay that logged io=io_uring proves the
# filter allows it.
# (grep without -q in these pipelines: under pipefail, grep -q exiting at the
# first match makes journalctl die of SIGPIPE once the journal is long.)
pid_now=$(ct systemctl show -p MainPID --value consultd)
ct journalctl _PID="$pid_now" --no-pager -o cat | grep 'TURN relay' | grep 'io=io_uring' >/dev/null ||
    { ct journalctl -u consultd --no-pager | tail -n 20; fail "the TURN relay did not start on io_uring under the unit"; }
echo "ok: embedded TURN relay on io_uring under the unit's syscall filter"
key=$(ct consultctl apikey create --name verify --scopes admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
sid=$(ct curl -fsS -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"consultation_id":"verify-1","provider":"webrtc","host":{"id":"dr","name":"Dr"},"participants":[{"id":"p1","name":"P","role":"patient"}]}' \
    http://127.0.0.1:8080/api/v1/sessions | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "ok: session $sid created through the sandboxed daemon"
# Relay datagrams both ways through the sandboxed relay (receives and sends
# go through io_uring), with credentials the REST API minted.
cp "$(dirname "$0")/turn-probe.py" "$ROOT/root/turn-probe.py"
creds=$(ct curl -fsS -H "Authorization: Bearer $key" http://127.0.0.1:8080/api/v1/ice-servers |
    python3 -c 'import json,sys; s=[e for e in json.load(sys.stdin)["ice_servers"] if e.get("username")][0]; print(s["username"], s["credential"])')
ct python3 /root/turn-probe.py --server 127.0.0.1:3478 --username "${creds% *}" --password "${creds#* }" ||
    fail "relaying through the embedded TURN relay under the unit"
ct curl -fsS -o /dev/null http://127.0.0.1:8080/admin || fail "/admin page"
pid_before=$(ct systemctl show -p MainPID --value consultd)
ct systemctl reload consultd
sleep 1
[ "$(ct systemctl show -p MainPID --value consultd)" = "$pid_before" ] || fail "reload restarted the process"
ct journalctl _PID="$pid_before" --no-pager -o cat | grep 'SIGHUP: reloading' >/dev/null ||
    fail "no reload line in the journal"
echo "ok: reload kept pid $pid_before"

log "Restart=on-failure: SIGKILL the daemon"
ct kill -KILL "$pid_before"
for _ in $(seq 100); do
    now=$(ct systemctl show -p MainPID --value consultd)
    [ "$now" != 0 ] && [ "$now" != "$pid_before" ] && ct systemctl is-active --quiet consultd && break
    sleep 0.2
done
[ "$now" != "$pid_before" ] && [ "$now" != 0 ] || fail "not restarted after SIGKILL"
echo "ok: restarted as pid $now"
ct curl -fsS -H "Authorization: Bearer $key" "http://127.0.0.1:8080/api/v1/sessions/$sid" >/dev/null || fail "session lost"
echo "ok: session $sid survived the kill"

log "journald keeps the levels"
ct journalctl -u consultd -p notice --no-pager -o cat | grep 'ready' >/dev/null || fail "no notice-level ready line"
ct journalctl -u consultd -p warning --no-pager -o cat | grep -vq '^<' || true

log "systemd-analyze security (online, the loaded unit)"
ct systemd-analyze security consultd --no-pager | tail -n 3

log "PASS"
