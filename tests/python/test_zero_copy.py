"""Local gets map the server's segment read-only: no copy, independent of
other processes and of later replaces."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import matcache
from procmaps import mapping_of
from serverproc import run_python


def test_get_in_another_process_maps_the_segment_read_only(server, client,
                                                           name):
    run_python(textwrap.dedent(f"""
        import numpy as np, matcache
        data = np.random.default_rng(11).standard_normal((300, 200))
        matcache.Client().put({name!r}, data)
    """), server.address)
    expected = np.random.default_rng(11).standard_normal((300, 200))

    got = client.get(name)

    assert got.tobytes() == expected.tobytes()
    assert not got.flags.writeable
    with pytest.raises(ValueError):
        got[0, 0] = 1.0
    with pytest.raises(ValueError):
        got.flags.writeable = True
    perms, _, path = mapping_of(got)
    assert path == client.info(name).path
    assert perms == "r--s"
    assert mapping_of(got[150:, 100:])[2] == path


def test_streamed_get_is_read_only_and_private(server, name):
    with matcache.Client(server.address, local=False) as remote:
        remote.put(name, np.arange(10))
        got = remote.get(name)
    assert not got.flags.writeable
    with pytest.raises(ValueError):
        got[0] = 5
    assert not mapping_of(got)[2].endswith(".shm")


def test_array_outlives_client_and_its_views_keep_the_mapping(server, name):
    with matcache.Client(server.address) as c:
        c.put(name, np.arange(1000.0))
        view = c.get(name)[10:20]
    path = mapping_of(view)[2]
    assert path.endswith(".shm")
    assert np.array_equal(view, np.arange(10.0, 20.0))


def test_local_true_maps(server, name):
    with matcache.Client(server.address, local=True) as c:
        c.put(name, np.ones(5))
        got = c.get(name)
        assert mapping_of(got)[2] == c.info(name).path


def test_a_reader_exiting_does_not_delete_the_matrix(server, client, name):
    data = np.arange(5000, dtype=np.int32)
    client.put(name, data)
    path = client.info(name).path
    total = run_python(textwrap.dedent(f"""
        import matcache
        print(int(matcache.Client().get({name!r}).sum()))
    """), server.address)
    assert int(total) == int(data.sum())
    assert name in [m.name for m in client.list(name)]
    assert os.path.exists(path)
    assert np.array_equal(client.get(name), data)


def test_replace_leaves_existing_readers_on_the_old_version(server, client,
                                                            name):
    old = np.arange(100_000, dtype=np.float64)
    new = -old
    client.put(name, old)
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, numpy as np, matcache
            held = matcache.Client().get({name!r})
            print("holding", flush=True)
            sys.stdin.readline()
            expected = np.arange(100_000, dtype=np.float64)
            print("old" if np.array_equal(held, expected) else "changed")
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ, MATCACHE_ADDRESS=server.address))
    try:
        assert reader.stdout.readline() == "holding\n", reader.stderr.read()
        client.put(name, new)
        out, err = reader.communicate("go\n", timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.communicate()
    assert reader.returncode == 0, err
    assert out == "old\n"
    assert np.array_equal(client.get(name), new)


def test_get_maps_the_whole_matrix_without_a_copy(client, name):
    data = np.arange(1 << 19, dtype=np.float64)  # 4 MiB: many pages
    client.put(name, data)
    path = client.info(name).path

    got = client.get(name)

    assert not got.flags.owndata, "the array owns a copy of its data"
    inode = os.stat(path).st_ino
    # Its first and last bytes both lie in the segment's read-only mapping.
    assert mapping_of(got) == ("r--s", inode, path)
    assert mapping_of(got[-1:]) == ("r--s", inode, path)
    assert np.array_equal(got, data)


def _staging_mappings():
    """Lines of /proc/self/maps mapping a staging segment, or any other file
    shared and writable but a POSIX semaphore (numcodecs, which zarr
    imports, holds a multiprocessing lock for good)."""
    with open("/proc/self/maps") as maps:
        return [line for line in maps
                if ".staging.shm" in line or
                (line.split()[1][1::2] == "ws" and "/dev/shm/sem." not in line)]


@pytest.mark.parametrize("kind", ["contiguous", "cast", "strided",
                                  "big-endian"])
def test_a_local_put_writes_without_mapping_the_staging_file(
        client, name, monkeypatch, kind):
    base = np.arange(6 * 700, dtype=np.float64).reshape(6, 700)
    array, store_dtype = {
        "contiguous": (base, None), "cast": (base, "float32"),
        "strided": (base[::-2, 3:], None),
        "big-endian": (base.astype(">f8").T, None)}[kind]
    seen = {"staging": set(), "mapped": []}
    real_pwrite = os.pwrite

    def pwrite(fd, data, offset):
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.endswith(".staging.shm"):
            seen["staging"].add(target)
        seen["mapped"] += _staging_mappings()
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    with matcache.Client(client.address, local=True) as local:
        info = local.put(name, array, store_dtype=store_dtype)
    monkeypatch.undo()

    assert len(seen["staging"]) == 1, "not written through a staging file"
    assert seen["mapped"] == [] and _staging_mappings() == []
    assert not any(os.readlink(f"/proc/self/fd/{fd}").endswith(".staging.shm")
                   for fd in os.listdir("/proc/self/fd")
                   if os.path.exists(f"/proc/self/fd/{fd}"))
    want = array.astype(store_dtype or "<f8")
    got = client.get(name)
    assert info.dtype == want.dtype and got.dtype == want.dtype
    assert np.array_equal(got, want)
