"""kill -9 of the server at every crash point (MATCACHE_CRASH_POINT) loses no
published matrix, leaves the interrupted operation done or not done as the
README's list of crash points says for that point (one outcome each), and
leaks no file after the next start (docs/architecture.md §5 rules 3-5).

Each case: publish a baseline (several names, one replaced twice), stop
cleanly, restart with the crash point set, run the operation that reaches
it, check that the server died of SIGKILL there, restart, and check the
store; then restart twice more (plain, then --verify_on_recover) and check
that nothing changes.
"""

import dataclasses
import os
import shutil
import signal
import typing

import grpc
import numpy as np
import pytest

import matcache
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc

from faultlib import (CRASH_SECONDS, REPO, catalogue, crash_points_in_sources,
                      same_array, snapshot)

# One put of this size streams in several 2 MiB chunks, so mid_put_data is
# reached with data still to come.
BIG_ELEMENTS = (8 << 20) // 8


@dataclasses.dataclass
class Published:
    array: np.ndarray
    info: matcache.MatrixInfo


@dataclasses.dataclass
class Interrupted:
    """An operation cut by the crash and its one outcome after the restart:
    `name` holds `expected` (None: absent). `done` says whether that is the
    operation's result or what was there before it (then with the old
    generation, id and checksum)."""
    name: str
    expected: typing.Optional[np.ndarray]
    done: bool


def publish_baseline(server):
    """Publishes the matrices every case starts from; returns
    {name: Published}. "gamma.v" is replaced twice (three generations)."""
    rng = np.random.default_rng(20240601)
    published = {}
    with server.client(local=True) as local, \
            server.client(local=False) as remote:
        def put(client, name, array):
            info = client.put(name, array)
            published[name] = Published(array, info)
            return info

        put(local, "alpha", rng.standard_normal((64, 48)))
        put(remote, "beta", rng.integers(-1000, 1000, 1000, dtype=np.int32))
        put(local, "zero-d", np.array(2.5, dtype=np.float32))
        put(local, "wide", rng.integers(0, 255, (3, 5, 700), dtype=np.uint8))
        generations = [
            put(local, "gamma.v", rng.standard_normal((16, 16))).generation,
            put(remote, "gamma.v", rng.standard_normal(300)).generation,
            put(local, "gamma.v", rng.standard_normal((32, 8)).astype(
                np.complex64)).generation,
        ]
        assert generations == sorted(set(generations))
    return published


def expect_crash(server, point):
    """Asserts that the server's current run died of SIGKILL at `point`."""
    status = server.wait_exit(CRASH_SECONDS)
    log = server.run_log()
    assert status is not None, (
        f"crash point {point} was not reached: the server was still running "
        f"(killed by the test)\n{log}")
    assert status == -signal.SIGKILL, (
        f"matcached exited with {status}, not SIGKILL, at {point}\n{log}")
    assert f"crash point reached: {point}" in log, log


def _cut(point, operation):
    """Runs `operation`, which the crash at `point` must interrupt."""
    try:
        operation()
    except matcache.MatcacheError:
        return
    pytest.fail(f"crash point {point} was not reached: the operation "
                f"succeeded")


def _put(server, point, local, name, array):
    with server.client(local=local) as client:
        _cut(point, lambda: client.put(name, array))


def _staging_header_state(server):
    """The header state of the one staging file (1 staging, 2 sealed)."""
    state = server.dir_state()
    assert len(state.staging) == 1, state
    with open(server.shm_dir / state.staging[0], "rb") as f:
        header = f.read(16)
    assert header[:8] == b"MATCACHE"
    return int.from_bytes(header[12:16], "little")


# Each scenario runs the operation that reaches its crash point on a stopped
# server holding the baseline, asserts the crash and what it left behind,
# and returns the Interrupted operation (or None), updating `published` for
# operations that completed.

def after_staging_create(server, published, rng):
    new = rng.standard_normal((64, 64))
    server.start(crash_point="after_staging_create")
    _put(server, "after_staging_create", True, "fresh", new)
    expect_crash(server, "after_staging_create")
    assert _staging_header_state(server) == 1
    return Interrupted("fresh", None, done=False)


def mid_put_data(server, published, rng):
    new = rng.standard_normal(BIG_ELEMENTS)
    server.start(crash_point="mid_put_data")
    _put(server, "mid_put_data", False, "alpha", new)
    expect_crash(server, "mid_put_data")
    assert _staging_header_state(server) == 1
    return Interrupted("alpha", published["alpha"].array, done=False)


