"""Without an address, a client finds the socket of a server started with
its defaults: in /tmp/matcache when started by hand, else in /run/matcache
(the installed service); and the access token beside it."""

import numpy as np

import matcache
from matcache import channel, client as client_module
from serverproc import ServerProcess, new_server, run_cleanups


def test_the_first_server_dir_with_the_file_wins(tmp_path, monkeypatch):
    by_hand, service = tmp_path / "by_hand", tmp_path / "service"
    by_hand.mkdir()
    service.mkdir()
    monkeypatch.setattr(channel, "SERVER_DIRS", (str(by_hand), str(service)))
    # Neither has it: where matcached puts it when started by hand.
    assert channel.server_file("access.token") == str(by_hand / "access.token")
    assert client_module.default_address() == f"unix:{by_hand}/matcached.sock"
    (service / "matcached.sock").touch()
    assert client_module.default_address() == f"unix:{service}/matcached.sock"
    (by_hand / "matcached.sock").touch()
    assert client_module.default_address() == f"unix:{by_hand}/matcached.sock"


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
