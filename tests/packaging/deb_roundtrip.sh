#!/usr/bin/env bash
# The Debian package, end to end, on this machine (root, Debian 12):
#   build the .deb from a temp copy of the source tree (dpkg-buildpackage),
#   lintian (no errors), apt-get install ./consultd_*.deb, check the user,
#   folders, modes and generated secrets, `consultctl check-config`, start the
#   installed daemon as the consultd user exactly like the unit's ExecStart
#   (NOTIFY_SOCKET read by this test: READY=1 must arrive), /healthz, stop,
#   reinstall twice and upgrade (config edits, secrets and data survive, a
#   pre-upgrade backup is made), remove (data kept), purge (data, secrets,
#   user gone).
# It leaves the machine as it found it, also on failure (trap): the package
# purged, packages it pulled in removed, its processes stopped by PID.
# Exit 77 (CTest: skipped) when not root, not Debian, or consultd is already
# installed / a consultd user exists (this test would delete them).
#
# Env: CONSULTD_SOURCE_DIR (default: two folders up), CONSULTD_KEEP_TMP=1 keeps
# the temp folder, CONSULTD_DEB_DIR=<dir with consultd_*.deb> skips the build,
# CONSULTD_DEB_FROM_WORKTREE=1 builds the working tree instead of git HEAD.
set -euo pipefail
SRC=${CONSULTD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends)

log() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (installs the package)"; exit 77; }
[ -f /etc/debian_version ] || { echo "SKIP: not Debian"; exit 77; }
for tool in dpkg-buildpackage dh lintian fakeroot; do
    command -v "$tool" >/dev/null || fail "$tool missing: run scripts/setup.sh (scripts/packages.txt)"
done
if dpkg-query -W -f='${Status}' consultd 2>/dev/null | grep -q 'installed\|config-files'; then
    echo "SKIP: the consultd package is installed on this machine; this test would purge it"
    exit 77
fi
if getent passwd consultd >/dev/null || getent group consultd >/dev/null || [ -e /var/lib/consultd ] || [ -e /etc/consultd ]; then
    echo "SKIP: a consultd user/group, /var/lib/consultd or /etc/consultd exists; this test would delete it"
    exit 77
fi

tmp=$(mktemp -d /tmp/consultd-deb.XXXXXX)
chmod 0755 "$tmp"   # the daemon (as consultd) must reach the notify socket in it
pulled_in="$tmp/pulled-in"   # packages apt installed along with consultd
: >"$pulled_in"
daemon_pid=""
listener_pid=""

