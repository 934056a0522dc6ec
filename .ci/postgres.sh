#!/usr/bin/env bash
# Throwaway PostgreSQL on loopback for the test run.
#   .ci/postgres.sh start DIR PORT   -> initdb + start, prints the admin URL
#   .ci/postgres.sh stop DIR
# fsync is off: this cluster holds test data only, never a real node's.
# Buffers and WAL are sized as for a server (the defaults, 128 MB and 1 GB,
# made a benchmark evict pages and checkpoint every half minute).
set -euo pipefail
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
cmd=$1 dir=$2
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    port=$3
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
      "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=1GB -c max_wal_size=4GB" \
      start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -d "$dir/data" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
