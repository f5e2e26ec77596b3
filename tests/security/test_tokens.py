"""--write_token_file and --read_token_file: a missing token is
UNAUTHENTICATED, a wrong one PERMISSION_DENIED, and a refused call changes
nothing; the right token works, and the write token also reads."""

import os
import secrets

import grpc
import numpy as np
import pytest

import matcache
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc
from probe import digest

WRITE_TOKEN = f"write-{secrets.token_hex(16)}"
READ_TOKEN = f"read-{secrets.token_hex(16)}"
WRONG_TOKEN = f"wrong-{secrets.token_hex(16)}"
NAME = "guarded"
PINNED = "pinned"
DATA = np.arange(24.0).reshape(4, 6)

# Each takes `connect(local=None)`, which returns a Client with the token
# under test, and makes one call.
_WRITES = {
    "put (staging)": lambda connect: connect(local=True).put(NAME, -DATA),
    "put (stream)": lambda connect: connect(local=False).put(NAME, -DATA),
    "delete": lambda connect: connect().delete(NAME),
    "pin": lambda connect: connect().pin(NAME),
    "unpin": lambda connect: connect().unpin(PINNED),
    "load": lambda connect: connect().load(NAME, "source.npy", eager=True),
}
_READS = {
    "get (mapped)": lambda connect: connect(local=True).get(NAME),
    "get (stream)": lambda connect: connect(local=False).get(NAME),
    "read": lambda connect: connect().read(NAME, np.s_[1:, ::2]),
    "preview": lambda connect: connect().preview(NAME, (2, 3)),
    "info": lambda connect: connect().info(NAME),
    "list": lambda connect: connect().list(),
    "stats": lambda connect: connect().stats(),
}
# A missing token, and a wrong one.
_REFUSALS = [None, WRONG_TOKEN]


@pytest.fixture(autouse=True)
def _no_token_in_environment(monkeypatch):
    monkeypatch.delenv("MATCACHE_TOKEN", raising=False)


def write_token_file(server, token, filename, mode=0o600):
    """Writes `token`, with white space around it (which the server
    ignores), to `filename` in the server's workdir, created with `mode`;
    returns its path."""
    path = server.workdir / filename
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"  {token}\n")
    path.chmod(mode)
    return path


def _start(servers, read_token=False):
    """A server with a write token (and a read token if asked), a data_dir
    holding source.npy, the matrix NAME holding DATA and PINNED, pinned."""
    server = servers.new()
    data_dir = server.workdir / "data"
    data_dir.mkdir()
    np.save(data_dir / "source.npy", DATA * 10)
    flags = ["--data_dir", str(data_dir), "--write_token_file",
             str(write_token_file(server, WRITE_TOKEN, "write.token"))]
    if read_token:
        flags += ["--read_token_file",
                  str(write_token_file(server, READ_TOKEN, "read.token"))]
    server.start(*flags)
    with matcache.Client(server.address, token=WRITE_TOKEN) as owner:
        owner.put(NAME, DATA)
        owner.put(PINNED, DATA, pin=True)
    return server


def _connector(server, token):
    def connect(local=None):
        return matcache.Client(server.address, local=local, token=token)
    return connect


def _state(server):
    """Everything a refused call must leave as it was: each matrix's
    version, pin, source and data, and the staging count."""
    with matcache.Client(server.address, token=WRITE_TOKEN) as owner:
        matrices = {m.name: (m.generation, m.id, m.checksum, m.pinned,
                             m.source, digest(owner.get(m.name)))
                    for m in owner.list()}
        return matrices, owner.stats().staging_count


def _assert_refused(server, call, token):
    """Asserts that `call` with `token` raises UnauthenticatedError (no
    token) or a PermissionDeniedError that is not one (any other token),
    leaving the server's state and shm directory as they were."""
    before = _state(server)
    expected = (matcache.UnauthenticatedError if token is None
                else matcache.PermissionDeniedError)
    with pytest.raises(expected) as raised:
        call(_connector(server, token))
    if token is not None:
        assert not isinstance(raised.value, matcache.UnauthenticatedError)
    assert _state(server) == before
    assert server.staging_files() == []


