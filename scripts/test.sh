#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust tests (against a real PostgreSQL,
# one database per test), then the browser tests (Playwright driving Debian's chromium).
#
# PostgreSQL: $DATABASE_URL if set, else the server on 127.0.0.1:5432 if one answers,
# else a throwaway cluster started from the local installation.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

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

bash scripts/build.sh

say "lints"
SQLX_OFFLINE=true cargo clippy --locked --release -p app -p server --features app/ssr --all-targets -- -D warnings
SQLX_OFFLINE=true cargo clippy --locked --profile wasm-release -p frontend --target wasm32-unknown-unknown -- -D warnings

say "Rust tests"
SQLX_OFFLINE=true cargo test --locked --release -p app --features ssr
SQLX_OFFLINE=true cargo test --locked --release -p server

say "browser tests"
db="cronwatch_e2e_$$"
psql "$DATABASE_URL" -qc "create database $db" >/dev/null
cleanup_cmds+=("psql '$DATABASE_URL' -qc 'drop database if exists $db with (force)' >/dev/null")
export E2E_DATABASE_URL="${DATABASE_URL%/*}/$db"
(cd end2end && npx playwright test)
