"""The spare file (--spare_bytes): preallocated as a put begins, for the next
put; counted in the budget and reported by Stats, private to the server, and
never costing a matrix its place."""

import os
import stat
import subprocess
import sys
import time

import numpy as np

import matcache

HEADER = 4096
MIB = 1 << 20
FILE_BYTES = MIB + HEADER  # each test matrix: 1 MiB of data and its header


def _matrix(value):
    return np.full(MIB // 8, value, dtype=np.float64)


def _spares(srv):
    return sorted(srv.shm_dir.glob("*.spare.shm"))


def _wait_for_spare(client, srv, size):
    """The spare file, once the server reports one of `size` bytes."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        spares = _spares(srv)
        if client.stats().spare_bytes == size and len(spares) == 1:
            return spares[0]
        time.sleep(0.01)
    raise AssertionError(f"no {size}-byte spare: {client.stats()}, {spares}")


def _settled(client):
    """Stats once the spare thread has done all that was asked of it: what
    the directory holds then stays until the next put."""
    deadline = time.monotonic() + 10
    while (stats := client.stats()).spare_pending:
        assert time.monotonic() < deadline, f"spare thread stuck: {stats}"
        time.sleep(0.01)
    return stats


def test_a_put_leaves_a_private_spare_counted_in_the_budget(start_server):
    srv = start_server("--max_bytes", str(4 * FILE_BYTES))
    with matcache.Client(srv.address) as c:
        assert c.stats().spare_bytes == 0
        c.put("a", _matrix(1))
        spare = _wait_for_spare(c, srv, FILE_BYTES)
        st = os.stat(spare)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_size == FILE_BYTES
        assert st.st_blocks * 512 >= FILE_BYTES  # preallocated
        assert c.stats().used_bytes == 2 * FILE_BYTES
        # The budget still holds four matrices: a spare becomes the next
        # put, and none is made without room for a put besides.
        for value, name in enumerate("bcd", start=2):
            c.put(name, _matrix(value))
        for value, name in enumerate("abcd", start=1):
            assert np.array_equal(c.get(name), _matrix(value)), name
        stats = _settled(c)
        assert stats.used_bytes == 4 * FILE_BYTES
        assert stats.spare_bytes == 0 and not _spares(srv)


def test_spare_follows_the_put_size_up_to_the_limit(start_server):
    srv = start_server("--spare_bytes", "256K")
    with matcache.Client(srv.address) as c:
        c.put("a", _matrix(1))
        _wait_for_spare(c, srv, 256 << 10)
        c.put("small", np.arange(10.0))
        _wait_for_spare(c, srv, HEADER + 80)


def test_no_spare_with_spare_bytes_zero(start_server):
    srv = start_server("--spare_bytes", "0")
    with matcache.Client(srv.address) as c:
        c.put("a", _matrix(1))
        c.put("b", _matrix(2))
        stats = _settled(c)
        assert stats.spare_bytes == 0
        assert not _spares(srv)


def test_an_idle_server_gives_the_spare_back(start_server):
    srv = start_server("--spare_idle_seconds", "1")
    with matcache.Client(srv.address) as c:
        start = time.monotonic()
        c.put("a", _matrix(1))
        deadline = start + 10
        while (stats := c.stats()).spare_pending or stats.spare_bytes:
            assert time.monotonic() < deadline, stats
            time.sleep(0.01)
        # Were none made, the loop would have ended at once.
        assert time.monotonic() - start >= 1
        assert stats.used_bytes == FILE_BYTES and not _spares(srv)


def test_stopping_removes_the_spare(start_server):
    srv = start_server()
    with matcache.Client(srv.address) as c:
        c.put("a", _matrix(1))
        _wait_for_spare(c, srv, FILE_BYTES)
    srv.stop()
    assert not _spares(srv)
    assert sorted(p.name.split(".")[1] for p in srv.shm_dir.glob("*.shm")) \
        == ["a"]


def test_cli_stats_shows_the_spare(start_server):
    srv = start_server()
    with matcache.Client(srv.address) as c:
        c.put("a", _matrix(1))
        _wait_for_spare(c, srv, FILE_BYTES)
    done = subprocess.run(
        [sys.executable, "-m", "matcache", "--address", srv.address, "stats"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "spare file:   1.0 MiB (preallocated for the next put" in done.stdout

