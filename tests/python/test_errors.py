"""Every error class comes from a real failing call."""

import errno
import os
import socket
import threading
import time

import grpc
import numpy as np
import pytest

import matcache
from matcache import handoff


@pytest.mark.parametrize("call", ["get", "info", "delete"])
def test_missing_name_is_not_found(client, name, call):
    with pytest.raises(matcache.NotFoundError) as raised:
        getattr(client, call)(name)
    assert isinstance(raised.value, KeyError)
    assert isinstance(raised.value, matcache.MatcacheError)
    assert name in str(raised.value)
    assert str(raised.value) == raised.value.message  # not repr-quoted


def test_streamed_get_of_missing_name_is_not_found(server, name):
    with matcache.Client(server.address, local=False) as remote:
        with pytest.raises(matcache.NotFoundError):
            remote.get(name)


@pytest.mark.parametrize("local", [None, False])
@pytest.mark.parametrize("bad", ["../x", "", "a/b", ".hidden", "x" * 201])
def test_bad_name_is_invalid_argument(server, local, bad):
    with matcache.Client(server.address, local=local) as c:
        with pytest.raises(matcache.InvalidArgumentError) as raised:
            c.put(bad, np.zeros(3))
    assert isinstance(raised.value, ValueError)
    with matcache.Client(server.address) as c:
        with pytest.raises(matcache.InvalidArgumentError):
            c.info(bad)


@pytest.mark.parametrize("array", [
    np.array([object(), 1], dtype=object),
    np.array(["a", "bc"]),
    np.array([b"a", b"bc"]),
    np.zeros(2, dtype=[("x", "i4"), ("y", "f8")]),
    np.array(["2024-01-01"], dtype="datetime64[D]"),
    np.zeros(2, dtype=np.longdouble),
], ids=["object", "unicode", "bytes", "structured", "datetime", "longdouble"])
def test_unsupported_dtype_is_refused_before_any_call(array):
    # No server listens here: reaching it would raise UnavailableError.
    with matcache.Client("unix:/nonexistent/matcache.sock") as c:
        with pytest.raises(matcache.InvalidArgumentError) as raised:
            c.put("x", array)
    assert isinstance(raised.value, ValueError)
    assert str(array.dtype) in str(raised.value)


def test_too_large_is_resource_exhausted_and_leaves_no_file(server, client,
                                                            name):
    # 2 GiB + 8 bytes that occupy no memory: every element aliases one.
    huge = np.broadcast_to(np.zeros(1), ((1 << 28) + 1,))
    with pytest.raises(matcache.ResourceExhaustedError):
        client.put(name, huge)
    assert server.staging_files() == []
    assert client.stats().staging_count == 0
    with pytest.raises(matcache.NotFoundError):
        client.info(name)


def test_stale_generation_is_failed_precondition(client, name):
    first = client.put(name, np.zeros(2))
    client.put(name, np.ones(2))
    with pytest.raises(matcache.FailedPreconditionError):
        client.delete(name, generation=first.generation)
    assert np.array_equal(client.get(name), np.ones(2))


def test_unreachable_server_is_unavailable_quickly():
    address = "unix:/nonexistent/sock"
    start = time.monotonic()
    with matcache.Client(address) as c:
        with pytest.raises(matcache.UnavailableError) as raised:
            c.info("x")
    assert time.monotonic() - start < 5
    assert address in str(raised.value)


def test_a_failed_write_of_the_staging_file_is_a_matcache_error(
        server, client, name, monkeypatch):
    real_pwrite = os.pwrite

    def failing(fd, data, offset):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".staging.shm"):
            raise OSError(errno.EFAULT, os.strerror(errno.EFAULT))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", failing)
    with pytest.raises(matcache.LocalIOError) as raised:
        client.put(name, np.arange(10.0))
    assert isinstance(raised.value, matcache.MatcacheError)
    assert raised.value.errno == errno.EFAULT
    assert "write staging segment" in str(raised.value)
    with pytest.raises(matcache.NotFoundError):
        client.info(name)
    # The lease was given back at once, not left to expire.
    assert client.stats().staging_count == 0
    assert server.staging_files() == []


def test_a_refused_descriptor_is_a_matcache_error(server, client, name,
                                                  monkeypatch):
    # The server is asked for another lease than the Create's: NOT_FOUND,
    # and the put's own lease is given back.
    real = handoff.request_staging_fd
    monkeypatch.setattr(handoff, "request_staging_fd",
                        lambda path, lease, timeout: real(path, "0" * 32,
                                                          timeout))
    with pytest.raises(matcache.NotFoundError) as raised:
        client.put(name, np.arange(10.0))
    assert "no staging write" in str(raised.value)
    assert client.stats().staging_count == 0
    assert server.staging_files() == []


def test_an_fd_socket_that_never_answers_is_a_deadline(tmp_path):
    path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(path)
        silent.listen()
        with pytest.raises(matcache.DeadlineExceededError) as raised:
            handoff.request_staging_fd(path, "0" * 32, timeout=0.2)
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert path in str(raised.value) and "0.2 s" in str(raised.value)


@pytest.mark.parametrize("call", [
    lambda c, name: c.info(name),
    lambda c, name: c.get(name),
    lambda c, name: c.put(name, np.zeros(2)),
    lambda c, name: c.read(name, np.s_[..., 0]),
    lambda c, name: c.wait_for(name, timeout=0),
    lambda c, name: c.watch(name),
])
def test_a_closed_client_says_so(server, name, call):
    c = matcache.Client(server.address)
    c.put(name, np.arange(2.0))
    c.close()
    with pytest.raises(matcache.ClosedError) as raised:
        call(c, name)
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, matcache.MatcacheError)
    assert "closed" in str(raised.value) and server.address in str(raised.value)
    c.close()  # harmless again
    with matcache.Client(server.address) as other:
        other.delete(name)


def test_a_call_cut_off_by_a_close_in_another_thread_says_so(server, name):
    c = matcache.Client(server.address)
    put = c.put(name, np.arange(2.0))
    raised = []

    def wait():
        try:
            c.wait_for(name, newer_than=put.generation)
        except Exception as e:  # the assertion below says which
            raised.append(e)

    with matcache.Client(server.address) as other:
        watchers = other.stats().watchers
        waiter = threading.Thread(target=wait)
        waiter.start()
        deadline = time.monotonic() + 20
        while other.stats().watchers <= watchers:
            assert time.monotonic() < deadline, "the wait never began"
            time.sleep(0.01)
        c.close()
        waiter.join(20)
        assert not waiter.is_alive()
        assert len(raised) == 1 and isinstance(raised[0], matcache.ClosedError), raised
        assert "wait_for" in str(raised[0])
        other.delete(name)
