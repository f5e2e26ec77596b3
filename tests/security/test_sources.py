"""A user who may write the data directory swaps a lazy source after Load
checked it: for a symlink to a file only the server's user may read, for a
directory that is a symlink elsewhere, or for a FIFO. The server never
follows the swap and never blocks: the access fails at once with an error
naming the path, other calls keep working, and SIGTERM still exits
promptly."""

import os
import pathlib
import shutil
import tempfile
import time

import numpy as np
import pytest

import matcache
from osusers import GROUP

# Far more than a refusal takes, far less than the client's 60 s deadline.
REFUSAL_SECONDS = 5


@pytest.fixture
def top():
    """A directory every user may enter, removed at the end."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="matcache-sources-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir(member, top):
    """A data directory the member owns (and so may change), with
    sub/a.npy."""
    path = top / "data"
    (path / "sub").mkdir(parents=True)
    np.save(path / "sub" / "a.npy", np.arange(4.0))
    for entry in (path, path / "sub", path / "sub" / "a.npy"):
        os.chown(entry, member.uid, member.gid)
    return path


@pytest.fixture
def secret(top):
    """A directory with a.npy that only the server's user may read."""
    path = top / "secret"
    path.mkdir(mode=0o700)
    np.save(path / "a.npy", np.full(4, 42.0))
    (path / "a.npy").chmod(0o600)
    return path


def _lazily_loaded(servers, data_dir):
    server = servers.start("--group", GROUP, "--data_dir", str(data_dir))
    with matcache.Client(server.address) as owner:
        info = owner.load("a", "sub/a.npy")
        assert info.generation == 0  # not read yet
    return server


def _refused_at_once(server, error, where):
    with matcache.Client(server.address) as owner:
        start = time.monotonic()
        with pytest.raises(error) as raised:
            owner.get("a")
        assert time.monotonic() - start < REFUSAL_SECONDS
        assert str(where) in str(raised.value), raised.value
        # Everything else still works.
        owner.put("other", np.arange(3.0))
        assert np.array_equal(owner.get("other"), np.arange(3.0))
        assert "a" not in [m.name for m in owner.list() if m.generation]
    assert server.stop() == 0, server.log()


def test_a_file_swapped_for_a_symlink_is_not_followed(servers, member,
                                                      data_dir, secret):
    server = _lazily_loaded(servers, data_dir)
    source = data_dir / "sub" / "a.npy"
    unlinked, linked = member.run(
        ["unlink", str(source)], ["symlink", str(secret / "a.npy"), str(source)],
        address=server.address)
    assert "ok" in unlinked and "ok" in linked, (unlinked, linked)
    _refused_at_once(server, matcache.PermissionDeniedError, source)


def test_a_directory_swapped_for_a_symlink_is_not_followed(servers, member,
                                                           data_dir, secret):
    server = _lazily_loaded(servers, data_dir)
    moved, linked = member.run(
        ["rename", str(data_dir / "sub"), str(data_dir / "old")],
        ["symlink", str(secret), str(data_dir / "sub")],
        address=server.address)
    assert "ok" in moved and "ok" in linked, (moved, linked)
    _refused_at_once(server, matcache.PermissionDeniedError,
                     data_dir / "sub" / "a.npy")


def test_a_fifo_source_fails_at_once(servers, member, data_dir):
    server = _lazily_loaded(servers, data_dir)
    source = data_dir / "sub" / "a.npy"
    unlinked, made = member.run(["unlink", str(source)],
                                ["mkfifo", str(source), 0o666],
                                address=server.address)
    assert "ok" in unlinked and "ok" in made, (unlinked, made)
    _refused_at_once(server, matcache.InvalidArgumentError, source)


def test_a_fifo_among_the_sources_at_start_does_not_stop_the_server(
        servers, member, data_dir):
    server = _lazily_loaded(servers, data_dir)
    assert server.stop() == 0
    source = data_dir / "sub" / "a.npy"
    member.run(["unlink", str(source)], ["mkfifo", str(source), 0o666],
               address=server.address)
    server.start()
    _refused_at_once(server, matcache.InvalidArgumentError, source)