def _after_seal_before_rename(local):
    def scenario(server, published, rng):
        new = rng.standard_normal((40, 10))
        server.start(crash_point="after_seal_before_rename")
        _put(server, "after_seal_before_rename", local, "gamma.v", new)
        expect_crash(server, "after_seal_before_rename")
        assert _staging_header_state(server) == 2
        return Interrupted("gamma.v", published["gamma.v"].array, done=False)
    return scenario


def _after_rename_before_unlink(local):
    def scenario(server, published, rng):
        new = rng.standard_normal((40, 10))
        server.start(crash_point="after_rename_before_unlink")
        _put(server, "after_rename_before_unlink", local, "gamma.v", new)
        expect_crash(server, "after_rename_before_unlink")
        state = server.dir_state()
        assert len(state.published["gamma.v"]) == 2, state
        assert state.staging == [], state
        return Interrupted("gamma.v", new, done=True)
    return scenario


def mid_delete(server, published, rng):
    server.start(crash_point="mid_delete")
    with server.client() as client:
        _cut("mid_delete", lambda: client.delete("beta"))
    expect_crash(server, "mid_delete")
    assert "beta" not in server.dir_state().published
    return Interrupted("beta", None, done=True)


def mid_recovery_with_staging(server, published, rng):
    """Leaves two staging files (open Creates) and a superseded generation
    (a replace cut at after_rename_before_unlink), then lets recovery die
    after removing the first of them."""
    new = rng.standard_normal((12, 12))
    server.start(crash_point="after_rename_before_unlink")
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.MatrixCacheStub(channel)
        for name in ("pending1", "pending2"):
            stub.Create(pb.CreateRequest(name=name, shape=[1000],
                                         dtype=pb.DTYPE_FLOAT64), timeout=10)
    _put(server, "after_rename_before_unlink", True, "gamma.v", new)
    expect_crash(server, "after_rename_before_unlink")
    before = server.dir_state()
    # And the spare file, if the server had made it before it died.
    assert len(before.staging) == 2 and len(before.spares) <= 1, before
    assert before.leftovers() == 3 + len(before.spares), before

    status = server.start_and_wait_exit(crash_point="mid_recovery")
    assert status == -signal.SIGKILL, (status, server.run_log())
    assert "crash point reached: mid_recovery" in server.run_log()
    after = server.dir_state()
    assert after.leftovers() == before.leftovers() - 1, after
    # The next start finishes recovery: the replace cut after its rename
    # is done.
    return Interrupted("gamma.v", new, done=True)


def mid_recovery_with_superseded(server, published, rng):
    """Leaves two superseded generations and no staging file (as two
    replaces cut between rename and unlink would), then lets recovery die
    after removing the first: the newer, acknowledged data must win."""
    server.start()
    backups = {}
    with server.client() as client:
        for name in ("alpha", "beta"):
            path = published[name].info.path
            backups[path] = server.workdir / os.path.basename(path)
            shutil.copy2(path, backups[path])
            new = rng.standard_normal(200 + len(name))
            published[name] = Published(new, client.put(name, new))
    assert server.stop() == 0
    for path, backup in backups.items():
        assert not os.path.exists(path)
        shutil.copy2(backup, path)
    before = server.dir_state()
    assert before.staging == [] and before.leftovers() == 2, before

    status = server.start_and_wait_exit(crash_point="mid_recovery")
    assert status == -signal.SIGKILL, (status, server.run_log())
    assert "crash point reached: mid_recovery" in server.run_log()
    after = server.dir_state()
    assert after.leftovers() == 1, after
    return None


SCENARIOS = {
    "after_staging_create": after_staging_create,
    "mid_put_data": mid_put_data,
    "after_seal_before_rename-local": _after_seal_before_rename(True),
    "after_seal_before_rename-remote": _after_seal_before_rename(False),
    "after_rename_before_unlink-local": _after_rename_before_unlink(True),
    "after_rename_before_unlink-remote": _after_rename_before_unlink(False),
    "mid_delete": mid_delete,
    "mid_recovery-staging": mid_recovery_with_staging,
    "mid_recovery-superseded": mid_recovery_with_superseded,
}


