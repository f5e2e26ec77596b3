"""SIGHUP: matcached re-reads its token files and TLS certificates. After
it, the old token is refused and the new one accepted, new TLS handshakes
(gRPC and HTTPS) get the new certificate and client CA, and nothing else
changes: the matrices stay, and connections made before it go on (no
reconnect). Unusable files change nothing."""

import http.client
import io
import os
import shutil
import signal
import ssl
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


def _sighup(server, logged):
    """SIGHUP, then waits for the server to log `logged` once more."""
    done = server.run_log().count(logged)
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_SECONDS
    while server.run_log().count(logged) == done:
        assert server.running(), server.run_log()
        assert time.monotonic() < deadline, server.run_log()
        time.sleep(0.02)


def _reload(server):
    """SIGHUP, then waits for the server to log that it re-read its files."""
    _sighup(server, "SIGHUP: re-read")


def _reload_refused(server):
    """SIGHUP, then waits for the server to log that it kept what is in
    force."""
    _sighup(server, "SIGHUP: keeping")


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
    _reload_refused(server)
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


def _https(address, ca, client):
    """An HTTPS connection to `address` trusting the CA certificate `ca`,
    presenting the (certificate, key) `client`."""
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(client[0]), str(client[1]))
    host, port = address.rsplit(":", 1)
    return http.client.HTTPSConnection(host, int(port), timeout=10,
                                       context=context)


def _get(connection, path):
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def _start_mutual_tls(server, tls):
    """Starts `server` with copies of the test certificates that a reload
    may replace; returns (certificate, key, client CA) paths."""
    files = (server.workdir / "server.pem", server.workdir / "server.key",
             server.workdir / "clients.pem")
    for source, copy in zip((*tls.server, tls.ca[0]), files):
        shutil.copy(source, copy)
    server.start("--tls_cert", str(files[0]), "--tls_key", str(files[1]),
                 "--tls_client_ca", str(files[2]))
    with matcache.Client(server.address) as owner:  # the unix socket
        owner.put(NAME, DATA)
    return files


def test_sighup_takes_up_new_https_certificates_and_client_ca(
        servers, tls, tmp_path):
    server = servers.new()
    cert, key, client_ca = _start_mutual_tls(server, tls)
    address = server.http_address()
    path = f"/v1/matrices/{NAME}/data"
    before = _https(address, tls.ca[0], tls.client)
    assert _get(before, path)[0] == 200
    kept_socket = before.sock

    # The server certificate now from the other CA, and client certificates
    # accepted from the other CA only.
    renewed = certs.issue(tmp_path, "renewed", tls.other_ca, [
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "extendedKeyUsage=serverAuth"])
    _replace(key, renewed[1].read_text())
    _replace(cert, renewed[0].read_text())
    _replace(client_ca, tls.other_ca[0].read_text())
    _reload(server)

    status, body = _get(_https(address, tls.other_ca[0], tls.stranger), path)
    assert status == 200
    assert np.array_equal(np.load(io.BytesIO(body)), DATA)
    with pytest.raises(ssl.SSLCertVerificationError):
        _get(_https(address, tls.ca[0], tls.client), path)
    # The old CA's client certificate: the handshake succeeds, access not.
    status, body = _get(_https(address, tls.other_ca[0], tls.client), path)
    assert status == 401 and b"client certificate" in body, body
    # The connection made before keeps its handshake's certificates.
    assert _get(before, path)[0] == 200
    assert before.sock is kept_socket
    before.close()


def test_unusable_https_certificates_change_nothing(servers, tls, tmp_path):
    server = servers.new(listen=["127.0.0.1:0"])
    cert, key, client_ca = _start_mutual_tls(server, tls)
    (tcp,) = server.tcp_addresses()
    address = server.http_address()
    path = f"/v1/matrices/{NAME}/data"
    renewed = certs.issue(tmp_path, "renewed", tls.other_ca, [
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "extendedKeyUsage=serverAuth"])
    # A key of another certificate, then a certificate file that is not PEM.
    for replaced, text, named in ((key, renewed[1].read_text(), "private key"),
                                  (cert, "not a certificate\n", "certificate")):
        original = replaced.read_text()
        _replace(replaced, text)
        _reload_refused(server)
        assert "SIGHUP: keeping the tokens and certificates in force" in \
            server.run_log()
        assert named in server.run_log().rsplit("SIGHUP: keeping", 1)[1]
        # Both listeners still serve the certificates of the start.
        assert _get(_https(address, tls.ca[0], tls.client), path)[0] == 200
        with matcache.Client(tcp, tls_ca=str(tls.ca[0]),
                             tls_cert=str(tls.client[0]),
                             tls_key=str(tls.client[1])) as client:
            assert np.array_equal(client.get(NAME), DATA)
        _replace(replaced, original)
    # A client CA file emptied.
    _replace(client_ca, "")
    _reload_refused(server)
    assert _get(_https(address, tls.ca[0], tls.client), path)[0] == 200
    assert server.running()
