"""A put in progress belongs to its writer: with --group, another member
can neither open, resize nor hard-link the writer's staging file, nor get
its descriptor from the fd socket without the lease; each lease's
descriptor is handed out once; a silent connection to the fd socket holds
up nobody; and the client never maps a staging file, so nothing another
process does to one can fault in it."""

import os
import socket

import numpy as np
import pytest

import matcache
from osusers import GROUP
from probe import digest

_UNKNOWN = "(never begun, committed, aborted or expired)"


def _staging(server, writer, name, count=512):
    """A Create run as `writer` and left staging: the response's fields."""
    (created,) = writer.run(["create_staging", name, count],
                            address=server.address)
    assert "ok" in created, created
    return created["ok"]


def test_another_member_cannot_touch_a_staging_file(servers, member, writer,
                                                    name):
    server = servers.start("--group", GROUP)
    created = _staging(server, writer, name)
    path = created["path"]
    before = os.stat(path)
    stolen = os.path.join(os.path.dirname(path), f"{name}.stolen")
    opened_r, opened_rw, truncated, allocated, linked = member.run(
        ["open", path, "r"], ["open", path, "rw"], ["truncate", path, 0],
        ["fallocate", path, 1 << 30], ["link", path, stolen],
        address=server.address)

    assert opened_r.get("errno") == "EACCES", opened_r
    assert opened_rw.get("errno") == "EACCES", opened_rw
    assert truncated.get("errno") == "EACCES", truncated
    assert allocated.get("errno") == "EACCES", allocated
    # fs.protected_hardlinks: no link to a file one can neither read nor
    # write.
    assert linked.get("errno") == "EPERM", linked
    assert not os.path.exists(stolen)
    after = os.stat(path)
    assert (after.st_size, after.st_blocks, after.st_nlink, after.st_mtime_ns) \
        == (before.st_size, before.st_blocks, 1, before.st_mtime_ns)
    assert (after.st_uid, after.st_mode & 0o7777) == (os.geteuid(), 0o600)

    # The writer still owns its put: it fills and publishes it.
    (generation,) = writer.run(["fill_and_commit", created, 7.0],
                               address=server.address)
    assert "ok" in generation, generation
    with matcache.Client(server.address) as client:
        assert client.info(name).generation == generation["ok"]
        assert np.array_equal(client.get(name), np.full(512, 7.0))


def test_the_fd_socket_wants_the_lease(servers, member, writer, name):
    server = servers.start("--group", GROUP)
    created = _staging(server, writer, name)
    guessed, malformed, empty = member.run(
        ["fd_request", created["fd_socket"], "0" * 32],
        ["fd_request", created["fd_socket"], "guess"],
        ["fd_request", created["fd_socket"], ""],
        address=server.address)
    assert guessed == {"ok": {
        "reply": f"NOT_FOUND no staging write {'0' * 32} {_UNKNOWN}",
        "fd": False}}
    for refused in (malformed, empty):
        assert refused == {"ok": {
            "reply": "INVALID_ARGUMENT malformed lease: expected the 32 hex "
                     "digits Create returned", "fd": False}}
    # None of that used the lease up.
    (generation,) = writer.run(["fill_and_commit", created, 3.0],
                               address=server.address)
    assert "ok" in generation, generation


def test_each_lease_is_handed_out_once(servers, member, writer, name):
    server = servers.start("--group", GROUP)
    created = _staging(server, writer, name)
    first, second = writer.run(
        ["fd_request", created["fd_socket"], created["lease"]],
        ["fd_request", created["fd_socket"], created["lease"]],
        address=server.address)
    (stolen,) = member.run(
        ["fd_request", created["fd_socket"], created["lease"]],
        address=server.address)

    assert first == {"ok": {"reply": "OK", "fd": True}}
    # The refusal names the user the descriptor went to.
    once = (f"FAILED_PRECONDITION the staging file of lease "
            f"{created['lease']} was handed out already (to uid "
            f"{writer.uid}); each lease's file is handed out once")
    assert second == {"ok": {"reply": once, "fd": False}}
    assert stolen == {"ok": {"reply": once, "fd": False}}
    log = server.run_log()
    assert f"fd socket: refused uid {member.uid} (pid " in log, log


def test_a_silent_connection_holds_up_no_put(servers, member, name):
    # Long enough that the silent connection outlives the put below.
    server = servers.start("--group", GROUP, "--fd_request_seconds", "60")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        silent.connect(f"{server.socket}.fds")
        put, got = member.run(["put", name, 300, True], ["get", name, True],
                              address=server.address)
        assert "ok" in put, put
        assert got["ok"]["digest"] == digest(np.arange(300.0))
        # Unanswered all along, and still open.
        with pytest.raises(BlockingIOError):
            silent.recv(1, socket.MSG_DONTWAIT)
    finally:
        silent.close()
    assert server.staging_files() == []


@pytest.mark.parametrize("kind", ["contiguous", "cast", "strided",
                                  "byteswapped", "strided cast"])
def test_a_put_never_maps_its_staging_file(servers, member, name, kind):
    server = servers.start("--group", GROUP)
    (watched,) = member.run(["put_watched", name, kind],
                            address=server.address)
    assert "ok" in watched, watched
    seen = watched["ok"]
    # Written through the staging file (not streamed), by pwrite only: no
    # mapping of it, nor any writable shared mapping, ever.
    assert seen["pwrites"] >= 1 and len(seen["staging"]) == 1, seen
    assert seen["mapped during"] == [] and seen["mapped after"] == [], seen
    assert seen["open after"] == [], seen
    assert seen["got"] == seen["want"], seen
    assert server.staging_files() == []