cleanup() {
    local rc=$?
    set +e
    for pid in $daemon_pid $listener_pid; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    for p in consultd-plugin-webrtc consultd-plugin-vonage consultd; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files\|unpacked'; then
            echo "cleanup: purging $p"
            dpkg --purge "$p" >/dev/null 2>&1 || true
        fi
    done
    # Dependencies the install pulled in (missing before) go too.
    if [ -s "$pulled_in" ]; then
        echo "cleanup: removing packages the test installed: $(tr '\n' ' ' <"$pulled_in")"
        "${APT[@]}" purge $(cat "$pulled_in") >/dev/null 2>&1 || true
    fi
    # Anything postrm purge should have removed, in case the purge never ran.
    rm -rf /var/lib/consultd /etc/consultd
    getent passwd consultd >/dev/null && userdel consultd 2>/dev/null
    getent group consultd >/dev/null && groupdel consultd 2>/dev/null
    if [ -n "${CONSULTD_KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM INT

mode_of() { stat -c '%a %U:%G' "$1"; }
expect_mode() {  # expect_mode PATH "750 consultd:consultd"
    local got
    got=$(mode_of "$1") || fail "$1 is missing"
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
    echo "ok: $1 $got"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- build --------------------------------------------------------------------
if [ -n "${CONSULTD_DEB_DIR:-}" ]; then
    out="$CONSULTD_DEB_DIR"
    log "using the packages in $out"
else
    # The committed tree (what CI's clean clone holds); the working tree with
    # CONSULTD_DEB_FROM_WORKTREE=1, or when git cannot read the repository.
    mkdir "$tmp/src"
    if [ -z "${CONSULTD_DEB_FROM_WORKTREE:-}" ] && git -C "$SRC" archive --format=tar HEAD >"$tmp/src.tar" 2>/dev/null; then
        log "source: git archive HEAD ($(git -C "$SRC" rev-parse --short HEAD))"
        tar -C "$tmp/src" -xf "$tmp/src.tar"
        rm -f "$tmp/src.tar"
    else
        log "source: the working tree $SRC"
        tar -C "$SRC" --exclude='./build*' --exclude=./.git --exclude=./state --exclude='./obj-*' \
            --exclude=node_modules --exclude=./bench -cf - . | tar -C "$tmp/src" -xf -
    fi
    rm -rf "$tmp/src/debian/.debhelper" "$tmp/src/debian/consultd" "$tmp/src/debian/tmp"
    log "dpkg-buildpackage -us -uc -b -j2 (log: $tmp/build.log)"
    start=$(date +%s)
    if ! (cd "$tmp/src" && dpkg-buildpackage -us -uc -b -j2) >"$tmp/build.log" 2>&1; then
        tail -n 60 "$tmp/build.log"
        fail "dpkg-buildpackage failed"
    fi
    echo "built in $(($(date +%s) - start)) s"
    out="$tmp"
fi
deb=$(ls "$out"/consultd_*.deb 2>/dev/null | head -n 1 || true)
[ -n "$deb" ] && [ -f "$deb" ] || fail "no consultd_*.deb in $out"
webrtc_deb=$(ls "$out"/consultd-plugin-webrtc_*.deb 2>/dev/null | head -n 1 || true)
vonage_deb=$(ls "$out"/consultd-plugin-vonage_*.deb 2>/dev/null | head -n 1 || true)
[ -f "$webrtc_deb" ] || fail "no consultd-plugin-webrtc_*.deb in $out"
[ -f "$vonage_deb" ] || fail "no consultd-plugin-vonage_*.deb in $out"
all_debs=("$deb" "$webrtc_deb" "$vonage_deb")
for d in "${all_debs[@]}"; do
    dpkg-deb --info "$d" | sed -n '/Package:/,/Description:/p'
    dpkg-deb --contents "$d" | awk '{print $1, $2, $6}'
done
# The split keeps GStreamer's elements optional: only the webrtc plugin pulls them in.
depends=$(dpkg-deb -f "$deb" Depends)
grep -q 'gstreamer1.0-plugins-bad\|gstreamer1.0-nice' <<<"$depends" &&
    fail "consultd itself depends on GStreamer elements: $(dpkg-deb -f "$deb" Depends)"
for need in gstreamer1.0-plugins-bad gstreamer1.0-nice gstreamer1.0-plugins-good 'consultd (='; do
    grep -qF "$need" <<<"$(dpkg-deb -f "$webrtc_deb" Depends)" || fail "consultd-plugin-webrtc does not depend on $need"
done
# (contents into files first: grep -q closing a pipe early fails under pipefail)
dpkg-deb --contents "$deb" >"$tmp/contents.consultd"
dpkg-deb --contents "$webrtc_deb" >"$tmp/contents.webrtc"
dpkg-deb --contents "$vonage_deb" >"$tmp/contents.vonage"
grep -q 'plugins/webrtc.so\|plugins/vonage.so' "$tmp/contents.consultd" && fail "consultd ships a split-out plugin"
grep -q 'usr/share/consultd/web/admin/index.html' "$tmp/contents.consultd" || fail "consultd lacks the web pages"
grep -q 'plugins/webrtc.so' "$tmp/contents.webrtc" || fail "consultd-plugin-webrtc lacks webrtc.so"
grep -q 'plugins/vonage.so' "$tmp/contents.vonage" || fail "consultd-plugin-vonage lacks vonage.so"

log "lintian"
changes=$(ls "$out"/consultd_*.changes 2>/dev/null | head -n 1 || true)
lintian_rc=0
lintian --fail-on error --tag-display-limit 0 "${changes:-$deb}" >"$tmp/lintian.txt" 2>&1 || lintian_rc=$?
cat "$tmp/lintian.txt"
grep -q '^E: ' "$tmp/lintian.txt" && fail "lintian reports errors"
[ "$lintian_rc" -eq 0 ] || fail "lintian exited $lintian_rc"

# ---- install ----------------------------------------------------------------------
log "apt-get install ${all_debs[*]}"
install_rc=0
"${APT[@]}" install "${all_debs[@]}" >"$tmp/install.log" 2>&1 || install_rc=$?
# "The following NEW packages will be installed:" then indented names.
awk '/^The following NEW packages will be installed:/ {on=1; next} on && /^  / {for (i=1;i<=NF;i++) print $i; next} {on=0}' \
    "$tmp/install.log" | grep -vx 'consultd\|consultd-plugin-webrtc\|consultd-plugin-vonage' >"$pulled_in" || true
[ "$install_rc" -eq 0 ] || { cat "$tmp/install.log"; fail "apt-get install failed"; }
[ -s "$pulled_in" ] && echo "note: the install pulled in $(tr '\n' ' ' <"$pulled_in")"
for p in consultd consultd-plugin-webrtc consultd-plugin-vonage; do
    dpkg-query -W -f='${Status}\n' "$p" | grep -q 'install ok installed' || fail "$p is not installed"
done

log "user, folders, modes, secrets"
getent passwd consultd | grep -q ':/var/lib/consultd:/usr/sbin/nologin$' || fail "consultd user: $(getent passwd consultd)"
getent group consultd >/dev/null || fail "no consultd group"
[ "$(id -gn consultd)" = consultd ] || fail "consultd's primary group is $(id -gn consultd)"
expect_mode /var/lib/consultd "750 consultd:consultd"
expect_mode /var/lib/consultd/backups "750 consultd:consultd"
expect_mode /etc/consultd/secrets "750 root:consultd"
expect_mode /etc/consultd/consultd.conf "644 root:root"
expect_mode /etc/consultd/conf.d "755 root:root"
expect_mode /usr/sbin/consultd "755 root:root"
for s in jitsi_app_secret turn_secret recording.key; do
    expect_mode "/etc/consultd/secrets/$s" "640 root:consultd"
    [ "$(wc -c <"/etc/consultd/secrets/$s")" -ge 32 ] || fail "$s is shorter than 32 bytes"
done
[ "$(cat /etc/consultd/secrets/jitsi_app_secret)" != "$(cat /etc/consultd/secrets/turn_secret)" ] || fail "secrets are equal"
sha256sum /etc/consultd/secrets/* >"$tmp/secrets.sha256"
dpkg-query -W -f='${Conffiles}\n' consultd | grep -q '/etc/consultd/consultd.conf' || fail "consultd.conf is not a conffile"
for f in /lib/systemd/system/consultd.service /usr/lib/sysusers.d/consultd.conf /usr/lib/tmpfiles.d/consultd.conf \
    /usr/share/man/man8/consultd.8.gz /usr/share/man/man5/consultd.conf.5.gz /usr/share/doc/consultd/copyright \
    /usr/sbin/consultctl; do
    [ -e "$f" ] || fail "$f not installed"
done
ls /usr/lib/*/consultd/plugins/jitsi.so /usr/lib/*/consultd/plugins/webrtc.so /usr/lib/*/consultd/plugins/vonage.so \
    /usr/lib/*/consultd/libconsultd-api.so.1 /usr/share/consultd/web/admin/index.html >/dev/null ||
    fail "a plugin, the API library or the web pages are missing"
ldd /usr/sbin/consultd | grep -q 'not found' && fail "unresolved libraries: $(ldd /usr/sbin/consultd | grep 'not found')"

log "systemd-analyze verify on the installed unit"
verify=$(systemd-analyze verify /lib/systemd/system/consultd.service 2>&1) || true
# In a container without systemd as PID 1 verify still parses the unit; only
# its own checks must be silent.
[ -z "$verify" ] || { echo "$verify"; fail "systemd-analyze verify reported problems"; }

log "consultctl check-config"
checked=$(consultctl check-config 2>&1) || { echo "$checked"; fail "check-config failed on the installed configuration"; }
echo "$checked"
# Root runs check-config, the daemon runs as consultd: the secrets postinst
# made (0640 root:consultd) are right for the daemon and must not warn.
if grep -q '^warning.*secret file' <<<"$checked"; then fail "check-config warns on the secrets postinst installed"; fi
consultd --check-config --config /etc/consultd/consultd.conf

# When systemd runs this machine, postinst started the service: stop it, so
# the test starts the daemon by hand (and its port is free).
if [ -d /run/systemd/system ]; then
    if ! systemctl is-active --quiet consultd; then
        systemctl status consultd --no-pager || true
        journalctl -u consultd -n 50 --no-pager || true
        fail "postinst did not start consultd.service"
    fi
    echo "ok: consultd.service started by postinst under systemd"
    systemctl stop consultd
fi

# A local override in conf.d, as an admin would write it: a free port.
port=$(free_port)
printf '# packaging test\nserver = { port = %s; };\n' "$port" >/etc/consultd/conf.d/50-test.conf
consultctl check-config >/dev/null || fail "check-config failed with the conf.d override"

start_daemon() {  # as ExecStart: User/Group consultd, UMask 0027, NOTIFY_SOCKET
    local sock="$tmp/notify.sock" messages="$tmp/notify.$1.txt"
    rm -f "$sock"
    python3 "$HERE/notify_listener.py" "$sock" "$messages" 60 &
    listener_pid=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
    [ -S "$sock" ] || fail "notify socket not created"
    (
        umask 0027
        cd /
        exec setpriv --reuid=consultd --regid=consultd --init-groups --no-new-privs --inh-caps=-all \
            env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET="$sock" \
            /usr/sbin/consultd --config /etc/consultd/consultd.conf
    ) 2>"$tmp/daemon.$1.log" &
    daemon_pid=$!
    if ! wait "$listener_pid"; then
        cat "$tmp/daemon.$1.log"
        fail "READY=1 did not arrive on NOTIFY_SOCKET"
    fi
    listener_pid=""
    echo "ok: READY=1 from pid $daemon_pid ($(tr '\n' ' ' <"$messages"))"
    [ "$(ps -o user= -p "$daemon_pid")" = consultd ] || fail "daemon runs as $(ps -o user= -p "$daemon_pid")"
}
stop_daemon() {
    kill -TERM "$daemon_pid"
    local rc=0
    wait "$daemon_pid" || rc=$?
    daemon_pid=""
    [ "$rc" -eq 0 ] || { cat "$tmp/daemon.$1.log"; fail "daemon exited $rc on SIGTERM"; }
}

log "start as the consultd user (ExecStart)"
start_daemon first
curl -fsS "http://127.0.0.1:$port/healthz" | grep -q '"ok"' || fail "/healthz"
ready=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[ "$ready" = 503 ] || fail "/readyz answered $ready; a fresh install has no provider enabled (503 expected)"
grep -q 'no provider' "$tmp/daemon.first.log" || fail "no 'no provider is enabled' warning in the log"
consultctl status --json | tee "$tmp/status.json" | grep -q '"running":true' || fail "consultctl status"
key_id=$(consultctl apikey create --name packaging-test --scopes sessions:read --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
expect_mode /var/lib/consultd/consultd.db "640 consultd:consultd"
consultctl backup "$tmp/manual-backup.db" >/dev/null || fail "consultctl backup"
stop_daemon first
echo "ok: stopped"

check_survived() {  # check_survived WHAT
    consultctl apikey list | grep -q "$key_id" || fail "$1: API key $key_id lost"
    sha256sum -c --quiet "$tmp/secrets.sha256" || fail "$1: secrets changed"
    grep -q '^# local edit by the packaging test$' /etc/consultd/consultd.conf || fail "$1: conffile edit lost"
    [ -f /etc/consultd/conf.d/50-test.conf ] || fail "$1: conf.d file lost"
    consultctl audit verify >/dev/null || fail "$1: audit chain broken"
    expect_mode /var/lib/consultd/consultd.db "640 consultd:consultd"
}

log "reinstall twice (same version), then upgrade to a newer version"
echo '# local edit by the packaging test' >>/etc/consultd/consultd.conf
for round in 1 2; do
    "${APT[@]}" install --reinstall "${all_debs[@]}" >"$tmp/reinstall.$round.log" 2>&1 ||
        { cat "$tmp/reinstall.$round.log"; fail "reinstall $round"; }
    check_survived "reinstall $round"
done
# A newer version of the same packages: repacked with a higher Version (the
# plugins depend on consultd (= version), so all three move together).
mkdir "$tmp/repack"
version=$(dpkg-deb -f "$deb" Version)
new_debs=()
for d in "${all_debs[@]}"; do
    name=$(dpkg-deb -f "$d" Package)
    rm -rf "$tmp/repack/pkg"
    dpkg-deb -R "$d" "$tmp/repack/pkg"
    sed -i "s/^Version: .*/Version: ${version}+pkgtest1/; s/(= ${version})/(= ${version}+pkgtest1)/" \
        "$tmp/repack/pkg/DEBIAN/control"
    dpkg-deb -b --root-owner-group "$tmp/repack/pkg" "$tmp/repack/${name}_${version}+pkgtest1_amd64.deb" >/dev/null
    new_debs+=("$tmp/repack/${name}_${version}+pkgtest1_amd64.deb")
done
"${APT[@]}" install "${new_debs[@]}" >"$tmp/upgrade.log" 2>&1 ||
    { cat "$tmp/upgrade.log"; fail "upgrade"; }
[ "$(dpkg-query -W -f='${Version}' consultd-plugin-webrtc)" = "${version}+pkgtest1" ] || fail "the webrtc plugin was not upgraded"
[ "$(dpkg-query -W -f='${Version}' consultd)" = "${version}+pkgtest1" ] || fail "upgrade did not happen"
check_survived "upgrade"
ls /var/lib/consultd/backups/consultd.db.pre-upgrade-from-"$version"-* >/dev/null 2>&1 ||
    fail "no pre-upgrade backup in /var/lib/consultd/backups"
for b in /var/lib/consultd/backups/consultd.db.pre-upgrade-from-*; do
    [ "$(sqlite3 "$b" 'PRAGMA integrity_check')" = ok ] || fail "$b fails integrity_check"
    expect_mode "$b" "640 consultd:consultd"
done
if [ -d /run/systemd/system ]; then systemctl stop consultd; fi
start_daemon upgraded
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz after the upgrade"
stop_daemon upgraded

log "remove keeps configuration, secrets and data"
"${APT[@]}" remove consultd consultd-plugin-webrtc consultd-plugin-vonage >"$tmp/remove.log" 2>&1 ||
    { cat "$tmp/remove.log"; fail "remove"; }
[ ! -e /usr/sbin/consultd ] || fail "/usr/sbin/consultd still there after remove"
for f in /var/lib/consultd/consultd.db /etc/consultd/secrets/jitsi_app_secret /etc/consultd/secrets/turn_secret \
    /etc/consultd/consultd.conf; do
    [ -e "$f" ] || fail "remove deleted $f"
done
getent passwd consultd >/dev/null || fail "remove deleted the consultd user"

log "purge removes data, secrets, configuration and the user"
dpkg --purge consultd-plugin-webrtc consultd-plugin-vonage consultd >"$tmp/purge.log" 2>&1 ||
    { cat "$tmp/purge.log"; fail "purge"; }
for f in /var/lib/consultd /etc/consultd /lib/systemd/system/consultd.service /usr/lib/sysusers.d/consultd.conf; do
    [ ! -e "$f" ] || fail "purge left $f"
done
getent passwd consultd >/dev/null && fail "purge left the consultd user"
getent group consultd >/dev/null && fail "purge left the consultd group"
[ -f "$tmp/manual-backup.db" ] || fail "purge must not touch backups kept elsewhere"

log "PASS"
