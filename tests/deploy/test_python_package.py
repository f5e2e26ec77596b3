"""clients/python as a Python package: pip installs it into a fresh venv
(--system-site-packages, for Debian's grpcio and numpy; no index, no build
isolation), which then has `import matcache` from anywhere, the `matcache`
command, the stubs generated from protos/ at build time and the project's
version, and talks to a real matcached."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from deploysupport import BUILD, REPO, run

STARTUP_SECONDS = 20


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A venv with the package installed from a copy of the sources (so
    that the build leaves nothing in the work tree); its bin directory."""
    top = tmp_path_factory.mktemp("pip")
    source = top / "src"
    shutil.copytree(REPO / "clients" / "python", source / "clients" / "python",
                    ignore=shutil.ignore_patterns("__pycache__", "build",
                                                  "*.egg-info"))
    shutil.copytree(REPO / "protos", source / "protos")
    shutil.copy(REPO / "CMakeLists.txt", source / "CMakeLists.txt")
    run(["/usr/bin/python3", "-m", "venv", "--system-site-packages",
         top / "venv"])
    run([top / "venv" / "bin" / "pip", "install", "--no-build-isolation",
         "--no-index", source / "clients" / "python"], timeout=300)
    return top / "venv" / "bin"


def _clean_env():
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "MATCACHE_ADDRESS")}


def test_import_version_and_stubs(venv):
    code = ("import matcache, matcache.v1.matcache_pb2 as pb; "
            "print(matcache.__version__); print(matcache.__file__); "
            "print(pb.DESCRIPTOR.serialized_pb.hex())")
    version, path, descriptor = run([venv / "python", "-c", code], cwd="/",
                                    env=_clean_env()).split()
    assert path.startswith(str(venv.parent / "lib"))
    sys.path.insert(0, str(BUILD / "python"))
    try:
        import matcache
        from matcache.v1 import matcache_pb2
    finally:
        sys.path.pop(0)
    # The same version as the server, the same stubs as CMake makes.
    assert version == matcache.__version__
    assert run([BUILD / "bin" / "matcached", "--version"]).split() == [
        "matcached", version]
    assert descriptor == matcache_pb2.DESCRIPTOR.serialized_pb.hex()
    assert not (REPO / "clients" / "python" / "matcache" / "v1").exists()


def test_the_command_talks_to_a_server(venv, tmp_path):
    socket_path = tmp_path / "sock" / "m.sock"
    shm_dir = tmp_path / "shm"
    shm_dir.mkdir(mode=0o700)
    server = subprocess.Popen(
        [BUILD / "bin" / "matcached", f"--listen=unix:{socket_path}",
         "--http_listen=", f"--shm_dir={shm_dir}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not socket_path.exists():
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        env = dict(_clean_env(), MATCACHE_ADDRESS=f"unix:{socket_path}")
        put = ("import numpy as np, matcache; "
               "matcache.Client().put('v', np.eye(3))")
        run([venv / "python", "-c", put], cwd="/", env=env)
        listing = run([venv / "matcache", "ls"], cwd="/", env=env)
        assert [line.split()[0] for line in listing.splitlines()[1:]] == ["v"]
        info = run([venv / "matcache", "info", "v"], cwd="/", env=env)
        assert "float64" in info and "3" in info, info
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert server.returncode == 0
