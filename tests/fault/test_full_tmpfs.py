"""A full tmpfs is an error at creation (RESOURCE_EXHAUSTED), never a SIGBUS
later, never a leftover file or lost space (docs/architecture.md §5 rule 1). Needs root
to mount a 64 MiB tmpfs; skipped (with the reason) otherwise."""

import os
import textwrap
import time

import numpy as np
import pytest

import matcache

from faultlib import catalogue, same_array

MIB = 1 << 20

_READER = """
    import sys, numpy as np, matcache
    a = matcache.Client(local=True).get("early.local")
    print("sum", float(a.sum()), flush=True)
    sys.stdin.readline()
    print("sum", float(a.sum()), flush=True)
"""

# Puts too much, locally and streamed, from its own process.
_OVERFILLER = """
    import sys, numpy as np, matcache
    big = np.ones(ELEMENTS)
    for local in (True, False):
        try:
            matcache.Client(local=local).put("too.big", big)
            print("published", local, flush=True)
        except matcache.ResourceExhaustedError as e:
            print("exhausted", local, flush=True)
    a = matcache.Client(local=True).get("early.remote")
    print("sum", float(a.sum()), flush=True)
"""


def _free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _assert_only(server, names):
    """The shm dir holds exactly one published file per name in `names`,
    nothing else."""
    state = server.dir_state()
    assert state.staging == [] and state.quarantined == [] \
        and state.other == [], state
    assert sorted(state.published) == sorted(names), state
    assert all(len(g) == 1 for g in state.published.values()), state


