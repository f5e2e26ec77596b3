"""kill -9 of a client at the moments that matter: a writer's lease expires
and its staging file goes, a reader's death changes nothing for anybody, a
cut Put stream publishes nothing (docs/architecture.md §4 and §5 rule 5)."""

import os
import signal
import textwrap

import grpc
import numpy as np
import pytest

import matcache
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc

from faultlib import catalogue, same_array, snapshot, wait_until

LEASE_SECONDS = 2
# The staging file must be gone this long after the writer died.
EXPIRY_LIMIT = 10

_CREATE = """
    import grpc, os, sys, time
    import stagingfd
    from matcache.v1 import matcache_pb2 as pb, matcache_pb2_grpc as pb_grpc
    channel = grpc.insecure_channel(os.environ["MATCACHE_ADDRESS"])
    created = pb_grpc.MatrixCacheStub(channel).Create(pb.CreateRequest(
        name=NAME, shape=[ELEMENTS], dtype=pb.DTYPE_FLOAT64), timeout=10)
    print("created", created.path, flush=True)
"""

# After Create, gets the staging file from the fd socket, writes it in 64
# pieces, slowly (with pwrite, or through a mapping of its own), and stops
# half-way (until a line arrives on stdin) so that the kill lands there.
_SLOW_WRITERS = {
    "pwrite": """
        fd = stagingfd.open_staging(created)
        piece = created.nbytes // 64
        for i in range(64):
            os.pwrite(fd, bytes([7]) * piece, created.data_offset + i * piece)
            print("wrote", i + 1, flush=True)
            time.sleep(0.01)
            if i + 1 == 32:
                sys.stdin.readline()  # killed here, half-way
        print("finished", flush=True)
    """,
    "mmap": """
        import mmap
        fd = stagingfd.open_staging(created)
        m = mmap.mmap(fd, created.data_offset + created.nbytes)
        piece = created.nbytes // 64
        for i in range(64):
            start = created.data_offset + i * piece
            m[start:start + piece] = bytes([7]) * piece
            print("wrote", i + 1, flush=True)
            time.sleep(0.01)
            if i + 1 == 32:
                sys.stdin.readline()  # killed here, half-way
        print("finished", flush=True)
    """,
}


def _code(*parts, **constants):
    code = "".join(textwrap.dedent(part) for part in parts)
    for key, value in constants.items():
        code = code.replace(key, repr(value))
    return code


def _assert_nothing_published(server, name, before):
    """`name` absent everywhere, and the other matrices as `before`."""
    with server.client() as client:
        with pytest.raises(matcache.NotFoundError):
            client.info(name)
        with pytest.raises(matcache.NotFoundError):
            client.get(name)
        assert catalogue(client) == before
        stats = client.stats()
        assert (stats.staging_count, stats.staging_bytes) == (0, 0)
    state = server.dir_state()
    assert name not in state.published and state.staging == [], state


def _counts(stats):
    return (stats.matrix_count, stats.matrix_bytes, stats.staging_count,
            stats.staging_bytes, stats.quarantined_count)


def _published_once(server):
    """Starts a server with a short lease and one published matrix."""
    server.start()
    keep = np.random.default_rng(3).standard_normal((100, 100))
    with server.client() as client:
        client.put("keep", keep)
        return keep, catalogue(client)


def _wait_staging_gone(server, path):
    elapsed = wait_until(lambda: not os.path.exists(path), EXPIRY_LIMIT)
    assert elapsed is not None, (
        f"staging file {path} still there {EXPIRY_LIMIT} s after its writer "
        f"died (lease {LEASE_SECONDS} s)\n{server.run_log()}")
    assert server.dir_state().staging == []
    return elapsed


def test_writer_killed_after_create(lab):
    server = lab.server("--lease_seconds", str(LEASE_SECONDS))
    keep, before = _published_once(server)
    writer = lab.child(_code(_CREATE, "time.sleep(600)\n", NAME="orphan",
                             ELEMENTS=1 << 16), server.address)
    path = writer.expect(lambda l: l.startswith("created ")).split(" ", 1)[1]
    assert os.path.exists(path)
    assert server.dir_state().staging == [os.path.basename(path)]

    assert writer.kill9() == -signal.SIGKILL
    _wait_staging_gone(server, path)
    _assert_nothing_published(server, "orphan", before)
    with server.client() as client:
        assert same_array(client.get("keep"), keep)
        # The name is usable again.
        fresh = np.full(1 << 16, 2.0)
        client.put("orphan", fresh)
        assert same_array(client.get("orphan"), fresh)
    assert server.running()


@pytest.mark.parametrize("how", list(_SLOW_WRITERS))
def test_writer_killed_while_writing(lab, how):
    server = lab.server("--lease_seconds", str(LEASE_SECONDS))
    keep, before = _published_once(server)
    writer = lab.child(_code(_CREATE, _SLOW_WRITERS[how], NAME="halfway",
                             ELEMENTS=1 << 19), server.address)
    path = writer.expect(lambda l: l.startswith("created ")).split(" ", 1)[1]
    writer.expect(lambda l: l == "wrote 32", what="half the data")
    with open(path, "rb") as f:  # the writer really is half-way
        f.seek(os.path.getsize(path) - (1 << 22))
        assert f.read(1 << 21) == bytes([7]) * (1 << 21)
        assert f.read() == bytes(1 << 21)
    assert writer.kill9() == -signal.SIGKILL

    _wait_staging_gone(server, path)
    _assert_nothing_published(server, "halfway", before)
    with server.client() as client:
        assert same_array(client.get("keep"), keep)
    assert server.running()


