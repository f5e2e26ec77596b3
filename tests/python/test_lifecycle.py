"""Server shutdown, restart and lease expiry, seen from a client."""

import os
import signal
import threading
import time

import grpc
import numpy as np
import pytest

import matcache
from serverproc import ServerProcess
from stalled import stalled_put
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc


def _create(address, name, shape):
    """Starts a local put through the raw stub and returns the
    CreateResponse; the lease is left open."""
    with grpc.insecure_channel(address) as channel:
        return pb_grpc.MatrixCacheStub(channel).Create(
            pb.CreateRequest(name=name, shape=shape, dtype=pb.DTYPE_FLOAT64),
            timeout=10)


def test_sigterm_exits_cleanly_and_restart_keeps_published(start_server):
    srv = start_server()
    data = np.random.default_rng(5).standard_normal((128, 64))
    with matcache.Client(srv.address) as c:
        before = c.put("kept", data)
    pending = _create(srv.address, "pending", [1000])
    assert os.path.exists(pending.path)
    assert srv.staging_files() != []

    start = time.monotonic()
    assert srv.stop() == 0, srv.log()
    assert time.monotonic() - start < 5
    assert srv.staging_files() == []

    srv.start()
    with matcache.Client(srv.address) as c:
        after = c.info("kept")
        assert (after.generation, after.id, after.checksum) == (
            before.generation, before.id, before.checksum)
        assert np.array_equal(c.get("kept"), data)
        with pytest.raises(matcache.NotFoundError):
            c.info("pending")
        assert c.stats().staging_count == 0


def test_uncommitted_create_expires(start_server):
    srv = start_server("--lease_seconds", "2")
    start = time.monotonic()
    pending = _create(srv.address, "abandoned", [4096])
    assert os.path.exists(pending.path)
    while os.path.exists(pending.path) and time.monotonic() - start < 10:
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    assert not os.path.exists(pending.path), "staging file kept after 10 s"
    assert elapsed > 1.5, f"lease of 2 s ended after {elapsed:.2f} s"
    assert srv.staging_files() == []

    with grpc.insecure_channel(srv.address) as channel:
        with pytest.raises(grpc.RpcError) as raised:
            pb_grpc.MatrixCacheStub(channel).Commit(
                pb.CommitRequest(lease=pending.lease), timeout=10)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with matcache.Client(srv.address) as c:
        assert c.stats().staging_count == 0
        with pytest.raises(matcache.NotFoundError):
            c.info("abandoned")


# Generous for a loaded 2-core machine: without running calls the exit
# needs no grace at all.
IDLE_STOP_SECONDS = 3


def test_sigterm_with_an_idle_connection_exits_at_once(start_server):
    srv = start_server()
    with matcache.Client(srv.address) as idle:
        idle.put("a", np.arange(10.0))
        assert idle.info("a").shape == (10,)
        # The connection stays open, with no call in progress.
        start = time.monotonic()
        assert srv.stop() == 0, srv.log()
        elapsed = time.monotonic() - start
    assert elapsed < IDLE_STOP_SECONDS, (
        f"an idle connection delayed the exit to {elapsed:.1f} s")


def test_sigterm_lets_a_running_put_finish(start_server):
    srv = start_server()
    data = np.random.default_rng(6).standard_normal(1 << 18)
    payload = data.tobytes()
    half = len(payload) // 2
    resume = threading.Event()

    def requests():
        yield pb.PutRequest(header=pb.PutHeader(
            name="late", shape=[data.size], dtype=pb.DTYPE_FLOAT64))
        yield pb.PutRequest(data=payload[:half])
        resume.wait(30)
        yield pb.PutRequest(data=payload[half:])

    outcome = {}

    def put():
        with grpc.insecure_channel(srv.address) as channel:
            try:
                outcome["info"] = pb_grpc.MatrixCacheStub(channel).Put(
                    requests(), timeout=30)
            except grpc.RpcError as error:
                outcome["error"] = error

    putter = threading.Thread(target=put)
    putter.start()
    deadline = time.monotonic() + 10
    while not srv.staging_files():
        assert time.monotonic() < deadline, "the put never began"
        time.sleep(0.01)
    srv.process.send_signal(signal.SIGTERM)
    while "shutting down" not in srv.run_log():
        assert time.monotonic() < deadline + 10, srv.run_log()
        time.sleep(0.01)
    resume.set()  # the rest of the put arrives during the shutdown
    putter.join(30)
    assert "error" not in outcome, outcome["error"]
    assert outcome["info"].name == "late"
    assert srv.process.wait(20) == 0, srv.log()
    assert srv.staging_files() == []

    srv.start()
    with matcache.Client(srv.address) as c:
        assert np.array_equal(c.get("late"), data)


def _second_server(srv, workdir, *args):
    """Another server on the same directory and namespace as `srv`, with a
    socket of its own in `workdir`."""
    return ServerProcess(workdir, srv.shm_dir, srv.namespace, args,
                         socket=workdir / "b.sock")


def test_a_restart_waits_for_the_server_still_exiting(start_server, tmp_path):
    srv = start_server()
    with matcache.Client(srv.address) as c:
        c.put("kept", np.arange(5.0))
    stalled_put(srv)
    srv.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while "shutting down" not in srv.run_log():
        assert time.monotonic() < deadline, srv.run_log()
        time.sleep(0.01)
    # The first server holds the lock until its grace period ends.
    successor = _second_server(srv, tmp_path)
    successor.start()
    try:
        assert srv.process.wait(20) == 0
        assert "waiting up to 10s" in successor.run_log(), successor.run_log()
        with matcache.Client(successor.address) as c:
            assert np.array_equal(c.get("kept"), np.arange(5.0))
    finally:
        assert successor.stop() == 0


def test_a_second_server_on_a_namespace_in_use_gives_up(start_server,
                                                        tmp_path):
    srv = start_server()
    second = _second_server(srv, tmp_path, "--lock_wait_seconds", "1")
    second.launch()
    assert second.wait_exit(20) == 1, second.run_log()
    assert "is locked after waiting 1s" in second.run_log(), second.run_log()
    with matcache.Client(srv.address) as c:  # the first one serves on
        c.put("after", np.arange(2.0))
        assert np.array_equal(c.get("after"), np.arange(2.0))