@pytest.mark.parametrize("token", _REFUSALS, ids=["missing", "wrong"])
@pytest.mark.parametrize("write", _WRITES)
def test_write_without_the_write_token_is_refused(servers, write, token):
    _assert_refused(_start(servers), _WRITES[write], token)


def _bearer(token):
    return [] if token is None else [("authorization", f"Bearer {token}")]


@pytest.mark.parametrize("token, code", [
    (None, grpc.StatusCode.UNAUTHENTICATED),
    (WRONG_TOKEN, grpc.StatusCode.PERMISSION_DENIED)], ids=["missing", "wrong"])
def test_commit_and_abort_need_the_write_token(servers, token, code):
    server = _start(servers)
    before = _state(server)
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.MatrixCacheStub(channel)
        created = stub.Create(
            pb.CreateRequest(name=NAME, shape=[2], dtype=pb.DTYPE_FLOAT64),
            metadata=_bearer(WRITE_TOKEN), timeout=30)
        for call, request in ((stub.Commit, pb.CommitRequest),
                              (stub.Abort, pb.AbortRequest)):
            with pytest.raises(grpc.RpcError) as raised:
                call(request(lease=created.lease), metadata=_bearer(token),
                     timeout=30)
            assert raised.value.code() == code
        assert server.staging_files() != []
        stub.Abort(pb.AbortRequest(lease=created.lease),
                   metadata=_bearer(WRITE_TOKEN), timeout=30)
    assert _state(server) == before


def test_writes_with_the_write_token_work(servers):
    server = _start(servers)
    connect = _connector(server, WRITE_TOKEN)
    first = connect().info(NAME).generation
    second = connect(local=True).put(NAME, -DATA).generation
    assert first < second < connect(local=False).put(NAME, DATA).generation
    assert connect().pin(NAME).pinned
    assert not connect().unpin(NAME).pinned
    assert connect().load("loaded", "source.npy", eager=True).source
    assert np.array_equal(connect().get("loaded"), DATA * 10)
    connect().delete(NAME)
    assert [m.name for m in connect().list()] == ["loaded", PINNED]


@pytest.mark.parametrize("read", _READS)
def test_reads_are_open_without_a_read_token(servers, read):
    server = _start(servers)
    _READS[read](_connector(server, None))


@pytest.mark.parametrize("token", _REFUSALS, ids=["missing", "wrong"])
@pytest.mark.parametrize("read", _READS)
def test_read_without_a_token_is_refused(servers, read, token):
    _assert_refused(_start(servers, read_token=True), _READS[read], token)


@pytest.mark.parametrize("token", [READ_TOKEN, WRITE_TOKEN],
                         ids=["read token", "write token"])
def test_read_token_and_write_token_both_read(servers, token):
    server = _start(servers, read_token=True)
    connect = _connector(server, token)
    assert np.array_equal(connect(local=True).get(NAME), DATA)
    assert np.array_equal(connect(local=False).get(NAME), DATA)
    assert np.array_equal(connect().read(NAME, np.s_[1:, ::2]),
                          DATA[1:, ::2])
    assert connect().preview(NAME, (2, 3)).shape == (2, 3)
    assert connect().info(NAME).shape == DATA.shape
    assert [m.name for m in connect().list()] == [NAME, PINNED]
    assert connect().stats().matrix_count == 2


@pytest.mark.parametrize("write", _WRITES)
def test_read_token_does_not_write(servers, write):
    _assert_refused(_start(servers, read_token=True), _WRITES[write],
                    READ_TOKEN)


def test_health_is_open(servers):
    server = _start(servers, read_token=True)
    with grpc.insecure_channel(server.address) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        # An empty HealthCheckRequest; the answer is status SERVING (1).
        assert check(b"", timeout=30) == b"\x08\x01"


@pytest.mark.parametrize("flag", ["--write_token_file", "--read_token_file"])
def test_token_file_others_can_read_is_refused(servers, flag):
    server = servers.new()
    path = write_token_file(server, WRITE_TOKEN, "token", mode=0o644)
    server.launch(flag, str(path))
    status = server.wait_exit(15)
    assert status not in (0, None), server.run_log()
    assert str(path) in server.run_log()
