#!/usr/bin/env bash
# Installs what building and testing cronwatch needs, skipping whatever is present.
# Works offline apart from the package registries (crates.io, npm, Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130   # must equal wasm-bindgen in Cargo.lock

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Its lockfile pins a yanked webpki-roots: fetch the source, repin, install from it.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked >/dev/null 2>&1 || true
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wasm-bindgen-cli-"$WASM_BINDGEN_VERSION" | head -1)
  tmp=$(mktemp -d)
  cp -r "$src" "$tmp/cli"
  (cd "$tmp/cli" && cargo update -p webpki-roots --precise 1.0.10 && cargo install --path . --locked)
  rm -rf "$tmp"
fi

if [ ! -x frontend/node_modules/.bin/wasm-opt ] || [ ! -f frontend/node_modules/echarts/dist/echarts.min.js ]; then
  say "installing echarts and binaryen from npm"
  (cd frontend && npm ci --no-audit --no-fund)
fi

if [ "${1:-}" = "--test" ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Debian's chromium"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -d end2end/node_modules/@playwright/test ]; then
    say "installing Playwright (no browser download: it drives Debian's chromium)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
