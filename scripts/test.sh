#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust tests (against a real PostgreSQL,
# one database per test), then the browser tests (Playwright driving Debian's chromium).
#
# PostgreSQL: $DATABASE_URL if set, else the server on 127.0.0.1:5432 if one answers,
# else a throwaway cluster started from the local installation.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step says when it began (seconds since the start), so a slow CI run shows where.
started=$SECONDS
say() { printf '\033[1m==> [%4ss] %s\033[0m\n' "$((SECONDS - started))" "$*"; }

say "installing what is missing"
bash scripts/setup.sh --test

cleanup_cmds=()
cleanup() { for c in "${cleanup_cmds[@]}"; do eval "$c" || true; done; }
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  if pg_isready -q -h 127.0.0.1 -p 5432 -U postgres 2>/dev/null \
     && psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
  else
    say "no PostgreSQL on 127.0.0.1:5432: starting a throwaway one"
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$bin" ] || bin=$(dirname "$(command -v initdb)")
    tmp=$(mktemp -d /tmp/cronwatch-test-pg.XXXXXX)
    as=()
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$tmp"; as=(runuser -u postgres --); fi
    "${as[@]}" "$bin/initdb" -D "$tmp/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    "${as[@]}" "$bin/pg_ctl" start -D "$tmp/data" -w -l "$tmp/log" \
      -o "-c listen_addresses=127.0.0.1 -p 55432 -c unix_socket_directories=$tmp -c max_connections=200" >/dev/null
    cleanup_cmds+=("${as[*]} $bin/pg_ctl stop -D $tmp/data -m fast >/dev/null; rm -rf $tmp")
    export DATABASE_URL=postgres://postgres@127.0.0.1:55432/postgres
  fi
fi
say "tests use $DATABASE_URL"

say "formatting"
cargo fmt --all --check

say "building"
bash scripts/build.sh

say "README's first command: scripts/run.sh with no DATABASE_URL answers /healthz"
smoke_dir=$(mktemp -d /tmp/cronwatch-smoke.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -u DATABASE_URL CRONWATCH_DATA_DIR="$smoke_dir" bash scripts/run.sh --bind "127.0.0.1:$port" >"$smoke_dir.log" 2>&1 &
smoke_pid=$!
ok=""
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then ok=1; break; fi
  kill -0 "$smoke_pid" 2>/dev/null || break
  sleep 1
done
kill -TERM "$smoke_pid" 2>/dev/null || true
wait "$smoke_pid" || true
if [ -z "$ok" ]; then cat "$smoke_dir.log"; echo "the server did not answer /healthz"; exit 1; fi
[ -f "$smoke_dir/pg/PG_VERSION" ] || { echo "no private PostgreSQL in the data dir"; exit 1; }
[ ! -f "$smoke_dir/pg/postmaster.pid" ] || { echo "PostgreSQL still running after SIGTERM"; exit 1; }
rm -rf "$smoke_dir" "$smoke_dir.log"
echo "ok"

say "lints"
SQLX_OFFLINE=true cargo clippy --locked --release -p app -p server --features app/ssr --all-targets -- -D warnings
SQLX_OFFLINE=true cargo clippy --locked --profile wasm-release -p frontend --target wasm32-unknown-unknown -- -D warnings

say "Rust tests"
# One invocation: both crates' test builds share one feature set (no dependency built
# twice) and compile side by side.
SQLX_OFFLINE=true cargo test --locked --release -p app -p server --features app/ssr

say "browser tests"
db="cronwatch_e2e_$$"
psql "$DATABASE_URL" -qc "create database $db" >/dev/null
cleanup_cmds+=("psql '$DATABASE_URL' -qc 'drop database if exists $db with (force)' >/dev/null")
export E2E_DATABASE_URL="${DATABASE_URL%/*}/$db"
(cd end2end && npx playwright test)
say "every test passed"
