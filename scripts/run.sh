#!/usr/bin/env bash
# Builds cronwatch if needed and starts it: ./scripts/run.sh [serve options, e.g. --demo]
# With no DATABASE_URL it starts a private PostgreSQL in ./cronwatch-data and serves
# on http://127.0.0.1:3000; the first start prints the `admin` password once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec target/release/cronwatch serve "$@"
