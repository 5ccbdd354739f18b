#!/usr/bin/env bash
# README's second command (and all .ci/run does): set everything up, build,
# and run the whole test suite with CTest. Prints CTest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 -j1 "$@"
