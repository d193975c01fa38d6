#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests (crates/store).
#
#   eval "$(.ci/postgres.sh start)"   # exports BEDSIDE_TEST_DATABASE_URL and BEDSIDE_PG_DIR
#   cargo test -p bedside-store
#   .ci/postgres.sh stop              # stops the server and removes BEDSIDE_PG_DIR
#
# `start` installs Debian's postgresql package if no initdb is found under
# /usr/lib/postgresql/*/bin, creates a cluster in a new temporary directory
# (as user postgres when run as root: the server refuses to run as root),
# listens on 127.0.0.1 on a free port with its unix socket in that
# directory, and creates database bedside_test (user bedside, trust auth).
# Quiet on success: stdout carries only the export lines; errors go to stderr.
set -euo pipefail

MARKER=.bedside-postgres
DB=bedside_test
USER_NAME=bedside

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

install_pg() {
  find_bin >/dev/null && return 0
  local log
  log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postgresql >"$log" 2>&1; then
    # The package lists may be missing or stale on a fresh machine.
    if ! { apt-get update -q && apt-get install -y -q postgresql; } >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      say "could not install the postgresql package"
      return 1
    fi
  fi
  rm -f "$log"
  find_bin >/dev/null || { say "postgresql installed, but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"; return 1; }
}

# Run a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local p i
  for i in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  say "no free port found"
  return 1
}

start() {
  install_pg
  local bin dir
  bin=$(find_bin)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    say "running as root and there is no 'postgres' user to run the server"
    return 1
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/bedside-pg.XXXXXX")
  chmod 755 "$dir"
  touch "$dir/$MARKER"
  echo "$bin" >"$dir/bindir"
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; fi
  if ! start_in "$dir" "$bin"; then
    stop_dir "$dir" || true
    return 1
  fi
}

start_in() {
  local dir=$1 bin=$2 port attempt
  if ! as_owner "$bin/initdb" -D "$dir/data" -U "$USER_NAME" --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    say "initdb failed"
    return 1
  fi
  for attempt in 1 2 3 4 5; do
    port=$(pick_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null 2>&1; then
      echo "$port" >"$dir/port"
      break
    fi
    port=""
  done
  if [ -z "$port" ]; then
    cat "$dir/server.log" >&2 || true
    say "the server did not start"
    return 1
  fi
  if ! as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$USER_NAME" "$DB" >"$dir/createdb.log" 2>&1; then
    cat "$dir/createdb.log" >&2
    say "createdb failed"
    return 1
  fi
  echo "export BEDSIDE_PG_DIR=$dir"
  echo "export BEDSIDE_TEST_DATABASE_URL=postgres://$USER_NAME@127.0.0.1:$port/$DB"
}

stop_dir() {
  local dir=$1 bin
  if [ ! -f "$dir/$MARKER" ]; then
    say "$dir is not a directory made by '$0 start'; not touching it"
    return 1
  fi
  bin=$(cat "$dir/bindir" 2>/dev/null || find_bin)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || {
      say "pg_ctl stop failed"
      return 1
    }
  fi
  rm -rf "$dir"
}

stop() {
  if [ -z "${BEDSIDE_PG_DIR:-}" ]; then
    say "BEDSIDE_PG_DIR is not set (eval the output of '$0 start' first)"
    return 1
  fi
  stop_dir "$BEDSIDE_PG_DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
