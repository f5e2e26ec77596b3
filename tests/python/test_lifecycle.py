"""Server shutdown, restart and lease expiry, seen from a client."""

import os
import time

import grpc
import numpy as np
import pytest

import matcache
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
