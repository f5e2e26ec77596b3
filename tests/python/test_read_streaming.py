"""A Read stream serves one generation from start to end, whatever happens
to the name meanwhile; a client abandoning a stream does not disturb the
server."""

import time

import grpc
import numpy as np
import pytest

import matcache
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc

ELEMENTS = 4 << 20          # 32 MiB of float64
SMALL_CHUNK = 64 << 10      # 512 messages for the whole matrix


@pytest.fixture
def stub(server):
    """A generated-stub connection to the session server: it can ask for a
    chunk size and step through a stream message by message."""
    with grpc.insecure_channel(server.address) as channel:
        yield pb_grpc.MatrixCacheStub(channel)


def _mapped_segments(pid):
    """Paths of the segment files the process `pid` maps, with " (deleted)"
    after those that were unlinked."""
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split(maxsplit=5)[5].rstrip("\n")
                for line in maps
                if len(line.split(maxsplit=5)) > 5 and ".shm" in line}


def _wait_until_unmapped(pid, path, seconds=5):
    deadline = time.monotonic() + seconds
    while f"{path} (deleted)" in _mapped_segments(pid):
        assert time.monotonic() < deadline, f"{path} is still mapped"
        time.sleep(0.01)


def test_read_survives_replace_and_delete(server, client, stub, name):
    first = client.put(name, np.full(ELEMENTS, 1.0))
    responses = stub.Read(pb.ReadRequest(name=name, chunk_bytes=SMALL_CHUNK))
    header = next(responses).header
    assert header.generation == first.generation
    assert header.nbytes == ELEMENTS * 8
    received = [next(responses).data]

    with matcache.Client(server.address) as other:
        second = other.put(name, np.full(ELEMENTS, 2.0))
        assert second.generation > first.generation
        other.delete(name)
    # The stream is still open and holds the first generation's mapping,
    # although its file is gone.
    assert f"{first.path} (deleted)" in _mapped_segments(server.process.pid)

    received.extend(response.data for response in responses)
    assert len(received) == ELEMENTS * 8 // SMALL_CHUNK
    data = np.frombuffer(b"".join(received), dtype="<f8")
    assert data.size == ELEMENTS
    assert np.all(data == 1.0)
    _wait_until_unmapped(server.process.pid, first.path)


def test_cancelled_read_leaves_server_serving(server, client, stub, name):
    info = client.put(name, np.full(ELEMENTS, 3.0))
    try:
        responses = stub.Read(pb.ReadRequest(name=name,
                                             chunk_bytes=SMALL_CHUNK))
        assert next(responses).HasField("header")
        assert len(next(responses).data) == SMALL_CHUNK
        responses.cancel()
        with pytest.raises(grpc.RpcError) as raised:
            for _ in responses:
                pass
        assert raised.value.code() == grpc.StatusCode.CANCELLED

        with matcache.Client(server.address, local=False) as other:
            got = other.read(name, np.s_[-5:])
        np.testing.assert_array_equal(got, np.full(5, 3.0))
    finally:
        client.delete(name)
    # The cancelled stream let go of the segment.
    _wait_until_unmapped(server.process.pid, info.path)
