#!/usr/bin/env bash
# Usage: run_fuzzer.sh FUZZER SEEDS WORK SECONDS [FUZZER_FLAGS...]
# Runs FUZZER for SECONDS, starting from a fresh copy of the seed corpus
# SEEDS in WORK/corpus (every seed is replayed first); a crashing input is
# saved in WORK/artifacts. Exits non-zero on any crash or sanitizer report.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
shift 4

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$@" "$work/corpus"
