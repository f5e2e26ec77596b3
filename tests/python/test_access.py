"""What the client sends for access control and how it reports refusals,
against a stand-in server that records each call's metadata and refuses it
with a chosen status. (Real servers with tokens and TLS: tests/security.)"""

import concurrent.futures
import functools

import grpc
import numpy as np
import pytest

import matcache
from matcache import channel, cli

_SERVICE = "/matcache.v1.MatrixCache/"
_STREAMED_REQUESTS = {"Put"}
_STREAMED_RESPONSES = {"Read", "Preview", "Watch"}


class RefusingServer:
    """A gRPC server on a unix socket that answers every call with the
    status `code`, recording (method name, metadata dict) of each."""

    def __init__(self, path, code):
        self.address = f"unix:{path}"
        self.code = code
        self.calls = []
        self._server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=2))
        self._server.add_generic_rpc_handlers([self])
        self._server.add_insecure_port(self.address)
        self._server.start()

    def service(self, details):
        """grpc.GenericRpcHandler: a refusing handler of the method's kind."""
        method = details.method.removeprefix(_SERVICE)
        self.calls.append((method, dict(details.invocation_metadata)))

        def refuse(request, context):
            context.abort(self.code, "refused by the stand-in")

        if method in _STREAMED_REQUESTS:
            return grpc.stream_unary_rpc_method_handler(refuse)
        if method in _STREAMED_RESPONSES:
            return grpc.unary_stream_rpc_method_handler(refuse)
        return grpc.unary_unary_rpc_method_handler(refuse)

    def authorizations(self):
        """{method: its authorization metadata value, or None}."""
        return {method: metadata.get("authorization")
                for method, metadata in self.calls}

    def stop(self):
        self._server.stop(None)


@pytest.fixture
def refusing(tmp_path, monkeypatch):
    """A function starting a RefusingServer with a status code; without
    $MATCACHE_TOKEN and the $MATCACHE_TLS_* variables."""
    for variable in (channel.TOKEN_ENV, channel.TOKEN_FILE_ENV, channel.TLS_CA_ENV,
                     channel.TLS_CERT_ENV, channel.TLS_KEY_ENV):
        monkeypatch.delenv(variable, raising=False)
    servers = []

    def start(code=grpc.StatusCode.UNAUTHENTICATED):
        servers.append(RefusingServer(tmp_path / f"{len(servers)}.sock", code))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# Every call of the API, each making at least one RPC through a client
# that `connect(local=...)` returns.
_CALLS = {
    "put (local)": lambda connect: connect(local=True).put("x", np.ones(3)),
    "put (streamed)": lambda connect: connect(local=False).put("x", np.ones(3)),
    "get": lambda connect: connect().get("x"),
    "read": lambda connect: connect().read("x", np.s_[1:]),
    "preview": lambda connect: connect().preview("x", (1,)),
    "info": lambda connect: connect().info("x"),
    "list": lambda connect: connect().list(),
    "delete": lambda connect: connect().delete("x"),
    "load": lambda connect: connect().load("x", "/data/x.npy"),
    "pin": lambda connect: connect().pin("x"),
    "unpin": lambda connect: connect().unpin("x"),
    "stats": lambda connect: connect().stats(),
    "watch": lambda connect: next(connect().watch()),
    "wait_for": lambda connect: connect().wait_for("x"),
}


def test_every_call_sends_the_token(refusing):
    server = refusing()
    connect = functools.partial(matcache.Client, server.address,
                                token="s3cret-token")
    for call in _CALLS.values():
        with pytest.raises(matcache.UnauthenticatedError):
            call(connect)
    sent = server.authorizations()
    assert set(sent) == {"Create", "Put", "Info", "Read", "Preview", "List",
                         "Delete", "Load", "Pin", "Unpin", "Stats", "Watch"}
    assert set(sent.values()) == {"Bearer s3cret-token"}


def test_token_defaults_to_the_environment_stripped(refusing, monkeypatch):
    server = refusing()
    monkeypatch.setenv(channel.TOKEN_ENV, "  from-env\n")
    with pytest.raises(matcache.UnauthenticatedError):
        matcache.Client(server.address).info("x")
    with pytest.raises(matcache.UnauthenticatedError):
        matcache.Client(server.address, token="given").info("x")
    assert [metadata["authorization"] for _, metadata in server.calls] == [
        "Bearer from-env", "Bearer given"]


@pytest.mark.parametrize("token", [None, "", "  "])
def test_no_token_sends_no_authorization(refusing, token):
    server = refusing()
    with pytest.raises(matcache.UnauthenticatedError):
        matcache.Client(server.address, token=token).stats()
    assert server.authorizations() == {"Stats": None}


def test_empty_token_overrides_the_environment(refusing, monkeypatch):
    server = refusing()
    monkeypatch.setenv(channel.TOKEN_ENV, "from-env")
    with pytest.raises(matcache.UnauthenticatedError):
        matcache.Client(server.address, token="").stats()
    assert server.authorizations() == {"Stats": None}


