#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# short, bounded time on its seed corpus. A crash, leak or sanitizer report
# fails the test. Longer runs: FUZZ_SECONDS=600 tests/fuzz/run_fuzzers.sh
set -euo pipefail
SRC=${CONSULTD_SOURCE_DIR:?}
OUT=${CONSULTD_BUILD_DIR:?}/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-15}
mkdir -p "$OUT"
CXX=${FUZZ_CXX:-clang++}
if ! command -v "$CXX" >/dev/null; then
  echo "clang++ is missing (apt-get install clang)" >&2
  exit 1
fi
FLAGS=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$SRC/daemon/src" -I"$SRC/daemon/include" -I"$SRC/daemon/turn/include" -I"$SRC/daemon/turn/src"
       -DCONSULTD_DEFAULT_PLUGIN_DIR=\"/usr/lib/consultd/plugins\" -DCONSULTD_DEFAULT_DATA_DIR=\"/usr/share/consultd\"
       -DCONSULTD_VERSION=\"fuzz\")

build() {  # build NAME SOURCES... -- LIBS...
  local name=$1; shift
  local sources=() libs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do sources+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  libs=("$@")
  echo "== building $name"
  "$CXX" "${FLAGS[@]}" "${sources[@]}" -o "$OUT/$name" "${libs[@]}"
}

build fuzz_stun "$SRC/tests/fuzz/fuzz_stun.cpp" "$SRC/daemon/turn/src/StunMessage.cpp" \
  "$SRC/daemon/turn/src/TurnCrypto.cpp" "$SRC/daemon/turn/src/SocketAddress.cpp" -- -lssl -lcrypto
build fuzz_config "$SRC/tests/fuzz/fuzz_config.cpp" "$SRC/daemon/src/config/ConfigLoader.cpp" \
  "$SRC/daemon/src/config/Schema.cpp" "$SRC/daemon/src/api/provider.cpp" -- -lconfig++
build fuzz_json "$SRC/tests/fuzz/fuzz_json.cpp" "$SRC/daemon/src/http/Json.cpp" "$SRC/daemon/src/util/Time.cpp" \
  "$SRC/daemon/src/util/Crypto.cpp" -- -lPocoJSON -lPocoFoundation -lssl -lcrypto
build fuzz_webhooks -I"$SRC/plugins/jitsi" -I"$SRC/plugins/vonage" "$SRC/tests/fuzz/fuzz_webhooks.cpp" \
  "$SRC/plugins/jitsi/JaasWebhook.cpp" "$SRC/plugins/vonage/VonageWebhook.cpp" "$SRC/daemon/src/api/provider.cpp" \
  -- -lPocoJSON -lPocoFoundation -lssl -lcrypto

export LSAN_OPTIONS="suppressions=$SRC/tests/fuzz/lsan.supp:print_suppressions=0"
status=0
for name in stun config json webhooks; do
  corpus=$(mktemp -d)
  cp "$SRC/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
  echo "== fuzz_$name for ${SECONDS_EACH}s"
  if ! (cd "$OUT" && ./fuzz_$name -max_total_time="$SECONDS_EACH" -max_len=4096 -rss_limit_mb=1024 \
          -artifact_prefix="$OUT/crash-$name-" \
          -print_final_stats=1 "$corpus" 2>&1 | tail -n 25); then
    status=1
  fi
  rm -rf "$corpus"
done
rm -f /tmp/consultd-fuzz-config-*.conf
exit $status
