#!/usr/bin/env bash
# Builds tests/signal/fuzz_signal_messages.cpp with clang (libFuzzer, ASan,
# UBSan) and runs it for a short, bounded time on tests/signal/corpus. A
# crash, leak or sanitizer report fails the test. Longer: FUZZ_SECONDS=600.
set -euo pipefail
SRC=${CONSULTD_SOURCE_DIR:?}
OUT=${CONSULTD_BUILD_DIR:?}/fuzz-signal
SECONDS_EACH=${FUZZ_SECONDS:-10}
CXX=${FUZZ_CXX:-clang++}
command -v "$CXX" >/dev/null || { echo "clang++ is missing (apt-get install clang)" >&2; exit 1; }
mkdir -p "$OUT"
"$CXX" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$SRC/daemon/src" -I"$SRC/daemon/include" \
  "$SRC/tests/signal/fuzz_signal_messages.cpp" "$SRC/daemon/src/signal/SignalingRooms.cpp" \
  "$SRC/daemon/src/util/Time.cpp" "$SRC/daemon/src/log/LogContext.cpp" -o "$OUT/fuzz_signal_messages" -lPocoJSON -lPocoFoundation
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$SRC/tests/signal/corpus/"* "$corpus/"
export LSAN_OPTIONS="suppressions=$SRC/tests/fuzz/lsan.supp:print_suppressions=0"
cd "$OUT"
./fuzz_signal_messages -max_total_time="$SECONDS_EACH" -max_len=4096 -rss_limit_mb=1024 \
  -artifact_prefix="$OUT/crash-" -print_final_stats=1 "$corpus" 2>&1 | tail -n 20
exit "${PIPESTATUS[0]}"
