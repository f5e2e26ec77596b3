"""TLS on TCP listeners (--tls_cert, --tls_key) and client certificates
(--tls_client_ca): only clients that trust the server, and present a
certificate when asked, get through; the unix socket stays plaintext."""

import numpy as np
import pytest

import matcache


pytestmark = pytest.mark.usefixtures("no_client_settings")


def _start(servers, tls, client_ca=False):
    """A server with TLS on a free loopback port; returns (server, its TCP
    address)."""
    flags = ["--tls_cert", str(tls.server[0]), "--tls_key", str(tls.server[1])]
    if client_ca:
        flags += ["--tls_client_ca", str(tls.ca[0])]
    server = servers.start(*flags, listen=["127.0.0.1:0"])
    (address,) = server.tcp_addresses()
    assert not address.endswith(":0"), address
    return server, address


def _round_trip(client, name):
    """Put, get, read and list through `client`; asserts each result."""
    want = np.arange(12.0).reshape(3, 4)
    assert client.put(name, want).shape == (3, 4)
    assert np.array_equal(client.get(name), want)
    assert np.array_equal(client.read(name, np.s_[1:, ::2]), want[1:, ::2])
    assert name in [m.name for m in client.list()]


def _refused(address, **options):
    """Asserts that a client with `options` cannot make a call; returns the
    error."""
    with matcache.Client(address, timeout=10, **options) as client:
        with pytest.raises(matcache.UnavailableError) as raised:
            client.stats()
    return raised.value


def test_plaintext_client_fails_on_a_tls_port(servers, tls):
    _, address = _start(servers, tls)
    assert address in str(_refused(address))


def test_client_that_does_not_trust_the_server_fails(servers, tls):
    _, address = _start(servers, tls)
    _refused(address, tls_ca=str(tls.other_ca[0]))


@pytest.mark.parametrize("local", [False, None])
def test_client_with_the_ca_works(servers, tls, name, local, monkeypatch):
    server, address = _start(servers, tls)
    # Without client certificates, TCP also needs the access token.
    with matcache.Client(address, local=local, tls_ca=str(tls.ca[0])) as c:
        with pytest.raises(matcache.UnauthenticatedError):
            c.list()
    monkeypatch.setenv("MATCACHE_TOKEN_FILE", str(server.token_file))
    with matcache.Client(address, local=local, tls_ca=str(tls.ca[0])) as c:
        _round_trip(c, name)


def test_tls_from_the_environment(servers, tls, name, monkeypatch):
    _, address = _start(servers, tls, client_ca=True)
    monkeypatch.setenv("MATCACHE_TLS_CA", str(tls.ca[0]))
    monkeypatch.setenv("MATCACHE_TLS_CERT", str(tls.client[0]))
    monkeypatch.setenv("MATCACHE_TLS_KEY", str(tls.client[1]))
    with matcache.Client(address, local=False) as c:
        _round_trip(c, name)


def test_unix_socket_stays_plaintext(servers, tls, name):
    server, _ = _start(servers, tls, client_ca=True)
    with matcache.Client(server.address) as c:
        _round_trip(c, name)


def test_client_certificate_required(servers, tls, name):
    _, address = _start(servers, tls, client_ca=True)
    _refused(address, tls_ca=str(tls.ca[0]))
    _refused(address, tls_ca=str(tls.ca[0]), tls_cert=str(tls.stranger[0]),
             tls_key=str(tls.stranger[1]))
    _refused(address)
    with matcache.Client(address, local=False, tls_ca=str(tls.ca[0]),
                         tls_cert=str(tls.client[0]),
                         tls_key=str(tls.client[1])) as c:
        _round_trip(c, name)
