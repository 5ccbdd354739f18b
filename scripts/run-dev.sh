#!/usr/bin/env bash
# README's first command: set everything up, create a first API key if there is
# none, and run the daemon in the foreground on the development config
# (http://127.0.0.1:8080, SQLite in ./state). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BIN=${BUILD_DIR:-build}/daemon/consultd
"$BIN" --config etc/dev.conf --check-config
if [ ! -s state/dev-api-key ]; then
  (umask 077 && "$BIN" apikey create --config etc/dev.conf --name dev --scopes admin --json \
     | sed -n 's/.*"key":"\([^"]*\)".*/\1/p' >state/dev-api-key)
  echo "== created an admin API key for development in state/dev-api-key"
fi
echo "== consultd on http://127.0.0.1:8080 (admin API key in state/dev-api-key)"
exec "$BIN" --config etc/dev.conf
