"""The memory budget: puts that do not fit are refused (or, with
--evict_unsourced, make room by evicting the least recently used), and
Stats reports usage and MatrixInfo each matrix's last access."""

import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

import matcache
from serverproc import MATCACHED, REPO, ServerProcess
from tmpfs import mounted_tmpfs

HEADER = 4096
MIB = 1 << 20
# Each test matrix: 1 MiB of data, so its file takes 1 MiB + one header page.
FILE_BYTES = MIB + HEADER


def _matrix(value):
    return np.full(MIB // 8, value, dtype=np.float64)


def test_put_beyond_the_budget_is_refused_and_leaves_nothing(start_server):
    srv = start_server("--max_bytes", str(3 * FILE_BYTES))
    with matcache.Client(srv.address) as c:
        for name in ("a", "b", "c"):
            c.put(name, _matrix(1))
        for remote in (False, True):
            with matcache.Client(srv.address, local=not remote) as writer:
                with pytest.raises(matcache.ResourceExhaustedError) as refused:
                    writer.put("d", _matrix(2))
        message = str(refused.value)
        assert f"needs {FILE_BYTES} bytes" in message
        assert f"{3 * FILE_BYTES}-byte budget" in message
        assert "--evict_unsourced is off" in message
        stats = c.stats()
        assert stats.max_bytes == 3 * FILE_BYTES
        assert stats.used_bytes == 3 * FILE_BYTES
        assert stats.evictions == 0
        assert not srv.staging_files()
        assert [m.name for m in c.list()] == ["a", "b", "c"]
        c.delete("a")
        c.put("d", _matrix(2))
        assert np.array_equal(c.get("d"), _matrix(2))


def test_eviction_drops_the_least_recently_used(start_server):
    srv = start_server("--max_bytes", str(3 * FILE_BYTES), "--evict_unsourced")
    with matcache.Client(srv.address) as c:
        for value, name in enumerate(("a", "b", "c")):
            c.put(name, _matrix(value))
        held = c.get("b")
        time.sleep(0.01)
        c.info("a")
        c.info("c")  # "b" is now the least recently used
        c.put("d", _matrix(3))
        assert [m.name for m in c.list()] == ["a", "c", "d"]
        assert c.stats().evictions == 1
        assert c.stats().used_bytes <= 3 * FILE_BYTES
        with pytest.raises(matcache.NotFoundError):
            c.info("b")
        # An evicted matrix's readers keep their pages.
        assert np.array_equal(held, _matrix(1))


def test_budget_accepts_suffixes_and_defaults_to_half_the_tmpfs(start_server):
    with matcache.Client(start_server("--max_bytes", "3M").address) as c:
        assert c.stats().max_bytes == 3 * MIB
    with matcache.Client(start_server().address) as c:
        stats = c.stats()
        assert stats.max_bytes == stats.shm_dir_total_bytes // 2


def test_no_budget_is_said_as_such(start_server):
    srv = start_server("--max_bytes", "0")
    with matcache.Client(srv.address) as c:
        assert c.stats().max_bytes == 0
    assert "no budget" in srv.run_log()
    assert "budget 0 bytes" not in srv.run_log()


def _log_of_a_server_on(workdir, shm_dir):
    """What a server on `shm_dir` logs from its start to its stop."""
    srv = ServerProcess(workdir, shm_dir, "logged")
    try:
        srv.start()
        with matcache.Client(srv.address) as c:
            assert c.stats().matrix_count == 0
        assert srv.stop() == 0
    finally:
        if srv.running():
            srv.kill()
    return srv.log()


def test_a_shm_dir_that_is_not_tmpfs_is_warned_about(tmp_path):
    # Beside the checkout: on disk, whatever /tmp is.
    on_disk = pathlib.Path(tempfile.mkdtemp(prefix="shm-on-disk-", dir=REPO))
    try:
        log = _log_of_a_server_on(tmp_path, on_disk)
    finally:
        shutil.rmtree(on_disk, ignore_errors=True)
    fs_type, _ = _mount_of(on_disk)
    assert fs_type != "tmpfs", "the test needs a directory on disk"
    assert f"is on {fs_type}, not tmpfs" in log, log


def _mount_of(path):
    """The type and the options of the filesystem holding `path`, from
    /proc/mounts."""
    best, found = "", (None, "")
    with open("/proc/mounts") as mounts:
        for line in mounts:
            _, point, kind, options = line.split()[:4]
            inside = str(path) == point or str(path).startswith(
                point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, found = point, (kind, options)
    return found


_SMALL_PAGES_HINT = "has 4 KiB pages: on a tmpfs mounted with huge=within_size"


def test_a_shm_dir_of_small_pages_gets_a_hint(start_server):
    srv = start_server()  # in /dev/shm
    kind, options = _mount_of(srv.shm_dir)
    if kind != "tmpfs" or "huge=" in options:
        pytest.skip(f"{srv.shm_dir} is not a tmpfs without huge pages")
    with matcache.Client(srv.address) as c:
        assert c.stats().matrix_count == 0
    assert srv.stop() == 0
    assert _SMALL_PAGES_HINT in srv.log(), srv.log()


@pytest.mark.parametrize("policy, hinted", [
    ("within_size", False), ("always", False), ("advise", True)])
def test_only_a_tmpfs_of_small_pages_gets_a_hint(tmp_path, policy, hinted):
    # huge=advise gives huge pages only to mappings that ask for them.
    with mounted_tmpfs(tmp_path / "mounted", f"huge={policy},size=64m") as \
            mounted:
        log = _log_of_a_server_on(tmp_path, mounted)
    assert f"huge pages: {policy}" in log, log
    assert (_SMALL_PAGES_HINT in log) == hinted, log


@pytest.mark.parametrize("flag", ["--max_bytes", "--spare_bytes"])
def test_bad_size_flag_stops_the_server_with_a_clear_message(tmp_path, flag):
    done = subprocess.run(
        [MATCACHED, flag, "lots", "--listen",
         f"unix:{tmp_path}/m.sock", "--shm_dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert f"{flag}=lots" in done.stderr


def test_lookups_count_hits_and_misses_and_update_last_access(start_server):
    srv = start_server()
    with matcache.Client(srv.address) as c:
        put = c.put("m", _matrix(1))
        before = c.stats()
        first = c.info("m").last_access
        time.sleep(0.01)
        c.read("m", np.s_[:3])
        with pytest.raises(matcache.NotFoundError):
            c.info("absent")
        after = c.stats()
        assert after.hits - before.hits == 2  # info, read
        assert after.misses - before.misses == 1
        later = c.list()[0].last_access
        assert put.last_access <= first < later
        assert c.list()[0].last_access == later  # List is no lookup


def test_cli_stats_shows_the_budget_and_the_counters(start_server):
    srv = start_server("--max_bytes", "64M")
    with matcache.Client(srv.address) as c:
        c.put("shown", _matrix(1))
    done = subprocess.run(
        [sys.executable, "-m", "matcache", "--address", srv.address, "stats"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "budget:" in done.stdout and "of 64.0 MiB" in done.stdout
    assert "matrices:     1 (1.0 MiB)" in done.stdout
    assert "lookups:      0 hits, 0 misses" in done.stdout


def test_pinned_matrices_are_not_evicted_and_stay_pinned(start_server):
    srv = start_server("--max_bytes", str(3 * FILE_BYTES), "--evict_unsourced")
    with matcache.Client(srv.address) as c:
        assert c.put("a", _matrix(1), pin=True).pinned
        for name in ("b", "c", "d"):
            c.put(name, _matrix(2))
        assert [m.name for m in c.list()] == ["a", "c", "d"]
        assert c.pin("c").pinned and c.pin("d").pinned
        with pytest.raises(matcache.ResourceExhaustedError):
            c.put("e", _matrix(3))
        assert not c.unpin("a").pinned
        c.put("e", _matrix(3))
        assert [m.name for m in c.list()] == ["c", "d", "e"]
        with pytest.raises(matcache.NotFoundError):
            c.pin("a")
    # A restart keeps the pins.
    assert srv.stop() == 0
    srv.start()
    with matcache.Client(srv.address) as c:
        assert [m.pinned for m in c.list()] == [True, True, False]


def test_ttl_deletes_the_matrix_after_its_time(start_server):
    srv = start_server("--lease_seconds", "2")  # the sweeper runs every 0.5 s
    with matcache.Client(srv.address) as c:
        for remote in (False, True):
            with matcache.Client(srv.address, local=not remote) as writer:
                info = writer.put(f"brief{remote}", _matrix(1), ttl=1)
                assert info.expires is not None
                assert info.expires > info.created
        assert c.put("lasting", _matrix(2)).expires is None
        deadline = time.monotonic() + 10
        while len(c.list()) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m.name for m in c.list()] == ["lasting"]
        assert c.stats().expirations == 2
        with pytest.raises(matcache.InvalidArgumentError):
            c.put("bad", _matrix(1), ttl=-5)


def test_cli_put_pin_ttl_and_pin_commands(start_server, tmp_path):
    srv = start_server()
    path = tmp_path / "m.npy"
    np.save(path, _matrix(1))

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "matcache", "--address", srv.address, *args],
            capture_output=True, text=True, timeout=60)

    assert cli("put", str(path), "m", "--pin", "--ttl", "3600",
               "--store_dtype", "float32").returncode == 0
    assert "float32 (put as float64)" in cli("info", "m").stdout
    info = cli("info", "m").stdout
    assert "pinned:      yes" in info
    assert "expires:     never" not in info
    assert cli("unpin", "m").returncode == 0
    assert "pinned:      no" in cli("info", "m").stdout
    assert cli("pin", "m").returncode == 0
    assert "pinned:      yes" in cli("info", "m").stdout
    missing = cli("pin", "absent")
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1


@pytest.mark.parametrize("ttl", [-1, float("inf"), float("nan"), "10", True])
def test_bad_ttls_are_refused_before_anything_is_sent(client, name, ttl):
    with pytest.raises(matcache.InvalidArgumentError):
        client.put(name, _matrix(1), ttl=ttl)
    with pytest.raises(matcache.NotFoundError):
        client.info(name)


def test_numpy_and_zero_ttls_are_accepted(client, name):
    assert client.put(name, _matrix(1), ttl=np.int64(3600)).expires is not None
    assert client.put(name, _matrix(1), ttl=0).expires is None
