#!/usr/bin/env bash
# Console figures in headless Chromium: failover time over RUNS runs (p50/max),
# change-to-screen latency (p50/p95), keep-alive requests per minute.
#   bench/console.sh            (RUNS=10 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
# Release builds, as an operator runs them.
make -s site-release >/dev/null
cargo build -q -p server --release
cd end2end
VIGIL_BIN=$PWD/../target/release/vigil VIGIL_SITE_ROOT=$PWD/../target/site \
  npx playwright test -c bench.config.ts --reporter=line 2>&1 | grep -E "failover|change-to-screen|idle console|passed|failed"
