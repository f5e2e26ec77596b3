#!/usr/bin/env bash
# Installs what is missing, builds matcache twice and runs every test in
# each build through CTest. Exits non-zero if anything fails.
#   build/       the release build: C++ unit and service tests, the Python
#                and fault-injection suites against build/bin/matcached
#   build-asan/  clang++-14 with ASan and UBSan: the same tests against the
#                sanitized matcached, and each fuzzer for a bounded time
set -euo pipefail
cd "$(dirname "$0")/.."

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
