"""SIGHUP: matcached re-reads its token files and TLS certificates. After
it, the old token is refused and the new one accepted, new TLS handshakes
get the new certificate, and nothing else changes: the matrices stay, and
connections made before it go on (no reconnect)."""

import http.client
import os
import shutil
import signal
import time

import grpc
import numpy as np
import pytest

import certs
import matcache
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc

OLD_TOKEN = "old-" + "a" * 32
NEW_TOKEN = "new-" + "b" * 32
NAME = "kept"
ABSENT = "absent"
DATA = np.arange(12.0).reshape(3, 4)
RELOAD_SECONDS = 10


pytestmark = pytest.mark.usefixtures("no_client_settings")


def _replace(path, text):
    """Replaces the file at `path` with `text` as an editor or a
    certificate renewal would: written aside, renamed over it."""
    aside = path.with_name(path.name + ".new")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.rename(aside, path)


def _reload(server):
    """SIGHUP, then waits for the server to log that it re-read its files."""
    done = server.run_log().count("SIGHUP: re-read")
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_SECONDS
    while server.run_log().count("SIGHUP: re-read") == done:
        assert server.running(), server.run_log()
        assert time.monotonic() < deadline, server.run_log()
        time.sleep(0.02)


def _bearer(token):
    return [("authorization", f"Bearer {token}")]


def test_sighup_takes_up_a_new_token_and_keeps_connections(servers):
    server = servers.new(listen=["127.0.0.1:0"])
    token_file = server.workdir / "write.token"
    _replace(token_file, OLD_TOKEN + "\n")
    server.start("--write_token_file", str(token_file))
    (tcp,) = server.tcp_addresses()
    with matcache.Client(server.address, token=OLD_TOKEN) as owner:
        put = owner.put(NAME, DATA)
        mapped = owner.get(NAME)

    channel = grpc.insecure_channel(tcp)
    states = []
    channel.subscribe(states.append, try_to_connect=True)
    stub = pb_grpc.MatrixCacheStub(channel)

    def grpc_code(token):
        """The code of a write call with `token` (deleting no matrix)."""
        try:
            stub.Delete(pb.DeleteRequest(name=ABSENT),
                        metadata=_bearer(token), timeout=10)
        except grpc.RpcError as e:
            return e.code()
        return grpc.StatusCode.OK

    assert grpc_code(OLD_TOKEN) == grpc.StatusCode.NOT_FOUND
    web = http.client.HTTPConnection(server.http_address(), timeout=10)

    def http_status(token):
        web.request("DELETE", f"/v1/matrices/{ABSENT}",
                    headers={"Authorization": f"Bearer {token}"})
        response = web.getresponse()
        response.read()
        return response.status

    assert http_status(OLD_TOKEN) == 404
    web_socket = web.sock

    _replace(token_file, NEW_TOKEN + "\n")
    _reload(server)

    assert grpc_code(OLD_TOKEN) == grpc.StatusCode.PERMISSION_DENIED
    assert grpc_code(NEW_TOKEN) == grpc.StatusCode.NOT_FOUND
    assert http_status(OLD_TOKEN) == 403
    assert http_status(NEW_TOKEN) == 404
    # The same connections answered before and after the reload.
    assert web.sock is web_socket
    time.sleep(0.2)  # connectivity callbacks arrive on gRPC's thread
    assert states.count(grpc.ChannelConnectivity.READY) == 1, states
    assert states[-1] == grpc.ChannelConnectivity.READY, states
    web.close()
    channel.close()

    with pytest.raises(matcache.PermissionDeniedError):
        matcache.Client(server.address, token=OLD_TOKEN).delete(NAME)
    with matcache.Client(server.address, token=NEW_TOKEN) as client:
        info = client.info(NAME)
        assert (info.id, info.generation) == (put.id, put.generation)
        assert np.array_equal(client.get(NAME), DATA)
    assert np.array_equal(mapped, DATA)


def test_a_token_file_that_cannot_be_read_keeps_the_token_in_force(servers):
    server = servers.new()
    token_file = server.workdir / "write.token"
    _replace(token_file, OLD_TOKEN + "\n")
    server.start("--write_token_file", str(token_file))
    token_file.chmod(0o644)  # readable by everyone: the server refuses it
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_SECONDS
    while "SIGHUP: keeping the tokens" not in server.run_log():
        assert time.monotonic() < deadline, server.run_log()
        time.sleep(0.02)
    with matcache.Client(server.address, token=OLD_TOKEN) as client:
        client.put(NAME, DATA)
    assert server.running()


def test_sighup_takes_up_a_new_certificate(servers, tls, tmp_path):
    server = servers.new(listen=["127.0.0.1:0"])
    cert = server.workdir / "server.pem"
    key = server.workdir / "server.key"
    shutil.copy(tls.server[0], cert)
    shutil.copy(tls.server[1], key)
    server.start("--tls_cert", str(cert), "--tls_key", str(key),
                 "--tcp_auth", "none")
    (tcp,) = server.tcp_addresses()
    before = matcache.Client(tcp, tls_ca=str(tls.ca[0]))
    before.put(NAME, DATA)

    renewed = certs.issue(tmp_path, "renewed", tls.other_ca, [
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "extendedKeyUsage=serverAuth"])
    _replace(key, renewed[1].read_text())
    _replace(cert, renewed[0].read_text())
    _reload(server)

    with matcache.Client(tcp, tls_ca=str(tls.other_ca[0])) as client:
        assert np.array_equal(client.get(NAME), DATA)
    with pytest.raises(matcache.UnavailableError):
        matcache.Client(tcp, tls_ca=str(tls.ca[0]), timeout=5).info(NAME)
    # The connection made before the reload keeps its session.
    assert np.array_equal(before.read(NAME, np.s_[1:]), DATA[1:])
    before.close()
