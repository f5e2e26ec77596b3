#!/usr/bin/env bash
# Installs what is missing, builds matcached and the Python client, and runs
# the server in the foreground with its defaults (unix socket
# /tmp/matcache/matcached.sock and 127.0.0.1:7470, segments in /dev/shm).
# Extra arguments are passed to matcached, e.g. --shm_dir=/mnt/matcache.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)" --target matcached matcache_python
exec build/bin/matcached "$@"
