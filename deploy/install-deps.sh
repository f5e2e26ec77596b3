#!/usr/bin/env bash
# Installs the Debian packages that matcache needs to build, test and run.
# Idempotent: prints what is missing, installs only that, and does nothing
# when every package is already present. Must run as root (or via sudo).
set -euo pipefail

readonly PACKAGES=(
  # C++ toolchain and build
  cmake g++ make pkg-config
  # C++ libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev xtensor-dev libxsimd-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # HTTP gateway: the server library, metrics, JSON, PNG heatmaps
  libmicrohttpd-dev prometheus-cpp-dev nlohmann-json3-dev libpng-dev
  # Python client, stubs and tests
  python3 python3-grpcio python3-numpy python3-protobuf python3-pytest
  python3-hypothesis
  # Benchmark suite (bench/run): a peer to measure against, the plots, and
  # perf to profile the server under bench/load_gen
  redis-server python3-matplotlib linux-perf
  # Security tests: certificates for TLS
  openssl
  # HTTP tests: promtool and a real Prometheus to scrape the gateway; zarr
  # and dask reading the Zarr view over fsspec's HTTP; PIL decoding PNGs
  prometheus python3-zarr python3-fsspec python3-aiohttp python3-dask
  python3-pil
  # Browser tests: the status page and the example dashboard (Flask and
  # Plotly) in headless Chromium, driven through the DevTools protocol
  chromium python3-websocket python3-flask python3-plotly
  # systemd: sd_notify for matcached, systemd-analyze to verify the units
  libsystemd-dev systemd
  # Packaging: dpkg-shlibdeps for the .deb's dependencies, the Python
  # package's build backend and a venv to install it into
  dpkg-dev python3-setuptools python3-wheel python3-venv
  # Deployment tests: compose files parsed as YAML, Kubernetes manifests
  # checked against the API's models, and a Debian tree booted under a real
  # systemd with the package installed
  python3-yaml python3-kubernetes mmdebstrap systemd-container
  # Sanitizer and fuzz build (build-asan): clang, its sanitizer and libFuzzer
  # runtimes, and llvm-symbolizer for readable reports
  clang-14 libclang-rt-14-dev llvm-14
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
      grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    SUDO="sudo"
  else
    echo "install-deps: must run as root to install packages" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
