"""Who may touch the socket and the segments: modes and groups as laid
down, and real OS users (a member of --group and an outsider) trying their
luck."""

import grp
import os
import stat

import grpc
import numpy as np
import pytest

import matcache
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc
from osusers import GROUP
from probe import digest

# Any umask the server is started with: the modes must not follow it.
_UMASKS = [0o000, 0o077]


def _mode_and_group(path):
    st = os.lstat(path)
    return stat.S_IMODE(st.st_mode), st.st_gid


def _layout(server, name):
    """{what: (mode, gid)} of the socket, its directory, the fd socket
    beside it, a staging segment (Created, then Aborted) and a published
    segment; also asserts the server's user owns the segments."""
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.MatrixCacheStub(channel)
        created = stub.Create(pb.CreateRequest(
            name=name, shape=[10], dtype=pb.DTYPE_FLOAT64), timeout=30)
        staging = _mode_and_group(created.path)
        staging_owner = os.stat(created.path).st_uid
        stub.Abort(pb.AbortRequest(lease=created.lease), timeout=30)
    with matcache.Client(server.address) as client:
        path = client.put(name, np.arange(10.0)).path
    assert staging_owner == os.stat(path).st_uid == os.geteuid()
    assert stat.S_ISSOCK(os.lstat(server.socket).st_mode)
    fd_socket = f"{server.socket}.fds"
    assert created.fd_socket == fd_socket
    assert stat.S_ISSOCK(os.lstat(fd_socket).st_mode)
    return {"socket": _mode_and_group(server.socket),
            "socket dir": _mode_and_group(server.socket.parent),
            "fd socket": _mode_and_group(fd_socket),
            "staging": staging, "published": _mode_and_group(path)}


@pytest.mark.parametrize("umask", _UMASKS)
def test_without_group_everything_is_private(servers, name, umask):
    server = servers.new()
    server.start(umask=umask)
    modes = {what: mode for what, (mode, _) in _layout(server, name).items()}
    assert modes == {"socket": 0o600, "socket dir": 0o700,
                     "fd socket": 0o600, "staging": 0o600,
                     "published": 0o400}


@pytest.mark.parametrize("umask", _UMASKS)
def test_group_gets_the_sockets_and_read_access_but_no_staging_file(
        servers, os_users, name, umask):
    server = servers.new("--group", GROUP)
    server.start(umask=umask)
    gid = grp.getgrnam(GROUP).gr_gid
    # A staging file is the server's alone: its writer gets a descriptor
    # from the fd socket, nobody else any access.
    assert _layout(server, name) == {
        "socket": (0o660, gid), "socket dir": (0o750, gid),
        "fd socket": (0o660, gid), "staging": (0o600, gid),
        "published": (0o440, gid)}


def test_member_maps_and_reads_but_cannot_change_a_segment(servers, member,
                                                           name):
    server = servers.start("--group", GROUP)
    want = np.arange(1000.0)
    with matcache.Client(server.address) as owner:
        info = owner.put(name, want)
    before = os.stat(info.path)
    got, read, open_read, open_write, rename, unlink = member.run(
        ["get", name, True], ["read", name], ["open", info.path, "r"],
        ["open", info.path, "rw"], ["rename", info.path, f"{info.path}.x"],
        ["unlink", info.path], address=server.address)

    assert got == {"ok": {"digest": digest(want), "mapped": info.path,
                          "writeable": False}}
    assert read == {"ok": {"digest": digest(want)}}
    assert open_read == {"ok": None}
    assert open_write["errno"] == "EACCES", open_write
    # The server's own directory: nobody else may rename or unlink there.
    assert rename["errno"] == "EACCES", rename
    assert unlink["errno"] == "EACCES", unlink

    after = os.stat(info.path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino,
                                                 before.st_mtime_ns)
    assert not os.path.exists(f"{info.path}.x")
    with matcache.Client(server.address) as owner:
        assert owner.info(name).id == info.id
        assert digest(owner.get(name)) == digest(want)


def test_member_puts_through_the_staging_file(servers, member, name):
    server = servers.start("--group", GROUP)
    put, got = member.run(["put", name, 500, True], ["get", name, True],
                          address=server.address)
    assert "ok" in put, put
    assert got["ok"]["digest"] == digest(np.arange(500.0))
    with matcache.Client(server.address) as owner:
        info = owner.info(name)
        assert digest(owner.get(name)) == digest(np.arange(500.0))
    assert put["ok"] == {"generation": info.generation, "path": info.path}
    assert _mode_and_group(info.path) == (0o440, grp.getgrnam(GROUP).gr_gid)
    assert server.staging_files() == []


def test_outsider_can_neither_connect_nor_open_a_segment(servers, outsider,
                                                         name):
    server = servers.start("--group", GROUP)
    with matcache.Client(server.address) as owner:
        info = owner.put(name, np.arange(10.0))
    listed, opened = outsider.run(["list"], ["open", info.path, "r"],
                                  address=server.address)
    assert listed["error"] == "UnavailableError", listed
    assert "Permission denied" in listed["message"], listed
    assert opened["errno"] == "EACCES", opened


def test_outsider_over_tcp_gets_nothing(servers, outsider, name):
    server = servers.start("--group", GROUP, listen=["127.0.0.1:0"])
    (address,) = server.tcp_addresses()
    with matcache.Client(server.address) as owner:
        owner.put(name, np.arange(10.0))
    # Without a token, and unable to read the server's.
    listed, got, removed = outsider.run(
        ["list"], ["get", name], ["delete", name], address=address)
    for step in (listed, got, removed):
        assert step["error"] == "UnauthenticatedError", step
        assert str(server.token_file) in step["message"], step
    (named,) = outsider.run(["list"], address=address,
                            token_file=server.token_file)
    assert named["error"] == "PermissionDeniedError", named
    assert str(server.token_file) in named["message"], named
    with matcache.Client(server.address) as owner:
        assert [m.name for m in owner.list()] == [name]


def test_member_over_tcp_is_served_without_typing_a_token(servers, member,
                                                          name):
    server = servers.start("--group", GROUP, listen=["127.0.0.1:0"])
    (address,) = server.tcp_addresses()
    assert _mode_and_group(server.token_file) == (
        0o640, grp.getgrnam(GROUP).gr_gid)
    put, got = member.run(["put", name, 300], ["get", name],
                          address=address, token_file=server.token_file)
    assert "ok" in put, put
    assert got["ok"]["digest"] == digest(np.arange(300.0))
    with matcache.Client(server.address) as owner:
        assert digest(owner.get(name)) == digest(np.arange(300.0))
        assert [m.name for m in owner.list()] == [name]
        assert owner.stats().staging_count == 0
    assert server.staging_files() == []
