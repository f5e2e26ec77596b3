"""Fixtures: a real matcached for the whole session, extra servers on
demand, and unique matrix names."""

import os
import secrets

import pytest

import matcache
from serverproc import new_server, run_cleanups

# Small enough that a 2 GiB + 8 byte request (test_errors) is refused
# without touching memory.
MAX_MATRIX_BYTES = 2 << 30


@pytest.fixture(scope="session")
def server():
    """The session's matcached (a ServerProcess), also published to
    subprocesses as $MATCACHE_ADDRESS."""
    cleanups = []
    saved_address = os.environ.get("MATCACHE_ADDRESS")
    try:
        srv = new_server(["--lease_seconds", "60",
                           "--max_matrix_bytes", str(MAX_MATRIX_BYTES)],
                          cleanups)
        srv.start()
        os.environ["MATCACHE_ADDRESS"] = srv.address
        yield srv
        assert srv.stop() == 0, srv.log()
    finally:
        if saved_address is None:
            os.environ.pop("MATCACHE_ADDRESS", None)
        else:
            os.environ["MATCACHE_ADDRESS"] = saved_address
        run_cleanups(cleanups)


def _server_starter():
    """Yields a function starting an extra matcached with the given extra
    flags; at the end every server it started is stopped and its
    directories removed."""
    cleanups = []

    def start(*args):
        srv = new_server(args, cleanups)
        srv.start()
        return srv

    try:
        yield start
    finally:
        run_cleanups(cleanups)


@pytest.fixture
def start_server():
    """A function starting an extra matcached with the given extra flags;
    every server it started is stopped and its directories removed at the
    end of the test."""
    yield from _server_starter()


@pytest.fixture(scope="module")
def start_module_server():
    """start_server for servers that every test of a module shares: they
    are stopped and removed after the module's last test."""
    yield from _server_starter()


@pytest.fixture
def client(server):
    """A Client of the session server (default local mode)."""
    with matcache.Client(server.address) as c:
        yield c


@pytest.fixture
def name():
    """A matrix name no other test uses."""
    return f"m{secrets.token_hex(6)}"
