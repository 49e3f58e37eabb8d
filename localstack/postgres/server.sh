#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the integration tests: the shop's source
# database and the warehouse stand-in. Uses Debian's PostgreSQL binaries, runs as `postgres`.
set -euo pipefail

PGPORT="${CARTFLOW_PG_PORT:-55432}"
PGDATA_DIR="${CARTFLOW_PG_DATA:-/tmp/cartflow-pg}"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"

as_postgres() { runuser -u postgres -- "$@"; }

install() {
  if [[ -z "$PGBIN" ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
}

start() {
  install
  if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    mkdir -p "$PGDATA_DIR" && chown postgres:postgres "$PGDATA_DIR"
    as_postgres "$PGBIN/initdb" -D "$PGDATA_DIR" -A trust -U postgres >/dev/null
  fi
  as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 \
    -o "-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  for db in cartflow_source cartflow_warehouse; do
    as_postgres "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" |
      grep -q 1 || as_postgres "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres "$db"
  done
  echo "postgres://postgres@127.0.0.1:$PGPORT"
}

stop() {
  if [[ -n "$PGBIN" && -f "$PGDATA_DIR/postmaster.pid" ]]; then
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast stop >/dev/null
  fi
  rm -rf "$PGDATA_DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
