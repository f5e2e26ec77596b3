"""--persist_dir: every put is also written to disk in the background, a
delete removes it, and after a reboot empties the tmpfs the matrices come
back on first access."""

import time

import numpy as np
import pytest

import matcache


def _wait_for(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _matches(path, array):
    try:
        return np.array_equal(np.load(path), array)
    except (OSError, ValueError):
        return False


def test_puts_are_persisted_replaced_and_deleted(start_server, tmp_path):
    persist = tmp_path / "persist"
    persist.mkdir()
    srv = start_server("--persist_dir", str(persist))
    first = np.arange(12.0).reshape(3, 4)
    second = np.arange(5, dtype=np.int16)
    with matcache.Client(srv.address) as c:
        c.put("m", first)
        assert _wait_for(lambda: _matches(persist / "m.npy", first))
        with matcache.Client(srv.address, local=False) as remote:
            remote.put("m", second)
        assert _wait_for(lambda: _matches(persist / "m.npy", second))
        assert c.info("m").source == str(persist / "m.npy")
        c.delete("m")
        assert not (persist / "m.npy").exists()
        assert not list(persist.glob(".*.tmp"))


def test_a_reboot_loses_nothing(start_server, tmp_path):
    persist = tmp_path / "persist"
    persist.mkdir()
    srv = start_server("--persist_dir", str(persist))
    arrays = {"a": np.random.default_rng(1).standard_normal((50, 40)),
              "b": np.arange(7, dtype=np.uint8)}
    with matcache.Client(srv.address) as c:
        for name, array in arrays.items():
            c.put(name, array)
    assert _wait_for(lambda: all(_matches(persist / f"{n}.npy", a)
                                 for n, a in arrays.items()))
    assert srv.stop() == 0
    for path in srv.shm_dir.iterdir():  # what a reboot does to a tmpfs
        path.unlink()
    srv.start()
    with matcache.Client(srv.address) as c:
        for name, array in arrays.items():
            got = c.get(name)
            assert got.dtype == array.dtype
            assert np.array_equal(got, array)
        assert c.stats().loads == 2


def test_persisted_matrices_can_be_evicted_and_come_back(start_server, tmp_path):
    persist = tmp_path / "persist"
    persist.mkdir()
    mib = 1 << 20
    srv = start_server("--persist_dir", str(persist),
                       "--max_bytes", str(2 * (mib + 4096)))
    with matcache.Client(srv.address) as c:
        for value, name in enumerate(("a", "b")):
            c.put(name, np.full(mib // 8, value, np.float64))
        assert _wait_for(lambda: c.info("a").source and c.info("b").source)
        c.put("c", np.full(mib // 8, 2, np.float64))  # evicts a persisted one
        assert c.stats().evictions == 1
        assert all(c.get(name)[0] == value
                   for value, name in enumerate(("a", "b", "c")))


def test_pins_ttls_and_original_dtypes_survive_a_reboot(start_server, tmp_path):
    persist = tmp_path / "persist"
    persist.mkdir()
    srv = start_server("--persist_dir", str(persist))
    array = np.linspace(0, 1, 30)
    with matcache.Client(srv.address) as c:
        put = c.put("kept", array, pin=True, ttl=3600, store_dtype="float32")
        c.put("plain", array)
        c.put("later", array)
        assert _wait_for(lambda: all((persist / f"{n}.meta").exists()
                                     for n in ("kept", "plain", "later")))
        c.pin("later")  # a change after the write is recorded too
    assert srv.stop() == 0
    for path in srv.shm_dir.iterdir():
        path.unlink()
    srv.start()
    with matcache.Client(srv.address) as c:
        kept = c.info("kept")
        assert kept.pinned
        assert kept.expires is not None
        assert abs((kept.expires - put.expires).total_seconds()) <= 1
        assert kept.dtype == np.dtype("float32")
        assert kept.original_dtype == np.dtype("float64")
        plain = c.info("plain")
        assert not plain.pinned and plain.expires is None
        assert plain.original_dtype == np.dtype("float64")
        assert c.info("later").pinned
        c.delete("kept")
        assert not (persist / "kept.meta").exists()
        assert not (persist / "kept.npy").exists()
