#!/usr/bin/env bash
# CTest's bench_smoke: runs the benchmark suite at tiny sizes into a temp
# directory and checks that it finished (no load-test error, no leaked
# segment: bench/run exits non-zero otherwise) and wrote the report and
# every plot. Performance targets are reported there, never asserted.
set -euo pipefail
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$(dirname "$0")/run" --smoke --out "$out"
for file in report.md results.json put_get.png fresh_pass.png \
    remote_read.png latency.png load.png capacity.png scale.png; do
  if [[ ! -s "$out/$file" ]]; then
    echo "bench_smoke: bench/run wrote no $file" >&2
    exit 1
  fi
done