def test_every_crash_point_has_a_case():
    in_sources = crash_points_in_sources()
    header = (REPO / "server" / "core" / "base" / "crash_point.h").read_text()
    assert in_sources, "found no CrashPoint calls in server/"
    tested = {case.split("-")[0] for case in SCENARIOS}
    assert tested == in_sources
    for point in in_sources:
        assert point in header, f"{point} is not documented in crash_point.h"


def _check_interrupted(local, remote, interrupted, published):
    """Asserts the interrupted operation's one outcome, locally and
    remotely."""
    name = interrupted.name
    old = published.get(name)
    what = "the new data" if interrupted.done else "the old data"
    for how, client in (("local", local), ("remote", remote)):
        if interrupted.expected is None:
            for call in (client.info, client.get):
                try:
                    found = call(name)
                except matcache.NotFoundError:
                    continue
                pytest.fail(f"{name} should be absent after the crash, but "
                            f"a {how} {call.__name__} found it: {found!r}")
            continue
        info = client.info(name)
        assert same_array(client.get(name), interrupted.expected), (
            f"{name} ({how} get) does not hold {what}: {info}")
        if interrupted.done:
            assert info.generation > old.info.generation, (
                f"{name}: the new data has generation {info.generation}, "
                f"not newer than the old {old.info.generation}")
        else:
            assert (info.generation, info.id, info.checksum) == (
                old.info.generation, old.info.id, old.info.checksum), (
                f"{name}: the old data is not the old version: {info}, "
                f"was {old.info}")


def _check_store(server, published, interrupted):
    """Asserts the store after recovery: the baseline intact, the
    interrupted operation's outcome, exactly one file per matrix, sane
    Stats, and a working put/get."""
    with server.client() as local, server.client(local=False) as remote:
        for name, entry in published.items():
            if interrupted is not None and name == interrupted.name:
                continue
            info = local.info(name)
            assert (info.generation, info.id, info.checksum, info.shape) == (
                entry.info.generation, entry.info.id, entry.info.checksum,
                entry.info.shape), name
            assert same_array(local.get(name), entry.array), name
            assert same_array(remote.get(name), entry.array), name
        if interrupted is not None:
            _check_interrupted(local, remote, interrupted, published)

        listed = {m.name: m for m in local.list()}
        state = server.dir_state()
        assert state.staging == [] and state.quarantined == [] \
            and state.other == [], state
        assert set(state.published) == set(listed), state
        for name, generations in state.published.items():
            assert generations == [listed[name].generation], state
            assert listed[name].path == str(
                server.shm_dir
                / f"{server.namespace}.{name}.{generations[0]}.shm")

        stats = local.stats()
        assert stats.matrix_count == len(listed)
        assert stats.matrix_bytes == sum(m.nbytes for m in listed.values())
        assert (stats.staging_count, stats.staging_bytes,
                stats.quarantined_count) == (0, 0, 0)
        assert 0 < stats.shm_dir_free_bytes <= stats.shm_dir_total_bytes
        assert os.path.samefile(stats.shm_dir, server.shm_dir)

        probe = np.arange(1000, dtype=np.int64) * 7
        local.put("probe.local", probe)
        remote.put("probe.remote", probe[::-1])
        assert same_array(local.get("probe.local"), probe)
        assert same_array(remote.get("probe.local"), probe)
        assert same_array(local.get("probe.remote"), probe[::-1])
        assert local.stats().matrix_count == len(listed) + 2


def _restart_changes_nothing(server, *flags):
    with server.client() as client:
        files, listed = (snapshot(server.shm_dir, server.namespace),
                         catalogue(client))
        arrays = {name: np.array(client.get(name)) for name in listed}
    assert server.stop() == 0, server.run_log()
    server.start(*flags)
    with server.client() as client:
        assert snapshot(server.shm_dir, server.namespace) == files
        assert catalogue(client) == listed
        for name, array in arrays.items():
            assert same_array(client.get(name), array), name
        stats = client.stats()
        assert (stats.staging_count, stats.quarantined_count) == (0, 0)


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_crash_point(lab, case):
    server = lab.server()
    server.start()
    published = publish_baseline(server)
    assert server.stop() == 0, server.run_log()

    interrupted = SCENARIOS[case](server, published,
                                  np.random.default_rng(len(case)))

    server.start()
    _check_store(server, published, interrupted)
    # Recovery is idempotent, and every remaining segment's data matches
    # its checksum.
    _restart_changes_nothing(server)
    _restart_changes_nothing(server, "--verify_on_recover")
    assert server.stop() == 0, server.run_log()
