#!/usr/bin/env bash
# Size of the console's .wasm: debug and release (wasm-opt -Oz), raw and gzip -9.
set -euo pipefail
cd "$(dirname "$0")/.."
report() {
  printf '%-28s raw %8d B   gzip -9 %8d B\n' "$1" "$(stat -c %s "$2")" "$(gzip -9c "$2" | wc -c)"
}
make -s site-debug >/dev/null
report "debug" target/site/pkg/vigil_bg.wasm
make -s site-release >/dev/null
report "release (wasm-opt -Oz)" target/site/pkg/vigil_bg.wasm
report "release js glue" target/site/pkg/vigil.js
