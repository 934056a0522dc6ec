#!/usr/bin/env bash
# Keep-alive request rate against one node (release build) with wrk.
#   bench/keepalive.sh [sqlite|postgres] [seconds] [connections]
# For postgres, set VIGIL_BENCH_POSTGRES_URL to an empty database, or leave it
# unset to have a throwaway PostgreSQL started on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-sqlite} seconds=${2:-10} conns=${3:-64}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)"; exit 1; }
[ -x target/release/vigil ] || cargo build -p server --release
work=$(mktemp -d) port=$((20000 + RANDOM % 20000)) pgdir=""
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$pgdir" ] && .ci/postgres.sh stop "$pgdir"
  rm -rf "$work"
}
trap cleanup EXIT
case "$engine" in
  sqlite) url="sqlite://$work/vigil.db?mode=rwc" ;;
  postgres)
    url=${VIGIL_BENCH_POSTGRES_URL:-}
    if [ -z "$url" ]; then
      pgdir=$(mktemp -d)
      url=$(.ci/postgres.sh start "$pgdir" $((port + 1)))
    fi ;;
  *) echo "engine: sqlite or postgres"; exit 2 ;;
esac
VIGIL_LOG=warn VIGIL_DATABASE_URL=$url VIGIL_LISTEN=127.0.0.1:$port VIGIL_DATA_DIR=$work \
  VIGIL_ADMIN_PASSWORD=bench-admin-password VIGIL_NODE_NAME=bench target/release/vigil serve &
pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
cookie=$(curl -fs -D - -o /dev/null -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench-admin-password"}' "http://127.0.0.1:$port/api/v1/auth/login" \
  | sed -n 's/^[Ss]et-[Cc]ookie: \(vigil_session=[^;]*\).*/\1/p')
echo "engine=$engine connections=$conns duration=${seconds}s cpus=$(nproc)"
wrk -t2 -c"$conns" -d"${seconds}s" --latency -H "Cookie: $cookie" \
  "http://127.0.0.1:$port/api/v1/keepalive" | sed -n '/Latency/p;/50%/p;/99%/p;/Requests\/sec/p;/Non-2xx/p'