def test_tcp_addresses_take_the_servers_token_file(monkeypatch, tmp_path):
    monkeypatch.delenv(channel.TOKEN_ENV, raising=False)
    token_file = tmp_path / "access.token"
    token_file.write_text("  from-file\n")
    monkeypatch.setenv(channel.TOKEN_FILE_ENV, str(token_file))
    assert channel.resolve_token(None, "127.0.0.1:7470") == "from-file"
    # Unix sockets need no token; an explicit one, or none, wins.
    assert channel.resolve_token(None, "unix:/run/m.sock") is None
    assert channel.resolve_token("", "127.0.0.1:7470") is None
    assert channel.resolve_token("given", "127.0.0.1:7470") == "given"
    monkeypatch.setenv(channel.TOKEN_ENV, "from-env")
    assert channel.resolve_token(None, "127.0.0.1:7470") == "from-env"


def test_a_named_token_file_that_cannot_be_read_is_refused(monkeypatch,
                                                           tmp_path):
    monkeypatch.delenv(channel.TOKEN_ENV, raising=False)
    absent = tmp_path / "absent.token"
    monkeypatch.setenv(channel.TOKEN_FILE_ENV, str(absent))
    with pytest.raises(matcache.PermissionDeniedError) as raised:
        matcache.Client("127.0.0.1:7470")
    assert str(absent) in str(raised.value)


@pytest.mark.parametrize("token", ["two words", "caf\u00e9", "tab\there"])
def test_unsendable_token_is_refused_before_any_call(token):
    with pytest.raises(matcache.InvalidArgumentError) as raised:
        matcache.Client("unix:/nonexistent/sock", token=token)
    assert isinstance(raised.value, ValueError)
    assert "token" in str(raised.value)


def test_unauthenticated_says_how_to_pass_a_token(refusing):
    server = refusing(grpc.StatusCode.UNAUTHENTICATED)
    with pytest.raises(PermissionError) as raised:
        matcache.Client(server.address).delete("x")
    error = raised.value
    assert isinstance(error, matcache.UnauthenticatedError)
    assert isinstance(error, matcache.PermissionDeniedError)
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert "refused by the stand-in" in str(error)
    assert "token=" in str(error) and f"${channel.TOKEN_ENV}" in str(error)


def test_permission_denied_is_not_unauthenticated(refusing):
    server = refusing(grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(matcache.PermissionDeniedError) as raised:
        matcache.Client(server.address, token="wrong").delete("x")
    assert not isinstance(raised.value, matcache.UnauthenticatedError)
    assert str(raised.value) == "refused by the stand-in"


@pytest.mark.parametrize("options", [
    {"tls_ca": "ca.pem"},
    {"tls_cert": "c.pem", "tls_key": "k.pem"},
    {"tls_ca": "ca.pem", "tls_cert": "c.pem", "tls_key": "k.pem"},
])
def test_tls_options_with_a_unix_socket_are_refused(options):
    with pytest.raises(ValueError) as raised:
        matcache.Client("unix:/tmp/m.sock", **options)
    message = str(raised.value)
    assert "unix sockets are plaintext" in message
    assert all(option in message for option in options)


def test_tls_environment_is_ignored_for_a_unix_socket(monkeypatch):
    monkeypatch.setenv(channel.TLS_CA_ENV, "/nonexistent/ca.pem")
    with matcache.Client("unix:/nonexistent/sock") as c:
        assert c.tls is None


def test_tls_environment_applies_to_tcp(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"")
    monkeypatch.setenv(channel.TLS_CA_ENV, str(ca))
    monkeypatch.delenv(channel.TLS_CERT_ENV, raising=False)
    monkeypatch.delenv(channel.TLS_KEY_ENV, raising=False)
    with matcache.Client("127.0.0.1:1") as c:
        assert c.tls == channel.TlsFiles(str(ca), None, None)


@pytest.mark.parametrize("options, complaint", [
    ({"tls_ca": "ca.pem", "tls_cert": "c.pem"}, "both tls_cert and tls_key"),
    ({"tls_ca": "ca.pem", "tls_key": "k.pem"}, "both tls_cert and tls_key"),
    ({"tls_cert": "c.pem", "tls_key": "k.pem"}, "give the server's CA"),
])
def test_incomplete_tls_options_are_refused(monkeypatch, options, complaint):
    monkeypatch.delenv(channel.TLS_CA_ENV, raising=False)
    with pytest.raises(matcache.InvalidArgumentError) as raised:
        matcache.Client("127.0.0.1:1", **options)
    assert complaint in str(raised.value)


def test_unreadable_ca_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        matcache.Client("127.0.0.1:1", tls_ca=str(tmp_path / "missing.pem"))


def test_cli_passes_the_token(refusing, capsys):
    server = refusing(grpc.StatusCode.PERMISSION_DENIED)
    status = cli.main(["--address", server.address, "--token", "t0ken", "ls"])
    assert status == 1
    assert server.authorizations() == {"List": "Bearer t0ken"}
    assert capsys.readouterr().err == (
        "matcache: error: refused by the stand-in\n")


def test_cli_without_token_says_how_to_pass_one(refusing, capsys):
    server = refusing(grpc.StatusCode.UNAUTHENTICATED)
    assert cli.main(["--address", server.address, "rm", "x"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("matcache: error: refused by the stand-in")
    assert "--token" in error and f"${channel.TOKEN_ENV}" in error


def test_cli_refuses_tls_with_a_unix_socket(capsys):
    status = cli.main(["--address", "unix:/tmp/m.sock", "--tls-ca", "ca.pem",
                       "ls"])
    assert status == 1
    assert "unix sockets are plaintext" in capsys.readouterr().err