_READER = """
    import os, sys, numpy as np, matcache
    from procmaps import mapping_of
    a = matcache.Client().get(NAME)
    print("mapped", mapping_of(a)[2], flush=True)
    print("sum", float(a.sum()), flush=True)
    sys.stdin.readline()
    print("sum", float(a.sum()), flush=True)
"""


def test_reader_killed_while_holding_a_mapping(lab):
    server = lab.server("--lease_seconds", str(LEASE_SECONDS))
    server.start()
    data = np.random.default_rng(4).standard_normal((512, 256))
    with server.client() as client:
        info = client.put("shared", data)
        mine = client.get("shared")
    doomed = lab.child(_code(_READER, NAME="shared"), server.address)
    survivor = lab.child(_code(_READER, NAME="shared"), server.address)
    for reader in (doomed, survivor):
        mapped = reader.expect(lambda l: l.startswith("mapped "))
        assert mapped == f"mapped {info.path}"  # zero-copy, not streamed
        reader.expect(lambda l: l == f"sum {float(data.sum())}")
    with server.client() as client:
        files, listed = snapshot(server.shm_dir, server.namespace), \
            catalogue(client)
        counts = _counts(client.stats())

    assert doomed.kill9() == -signal.SIGKILL

    survivor.send("\n")
    survivor.expect(lambda l: l == f"sum {float(data.sum())}")
    assert survivor.wait() == 0
    assert same_array(mine, data)
    with server.client() as client, server.client(local=False) as remote:
        assert catalogue(client) == listed
        assert same_array(client.get("shared"), data)
        assert same_array(remote.get("shared"), data)
        assert _counts(client.stats()) == counts
    assert snapshot(server.shm_dir, server.namespace) == files
    assert server.running()


_STREAMER = """
    import os, sys, time, grpc
    from matcache.v1 import matcache_pb2 as pb, matcache_pb2_grpc as pb_grpc
    payload = bytes([9]) * (ELEMENTS * 8)
    chunk = 1 << 20
    def requests():
        yield pb.PutRequest(header=pb.PutHeader(
            name=NAME, shape=[ELEMENTS], dtype=pb.DTYPE_FLOAT64))
        for start in range(0, len(payload), chunk):
            yield pb.PutRequest(data=payload[start:start + chunk])
            if start + chunk >= len(payload) // 2:
                print("half", flush=True)
                time.sleep(600)
    channel = grpc.insecure_channel(os.environ["MATCACHE_ADDRESS"])
    pb_grpc.MatrixCacheStub(channel).Put(requests())
    print("returned", flush=True)
"""


def test_put_stream_cut_by_killed_client(lab):
    server = lab.server()  # default 60 s lease: only the cut may clean up
    server.start()
    old = np.random.default_rng(5).standard_normal(1000)
    with server.client() as client:
        old_info = client.put("target", old)
        before = catalogue(client)
    streamer = lab.child(_code(_STREAMER, NAME="target", ELEMENTS=1 << 20),
                         server.address)
    streamer.expect(lambda l: l == "half", what="half the stream")
    assert wait_until(lambda: server.dir_state().staging, 10) is not None, \
        "the server never started writing the stream"
    with server.client() as client:
        assert client.stats().staging_count == 1

    assert streamer.kill9() == -signal.SIGKILL
    assert wait_until(lambda: not server.dir_state().staging, 5) is not None, \
        f"staging file of a cut stream kept: {server.dir_state()}"
    with server.client() as client, server.client(local=False) as remote:
        assert catalogue(client) == before
        assert client.info("target").id == old_info.id
        assert same_array(client.get("target"), old)
        assert same_array(remote.get("target"), old)
        assert client.stats().staging_count == 0
    assert server.running()


def test_put_stream_cut_by_failing_generator(lab):
    server = lab.server()
    server.start()
    seen = {}

    def requests():
        yield pb.PutRequest(header=pb.PutHeader(
            name="cut", shape=[1 << 20], dtype=pb.DTYPE_FLOAT64))
        for _ in range(2):
            yield pb.PutRequest(data=bytes(1 << 20) + b"\1" * (1 << 20))
        seen["staging"] = wait_until(lambda: server.dir_state().staging, 10)
        raise RuntimeError("the data source failed half-way")

    with server.client() as client:
        before = catalogue(client)
    with grpc.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.RpcError) as raised:
            pb_grpc.MatrixCacheStub(channel).Put(requests(), timeout=30)
    assert raised.value.code() in (grpc.StatusCode.CANCELLED,
                                   grpc.StatusCode.UNKNOWN), raised.value
    assert seen["staging"] is not None, "the server never staged the stream"
    assert wait_until(lambda: not server.dir_state().staging, 5) is not None, \
        f"staging file of a cut stream kept: {server.dir_state()}"
    _assert_nothing_published(server, "cut", before)
    assert server.running()
