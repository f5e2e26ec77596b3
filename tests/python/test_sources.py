"""Matrices with .npy sources: Load, lazy and eager reads, every layout numpy
writes, paths confined to --data_dir, one read for many first accesses,
reloads after evictions, and --preload_dir."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import matcache
from matcache import dtypes
from serverproc import ServerProcess
from tmpfs import mounted_tmpfs

DTYPES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8",
          "c8", "c16"]


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path


def _save(path, array, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version)
    return path


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("code", DTYPES)
def test_every_dtype_and_byte_order_loads_like_np_load(start_server, data_dir,
                                                      code, order):
    srv = start_server("--data_dir", str(data_dir))
    dtype = np.dtype(code).newbyteorder(order) if code != "?" else np.dtype("?")
    array = (np.arange(24) % 7 - 3).astype(dtype).reshape(4, 6)
    _save(data_dir / "m.npy", array)
    with matcache.Client(srv.address) as c:
        info = c.load("m", "m.npy")
        assert info.generation == 0 and info.shape == (4, 6)
        got = c.get("m")
        assert got.dtype == dtypes.from_proto(dtypes.to_proto(dtype))
        assert np.array_equal(got, np.load(data_dir / "m.npy"))


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_fortran_order_and_every_format_version(start_server, data_dir, version):
    srv = start_server("--data_dir", str(data_dir))
    array = np.asfortranarray(np.random.default_rng(3).standard_normal((5, 7, 3)))
    _save(data_dir / "f.npy", array, version=version)
    with matcache.Client(srv.address) as c:
        info = c.load("f", str(data_dir / "f.npy"), eager=True)
        assert info.generation > 0
        assert info.source == str((data_dir / "f.npy").resolve())
        assert np.array_equal(c.read("f", np.s_[1:, ::2]), array[1:, ::2])


def test_paths_outside_the_data_dir_are_refused(start_server, data_dir,
                                                tmp_path):
    srv = start_server("--data_dir", str(data_dir))
    outside = _save(tmp_path / "outside.npy", np.ones(3))
    os.symlink(outside, data_dir / "link.npy")
    (data_dir / "sub").mkdir()
    with matcache.Client(srv.address) as c:
        for path in (str(outside), "link.npy", "sub/../link.npy", "../outside.npy"):
            with pytest.raises(matcache.PermissionDeniedError):
                c.load("m", path)
        with pytest.raises(matcache.NotFoundError):
            c.load("m", "absent.npy")
        (data_dir / "junk.npy").write_bytes(b"not an npy file")
        with pytest.raises(matcache.InvalidArgumentError) as malformed:
            c.load("m", "junk.npy")
        assert "junk.npy" in str(malformed.value)
        _save(data_dir / "objects.npy", np.array([1, "a"], dtype=object))
        with pytest.raises(matcache.InvalidArgumentError):
            c.load("m", "objects.npy")
        with pytest.raises(matcache.NotFoundError):
            c.info("m")


def test_load_without_a_data_dir_is_refused(start_server, data_dir):
    srv = start_server()
    _save(data_dir / "m.npy", np.ones(3))
    with matcache.Client(srv.address) as c:
        with pytest.raises(matcache.FailedPreconditionError):
            c.load("m", str(data_dir / "m.npy"))


@pytest.mark.parametrize("eager", [False, True])
def test_load_replaces_what_the_name_holds(start_server, data_dir, eager):
    srv = start_server("--data_dir", str(data_dir))
    _save(data_dir / "m.npy", np.arange(6, dtype="i4"))
    with matcache.Client(srv.address) as c:
        old = c.put("m", np.full(3, 7.5))
        held = c.get("m")
        info = c.load("m", "m.npy", eager=eager)
        assert info.generation > old.generation and info.shape == (6,)
        assert np.array_equal(c.get("m"), np.arange(6, dtype="i4"))
        assert np.array_equal(held, np.full(3, 7.5))  # the old version stays


def test_an_eager_load_into_huge_pages_stores_what_a_put_stores(tmp_path,
                                                               data_dir):
    # There the Load reads the file straight into the segment's mapping
    # (Segment::CopyDataFrom); on 4 KiB pages it writes with pwrite.
    array = np.random.default_rng(5).standard_normal(5_000_001)  # 38 MiB
    _save(data_dir / "m.npy", array)
    with mounted_tmpfs(tmp_path / "huge", "huge=within_size,size=256m") as \
            huge:
        huge.chmod(0o700)
        srv = ServerProcess(tmp_path, huge, "huge",
                            ("--data_dir", str(data_dir), "--spare_bytes", "0"))
        try:
            srv.start()
            with matcache.Client(srv.address) as c:
                loaded = c.load("loaded", "m.npy", eager=True)
                segment, = srv.segment_dir.glob("*.shm")
                assert segment.stat().st_blksize > os.sysconf("SC_PAGESIZE")
                stored = c.put("put", array)
                assert loaded.checksum == stored.checksum
                assert np.array_equal(c.get("loaded"), array)
            assert srv.stop() == 0
            srv.start("--verify_on_recover")  # quarantines a bad checksum
            with matcache.Client(srv.address) as c:
                assert c.info("loaded").checksum == stored.checksum
                assert np.array_equal(c.read("loaded", np.s_[-5:]),
                                      array[-5:])
        finally:
            srv.kill()


def test_concurrent_first_accesses_read_the_file_once(start_server, data_dir):
    srv = start_server("--data_dir", str(data_dir))
    array = np.arange(4 << 20, dtype=np.float64)  # 32 MiB
    _save(data_dir / "big.npy", array)
    with matcache.Client(srv.address) as c:
        c.load("big", "big.npy")
        results = []

        def first_access():
            with matcache.Client(srv.address, local=False) as reader:
                results.append(np.array_equal(reader.read("big", np.s_[-3:]),
                                              array[-3:]))

        threads = [threading.Thread(target=first_access) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [True] * 16
        assert c.stats().loads == 1


def test_evicted_sourced_matrices_reload_transparently(start_server, data_dir):
    mib = 1 << 20
    srv = start_server("--data_dir", str(data_dir),
                       "--max_bytes", str(2 * (mib + 4096)))  # no --evict_unsourced
    for name in ("a", "b", "c"):
        _save(data_dir / f"{name}.npy", np.full(mib // 8, ord(name), np.float64))
    with matcache.Client(srv.address) as c:
        for name in ("a", "b", "c"):
            c.load(name, f"{name}.npy")
            assert c.get(name)[0] == ord(name)
        assert c.stats().evictions == 1
        assert [m.generation for m in c.list("a")] == [0]  # listed, unread
        # Evicted and read again: identical data.
        assert np.array_equal(c.get("a"), np.load(data_dir / "a.npy"))
        assert c.stats().loads == 4
        # A plain put replaces the source: it is not evicted any more.
        c.put("c", np.zeros(3))
        assert c.info("c").source == ""


def test_preload_dir_registers_every_npy_file(start_server, tmp_path):
    preload = tmp_path / "preload"
    preload.mkdir()
    _save(preload / "prices.npy", np.arange(6).reshape(2, 3))
    _save(preload / "bad name!.npy", np.ones(2))
    (preload / "notes.txt").write_text("ignored")
    srv = start_server("--preload_dir", str(preload))
    with matcache.Client(srv.address) as c:
        listed = c.list()
        assert [(m.name, m.generation, m.shape) for m in listed] == [
            ("prices", 0, (2, 3))]
        assert np.array_equal(c.get("prices"), np.arange(6).reshape(2, 3))
        assert [m.name for m in c.list()] == ["prices"]
    assert "bad name!.npy" in srv.log()


def test_cli_load(start_server, data_dir):
    srv = start_server("--data_dir", str(data_dir))
    _save(data_dir / "m.npy", np.ones((2, 2)))
    done = subprocess.run(
        [sys.executable, "-m", "matcache", "--address", srv.address, "load",
         "m", "m.npy"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "read on first access" in done.stdout
