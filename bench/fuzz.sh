#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer), each target for FUZZ_SECONDS
# (default 600): the UDP datagram parser and verifier, the JSON bodies of
# every product endpoint against a real in-process node, and datagrams to a
# node's UDP socket. The corpus is bench/fuzz/corpus/<target> (committed);
# a crash is saved under bench/fuzz/artifacts/<target> and fails the run.
#   bench/fuzz.sh [target...]        (make fuzz)
set -euo pipefail
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# libFuzzer's instrumentation needs nightly flags: a nightly toolchain when
# there is one, else the stable compiler told to accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly)
else
  cargo=(cargo); export RUSTC_BOOTSTRAP=1
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(datagram product_api udp_ingest)
status=0
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target, ${secs}s"
  "${cargo[@]}" fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -max_len=4096 -timeout=20 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*(DONE|pulse)|stat::|==[0-9]+==|SUMMARY|thread .* panicked|Done )' || true
  if ls "fuzz/artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "$target: crash found: $(ls "fuzz/artifacts/$target"/crash-*)"; status=1
  fi
done
exit $status