def test_full_tmpfs(lab):
    mount = lab.mount_tmpfs("64m")
    server = lab.server(shm_dir=mount)
    # A budget beyond the tmpfs: here the filesystem itself must say no. No
    # spare file: this test counts free bytes exactly (see the next test).
    server.start("--max_bytes", "1G", "--spare_bytes", "0")
    rng = np.random.default_rng(6)
    early = {"early.local": rng.standard_normal(MIB),        # 8 MiB each
             "early.remote": rng.standard_normal(MIB)}
    with server.client(local=True) as local, \
            server.client(local=False) as remote:
        local.put("early.local", early["early.local"])
        remote.put("early.remote", early["early.remote"])
        before = catalogue(local)
    reader = lab.child(textwrap.dedent(_READER), server.address)
    total = float(early["early.local"].sum())
    reader.expect(lambda l: l == f"sum {total}")

    # Larger than what is left: refused up front, by both paths.
    free = _free_bytes(mount)
    too_big = np.ones((free + 8 * MIB) // 8)
    for local in (True, False):
        with server.client(local=local) as client:
            with pytest.raises(matcache.ResourceExhaustedError) as raised:
                client.put("too.big", too_big)
            print(f"local={local}: {raised.value}")
        _assert_only(server, early)
        assert _free_bytes(mount) == free
    del too_big

    # The same from a client process of its own: it must not die.
    overfiller = lab.child(
        textwrap.dedent(_OVERFILLER).replace("ELEMENTS", str(free // 8 + MIB)),
        server.address)
    assert overfiller.wait() == 0, (overfiller.process.returncode,
                                    overfiller.stderr())
    assert overfiller.expect(lambda l: True) == "exhausted True"
    assert overfiller.expect(lambda l: True) == "exhausted False"
    assert overfiller.expect(lambda l: True) == \
        f"sum {float(early['early.remote'].sum())}"
    _assert_only(server, early)

    # Fill up in 8 MiB steps until a put fails half-way through its
    # allocation: the space it took must come back.
    filled = {}
    for step in range(10):
        name = f"fill.{step}"
        array = np.full(MIB, float(step))
        free_before = _free_bytes(mount)
        with server.client(local=step % 2 == 0) as client:
            try:
                client.put(name, array)
            except matcache.ResourceExhaustedError:
                break
        filled[name] = array
    else:
        pytest.fail(f"ten 8 MiB puts fit in a 64 MiB tmpfs: {filled.keys()}")
    assert len(filled) >= 3
    assert 0 < free_before < 8 * MIB + 4096
    assert _free_bytes(mount) == free_before
    _assert_only(server, [*early, *filled])

    # Nobody got a signal; everything published is intact.
    reader.send("\n")
    reader.expect(lambda l: l == f"sum {total}")
    assert reader.wait() == 0
    assert server.running()
    with server.client() as local, server.client(local=False) as remote:
        listed = catalogue(local)
        for name, array in {**early, **filled}.items():
            assert same_array(local.get(name), array), name
            assert same_array(remote.get(name), array), name
        assert {n: listed[n] for n in before} == before
        stats = local.stats()
        assert (stats.staging_count, stats.quarantined_count) == (0, 0)
        assert stats.matrix_count == len(early) + len(filled)

        # After a delete, puts succeed again, locally and streamed.
        again = np.full(MIB, -1.0)
        for client, gone in ((local, "fill.0"), (remote, "fill.1")):
            with pytest.raises(matcache.ResourceExhaustedError):
                client.put("again", again)
            client.delete(gone)
            del filled[gone]
            client.put("again", again)
            assert same_array(local.get("again"), again)
            assert same_array(remote.get("again"), again)
        _assert_only(server, [*early, *filled, "again"])
    assert server.stop() == 0, server.run_log()


def test_full_tmpfs_the_spare_file_gives_way(lab):
    """The spare file never costs a matrix its place: a full tmpfs holds as
    many as it would without one, whatever their sizes."""
    mount = lab.mount_tmpfs("64m")
    server = lab.server(shm_dir=mount)
    server.start("--max_bytes", "1G")
    file_bytes = lambda elements: 4096 + 8 * elements
    big, small = 2 * MIB, 7 * MIB // 8  # 16 MiB, then 7 MiB matrices
    stored = {"big": np.full(big, -1.0)}
    with server.client(local=True) as local, \
            server.client(local=False) as remote:
        local.put("big", stored["big"])
        for step in range(10):
            array = np.full(small, float(step))
            try:
                (local if step % 2 == 0 else remote).put(f"small.{step}", array)
            except matcache.ResourceExhaustedError:
                break
            stored[f"small.{step}"] = array
        fits = (64 * MIB - file_bytes(big)) // file_bytes(small)
        assert len(stored) == 1 + fits, sorted(stored)
        for name, array in stored.items():
            assert same_array(local.get(name), array), name
        assert local.stats().staging_count == 0
    assert server.stop() == 0, server.run_log()
    state = server.dir_state()
    assert state.spares == [] and state.staging == [], state


def test_full_tmpfs_a_put_that_fits_only_without_the_spare(lab):
    """When other files fill the tmpfs behind the server's back, a put that
    fits once the spare is gone still succeeds."""
    mount = lab.mount_tmpfs("64m")
    server = lab.server(shm_dir=mount)
    server.start("--max_bytes", "1G")
    with server.client(local=True) as client:
        client.put("a", np.zeros(20 * MIB // 8))
        # Wait for the spare's pages, not just for the spare to be begun.
        deadline = time.monotonic() + 10
        while _free_bytes(mount) > 24 * MIB:
            assert time.monotonic() < deadline, client.stats()
            time.sleep(0.01)
        assert client.stats().spare_bytes == 20 * MIB + 4096
        # Somebody else's 20 MiB: 4 MiB are left, or 24 MiB without the spare.
        with open(os.path.join(mount, "other.bin"), "wb") as other:
            os.posix_fallocate(other.fileno(), 0, 20 * MIB)
        assert _free_bytes(mount) < 8 * MIB
        small = np.full(8 * MIB // 8, 3.0)  # under half the spare: not taken
        client.put("b", small)
        assert same_array(client.get("b"), small)
    _assert_only(server, ["a", "b"])
