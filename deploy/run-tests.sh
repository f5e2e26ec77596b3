#!/usr/bin/env bash
# Installs what is missing, builds matcache twice and runs every test in
# each build through CTest. Exits non-zero if anything fails.
#   build/       the release build: C++ unit and service tests, the Python
#                and fault-injection suites against build/bin/matcached
#   build-asan/  clang++-14 with ASan and UBSan: the same tests against the
#                sanitized matcached, and each fuzzer for a bounded time
#
# --repeat N: then runs the suites that start real servers and processes
# (python, fault, security) N more times in a row in each build, stopping at
# the first failure, to catch intermittent failures.
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeat) repeat="${2:?--repeat needs a count}"; shift 2 ;;
    --repeat=*) repeat="${1#--repeat=}"; shift ;;
    *) echo "usage: $0 [--repeat N]" >&2; exit 2 ;;
  esac
done
if ! [[ "$repeat" =~ ^[0-9]+$ ]]; then
  echo "run-tests: --repeat takes a whole number, not \"$repeat\"" >&2
  exit 2
fi

readonly LOOPED='^(python|fault|security)_tests$'

deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DMATCACHE_SANITIZE=ON -DMATCACHE_FUZZ=ON
cmake --build build-asan -j"$(nproc)"
# Sanitizer reports with file and line numbers.
export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
export UBSAN_OPTIONS=print_stacktrace=1
ctest --test-dir build-asan --output-on-failure -j"$(nproc)"

if [[ "$repeat" -gt 0 ]]; then
  for dir in build build-asan; do
    echo "run-tests: $LOOPED in $dir, $repeat times in a row"
    ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" -R "$LOOPED" \
      --repeat "until-fail:$repeat"
  done
fi
