"""Without an address, a client finds the socket of a server started with
its defaults: in /run/matcache (the installed service), else in
/tmp/matcache when started by hand; and the access token beside it; never
in a directory another user could have placed them in."""

import os

import numpy as np
import pytest

import matcache
from matcache import channel, client as client_module
from serverproc import ServerProcess, new_server, run_cleanups

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="giving a directory away needs root")


def test_the_first_server_dir_with_the_file_wins(tmp_path, monkeypatch):
    service, by_hand = tmp_path / "service", tmp_path / "by_hand"
    service.mkdir(mode=0o755)
    by_hand.mkdir(mode=0o700)
    monkeypatch.setattr(channel, "SERVER_DIRS", (str(service), str(by_hand)))
    # Neither has it: where the installed service puts it.
    assert channel.server_file("access.token") == str(service / "access.token")
    assert client_module.default_address() == f"unix:{service}/matcached.sock"
    (by_hand / "matcached.sock").touch()
    assert client_module.default_address() == f"unix:{by_hand}/matcached.sock"
    (service / "matcached.sock").touch()
    assert client_module.default_address() == f"unix:{service}/matcached.sock"


def _shared_tmp(tmp_path):
    """A directory like /tmp: everyone may write to it, sticky."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


def _with_socket(directory):
    (directory / "matcached.sock").touch()
    return f"unix:{directory}/matcached.sock"


@needs_root
def test_a_dir_another_user_made_in_a_shared_tmp_is_skipped(
        tmp_path, monkeypatch):
    service = tmp_path / "service"
    service.mkdir(mode=0o755)
    planted = _shared_tmp(tmp_path) / "matcache"
    planted.mkdir(mode=0o755)
    _with_socket(planted)
    (planted / "access.token").write_text("planted\n")
    os.chown(planted, NOBODY, NOBODY)
    monkeypatch.setattr(channel, "SERVER_DIRS", (str(service), str(planted)))
    assert client_module.default_address() == f"unix:{service}/matcached.sock"
    assert channel.server_file("access.token") == str(service / "access.token")
    # Its own user's, or root's, is used.
    os.chown(planted, os.geteuid(), -1)
    assert client_module.default_address() == f"unix:{planted}/matcached.sock"


@needs_root
@pytest.mark.parametrize("parent_mode, used", [(0o755, True), (0o775, False)])
def test_another_users_dir_is_used_only_where_only_root_could_make_it(
        tmp_path, monkeypatch, parent_mode, used):
    # As /run/matcache, which systemd gives to the service's user.
    parent = tmp_path / "run"
    parent.mkdir()
    parent.chmod(parent_mode)
    service = parent / "matcache"
    service.mkdir(mode=0o750)
    address = _with_socket(service)
    os.chown(service, NOBODY, NOBODY)
    absent = tmp_path / "absent"
    monkeypatch.setattr(channel, "SERVER_DIRS", (str(absent), str(service)))
    expected = address if used else f"unix:{absent}/matcached.sock"
    assert client_module.default_address() == expected


def test_a_file_in_an_untrusted_dir_is_never_the_fallback(tmp_path, monkeypatch):
    untrusted = [tmp_path / "open1", tmp_path / "open2"]
    for directory in untrusted:
        directory.mkdir()
        _with_socket(directory)
        (directory / "access.token").write_text("planted\n")
        directory.chmod(0o777)
    trusted_but_empty = tmp_path / "empty"
    trusted_but_empty.mkdir(mode=0o700)
    monkeypatch.setattr(channel, "SERVER_DIRS",
                        (str(untrusted[0]), str(trusted_but_empty), str(untrusted[1])))
    assert client_module.default_address() == \
        f"unix:{trusted_but_empty}/matcached.sock"
    monkeypatch.setattr(channel, "SERVER_DIRS", tuple(map(str, untrusted)))
    with pytest.raises(matcache.PermissionDeniedError, match="MATCACHE_ADDRESS"):
        client_module.default_address()
    assert channel.server_file("access.token") is None
    # A TCP client then sends no token rather than the planted one.
    monkeypatch.delenv(channel.TOKEN_ENV, raising=False)
    monkeypatch.delenv(channel.TOKEN_FILE_ENV, raising=False)
    assert channel.resolve_token(None, "127.0.0.1:1") is None


def test_a_dir_others_may_write_to_or_a_link_is_skipped(tmp_path, monkeypatch):
    fallback = tmp_path / "fallback"
    fallback.mkdir(mode=0o700)
    fallback_address = f"unix:{fallback}/matcached.sock"
    open_to_group = tmp_path / "open"
    open_to_group.mkdir()
    _with_socket(open_to_group)
    open_to_group.chmod(0o770)
    link = _shared_tmp(tmp_path) / "matcache"
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    link_target_address = _with_socket(mine)
    link.symlink_to(mine)
    link_with_slash = str(link) + "/"
    for skipped in (open_to_group, link, link_with_slash):
        monkeypatch.setattr(channel, "SERVER_DIRS", (str(fallback), str(skipped)))
        assert client_module.default_address() == fallback_address, skipped
    # The same directories are used once only their owner may write to them,
    # or by their own path rather than a link's.
    open_to_group.chmod(0o750)
    monkeypatch.setattr(channel, "SERVER_DIRS", (str(fallback), str(open_to_group)))
    assert client_module.default_address() == f"unix:{open_to_group}/matcached.sock"
    monkeypatch.setattr(channel, "SERVER_DIRS", (str(fallback), str(mine)))
    assert client_module.default_address() == link_target_address


def test_a_client_without_an_address_reaches_the_service(monkeypatch):
    cleanups = []
    try:
        placed = new_server((), cleanups)
        service_dir = placed.workdir / "run"
        server = ServerProcess(placed.workdir, placed.shm_dir, placed.namespace,
                               socket=service_dir / "matcached.sock",
                               listen=("127.0.0.1:0",))
        cleanups.append(lambda: server.kill() if server.running() else None)
        server.start()
        monkeypatch.delenv(client_module.ADDRESS_ENV, raising=False)
        monkeypatch.delenv(channel.TOKEN_ENV, raising=False)
        monkeypatch.delenv(channel.TOKEN_FILE_ENV, raising=False)
        monkeypatch.setattr(channel, "SERVER_DIRS",
                            (str(placed.workdir / "absent"), str(service_dir)))
        with matcache.Client() as c:
            assert c.address == f"unix:{service_dir}/matcached.sock"
            c.put("m", np.arange(3))
        # Over TCP, with the token the server keeps beside that socket.
        host_port = server.tcp_addresses()[0]
        with matcache.Client(host_port) as c:
            assert np.array_equal(c.get("m"), np.arange(3))
    finally:
        run_cleanups(cleanups)
