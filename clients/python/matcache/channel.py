"""The gRPC channel of a Client: plaintext or TLS, with the access token sent
on every call.

The token travels as call metadata `authorization: Bearer <token>`, added by
a client interceptor rather than by call credentials, which gRPC sends only
over secure channels: matcached's unix sockets are plaintext, and they take
tokens too.
"""

import collections
import os
import re
import stat

import grpc

from matcache.errors import InvalidArgumentError, PermissionDeniedError

TOKEN_ENV = "MATCACHE_TOKEN"
TOKEN_FILE_ENV = "MATCACHE_TOKEN_FILE"
# Where matcached keeps its default socket and, beside it, the access token
# its TCP listeners need: /run/matcache when systemd starts it (the installed
# service), /tmp/matcache when started by hand. Searched in this order; only
# the first can be created by nobody but root.
SERVER_DIRS = ("/run/matcache", "/tmp/matcache")
TLS_CA_ENV = "MATCACHE_TLS_CA"
TLS_CERT_ENV = "MATCACHE_TLS_CERT"
TLS_KEY_ENV = "MATCACHE_TLS_KEY"
# What an HTTP/2 header value can carry as is: visible ASCII, no spaces.
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]+")
_UNIX_SCHEMES = ("unix:", "unix-abstract:")


def resolve_token(token, address):
    """Returns the token to send to `address`: `token`, else $MATCACHE_TOKEN,
    else, for a TCP address, the server's access token from
    $MATCACHE_TOKEN_FILE or server_file("access.token") if this process
    may read it; without surrounding whitespace; None when all are unset or
    blank (and for token=""). InvalidArgumentError if it has characters
    other than visible ASCII; PermissionDeniedError if $MATCACHE_TOKEN_FILE
    names a file that cannot be read."""
    if token is None:
        token = os.environ.get(TOKEN_ENV)
    if token is None and not is_unix(address):
        token = _read_token_file()
    token = (token or "").strip()
    if not token:
        return None
    if not _TOKEN_TEXT.fullmatch(token):
        raise InvalidArgumentError(
            "bad token: only visible ASCII characters (no spaces) can be sent")
    return token


def _read_token_file():
    """The contents of the access token file, or None if the default one
    cannot be read (the server then says what it wants)."""
    named = os.environ.get(TOKEN_FILE_ENV)
    path = named or server_file("access.token")
    if path is None:
        return None
    try:
        with open(path, encoding="ascii") as f:
            return f.read(4096)
    except (OSError, UnicodeDecodeError) as error:
        if named:
            raise PermissionDeniedError(
                f"cannot read ${TOKEN_FILE_ENV}={named}: {error}") from None
        return None


def server_file(name):
    """The path of `name` in the first of SERVER_DIRS that holds it and is
    trusted (see _is_trusted_dir); else in the first that does not hold it
    (where an error then points); None if each holds one but none is
    trusted. A file in a directory another user could have filled is never
    named."""
    paths = [os.path.join(d, name) for d in SERVER_DIRS]
    for directory, path in zip(SERVER_DIRS, paths):
        if _is_trusted_dir(directory) and os.path.exists(path):
            return path
    return next((path for path in paths if not os.path.lexists(path)), None)


def _is_trusted_dir(directory):
    """Whether no user but root and this process's own could have placed a
    file in `directory`: it is a directory, not a symbolic link, that only
    its owner may write to, and its owner is root, this process's user, or
    anyone when only root may write to its parent (as /run)."""
    directory = os.path.abspath(directory)  # no trailing slash: lstat it
    try:
        own = os.lstat(directory)
        parent = os.stat(os.path.dirname(directory))
    except OSError:
        return False
    if not stat.S_ISDIR(own.st_mode) or not _only_owner_writes(own):
        return False
    return (own.st_uid in (0, os.geteuid())
            or (parent.st_uid == 0 and _only_owner_writes(parent)))


def _only_owner_writes(status):
    return not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def is_unix(address):
    """Whether `address` names a unix socket (always plaintext)."""
    return address.startswith(_UNIX_SCHEMES)


class TlsFiles(collections.namedtuple("TlsFiles", ("ca", "cert", "key"))):
    """Paths of the PEM files of a TLS connection: the CA that signs the
    server's certificate, and the client's own certificate and key (both
    None unless the server asks for client certificates)."""

    @classmethod
    def resolve(cls, address, ca=None, cert=None, key=None):
        """Returns the TlsFiles for a connection to `address`, or None for a
        plaintext one. Arguments left None (or empty) default to
        $MATCACHE_TLS_CA, $MATCACHE_TLS_CERT and $MATCACHE_TLS_KEY; TLS is
        on when a CA results. Those variables are ignored for a unix socket,
        whereas arguments given with one raise InvalidArgumentError, as do a
        certificate without its key (or the reverse) and a client
        certificate without a CA."""
        given = {"tls_ca": ca, "tls_cert": cert, "tls_key": key}
        if is_unix(address):
            named = [option for option, value in given.items() if value]
            if named:
                raise InvalidArgumentError(
                    f"{', '.join(named)} given for {address}: unix sockets "
                    f"are plaintext, TLS applies to HOST:PORT addresses only")
            return None
        files = cls(ca or os.environ.get(TLS_CA_ENV) or None,
                    cert or os.environ.get(TLS_CERT_ENV) or None,
                    key or os.environ.get(TLS_KEY_ENV) or None)
        if (files.cert is None) != (files.key is None):
            raise InvalidArgumentError(
                "a client certificate needs both tls_cert and tls_key "
                f"(${TLS_CERT_ENV} and ${TLS_KEY_ENV})")
        if files.ca is None:
            if files.cert is not None:
                raise InvalidArgumentError(
                    "a client certificate is only sent over TLS: give the "
                    f"server's CA as well (tls_ca or ${TLS_CA_ENV})")
            return None
        return files

    def credentials(self):
        """Reads the files (OSError if one cannot be read) and returns the
        grpc.ChannelCredentials."""
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca),
            private_key=_read(self.key),
            certificate_chain=_read(self.cert))


def _read(path):
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


class _CallDetails(
        collections.namedtuple(
            "_CallDetails", ("method", "timeout", "metadata", "credentials",
                             "wait_for_ready", "compression")),
        grpc.ClientCallDetails):
    pass


class _AddMetadata(grpc.UnaryUnaryClientInterceptor,
                   grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor,
                   grpc.StreamStreamClientInterceptor):
    """Adds fixed metadata pairs to every call of every kind."""

    def __init__(self, pairs):
        self._pairs = tuple(pairs)

    def _details(self, details):
        return _CallDetails(
            details.method, details.timeout,
            (*(details.metadata or ()), *self._pairs), details.credentials,
            details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


def open_channel(address, options, token=None, tls=None):
    """Opens a channel to `address` with the grpc `options`.

    Args:
        token: sent as `authorization: Bearer <token>` on every call, or
            None to send none (see resolve_token).
        tls: a TlsFiles for a TLS channel, None for plaintext.
    """
    if tls is None:
        channel = grpc.insecure_channel(address, options=options)
    else:
        channel = grpc.secure_channel(address, tls.credentials(),
                                      options=options)
    if token is None:
        return channel
    return grpc.intercept_channel(
        channel, _AddMetadata([("authorization", f"Bearer {token}")]))
