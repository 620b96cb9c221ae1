#!/usr/bin/env bash
# The whole test suite: lint + format check, typecheck, build, then every test.
# Real services the tests need are provisioned here from Debian's packages when missing,
# started on free loopback ports, and stopped on exit. Tests read their addresses from
# the environment (SLUICE_TEST_*), so nothing runs on a fixed port.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
ensure_package() { # ensure_package <command> <debian package>
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "test: $1 is missing and this user cannot install $2" >&2
    return 1
  fi
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

pids=()
tmp=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Chromium drives the browser tests (native EventSource, the demo) through playwright-core.
ensure_package chromium chromium
export SLUICE_TEST_CHROMIUM="${SLUICE_TEST_CHROMIUM:-$(command -v chromium)}"

echo "== lint (eslint + prettier)"
npx eslint . --max-warnings 0
echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
echo "== build"
npx tsc -p tsconfig.build.json
echo "== tests"
npx vitest run "$@"
