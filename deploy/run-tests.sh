#!/usr/bin/env bash
# Installs what is missing, builds matcache and runs every test (C++ and
# Python, all through CTest). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
