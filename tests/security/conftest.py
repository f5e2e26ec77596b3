"""Fixtures of the security suite: servers with access control, real OS
users, tokens and TLS certificates.

Tests needing OS users skip, saying why, unless run as root: the only
reason a test here skips. A missing tool is an error, not a skip: openssl
comes with deploy/install-deps.sh, useradd and setpriv with every Debian.
The servers run as the test process's user (root for those tests), which is
what the group and mode checks are about: other users' view of its files.
"""

import contextlib
import os
import pathlib
import secrets
import shutil
import sys
import tempfile

import pytest

_TESTS = pathlib.Path(__file__).resolve().parents[1]
# probe, osusers and certs here, and the server launcher in tests/python.
sys.path[:0] = [str(_TESTS / "security"), str(_TESTS / "python")]

import certs  # noqa: E402
import osusers  # noqa: E402
from serverproc import ServerProcess  # noqa: E402


@pytest.fixture
def no_client_settings(monkeypatch):
    """Clears the environment variables through which clients find tokens
    and TLS files, for tests that say exactly what each client gets."""
    for variable in ("MATCACHE_TOKEN", "MATCACHE_TOKEN_FILE",
                     "MATCACHE_TLS_CA", "MATCACHE_TLS_CERT",
                     "MATCACHE_TLS_KEY"):
        monkeypatch.delenv(variable, raising=False)


class Servers:
    """Makes ServerProcesses laid out as on a shared host, and removes
    their directories at the end:

    - workdir (mode 0755): the log, token files, and the directory "sock"
      that the server creates for its socket (mode 0750 and its group with
      --group, else 0700);
    - shm_dir, under /dev/shm, mode 1777 like /dev/shm itself: every user
      may create files there (so a squatter can), and the sticky bit keeps
      everyone but a file's owner (and root) from renaming or unlinking it.
    """

    def __init__(self, stack):
        self._stack = stack

    def _directory(self, parent=None, mode=0o755):
        path = pathlib.Path(tempfile.mkdtemp(prefix="matcache-security-",
                                             dir=parent))
        self._stack.callback(shutil.rmtree, path, ignore_errors=True)
        path.chmod(mode)
        return path

    def new(self, *args, listen=()):
        """A ServerProcess (not started) with the extra flags `args` and
        extra addresses `listen`."""
        workdir = self._directory()
        server = ServerProcess(
            workdir, self._directory("/dev/shm", 0o1777),
            f"s{secrets.token_hex(4)}", args, listen=listen,
            socket=workdir / "sock" / "m.sock")
        self._stack.callback(server.kill)
        return server

    def start(self, *args, listen=()):
        """new(), started."""
        server = self.new(*args, listen=listen)
        server.start()
        return server


@pytest.fixture
def servers():
    """A Servers whose servers and directories go at the end of the test."""
    with contextlib.ExitStack() as stack:
        yield Servers(stack)


@pytest.fixture(scope="session")
def os_users():
    """{"member": OsUser, "writer": OsUser, "outsider": OsUser}, created if
    missing (and left for later runs); skips the test (with the reason)
    unless run as root, fails it where a tool to create them is missing."""
    if os.geteuid() != 0:
        pytest.skip(osusers.NEEDS_ROOT)
    missing = osusers.missing_tool()
    if missing is not None:
        pytest.fail(f"{missing} is not installed, so the OS users cannot be "
                    f"created", pytrace=False)
    osusers.ensure()
    client_dir = osusers.new_client_dir()
    try:
        yield {"member": osusers.OsUser(osusers.MEMBER, client_dir),
               "writer": osusers.OsUser(osusers.WRITER, client_dir),
               "outsider": osusers.OsUser(osusers.OUTSIDER, client_dir)}
    finally:
        shutil.rmtree(client_dir, ignore_errors=True)


@pytest.fixture
def member(os_users):
    return os_users["member"]


@pytest.fixture
def writer(os_users):
    """A second member of the group, whose puts `member` attacks."""
    return os_users["writer"]


@pytest.fixture
def outsider(os_users):
    return os_users["outsider"]


@pytest.fixture(scope="session")
def tls():
    """certs.TestCertificates in a directory removed at the end; fails the
    test without the openssl command."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is missing (Debian package openssl, "
                    "which deploy/install-deps.sh installs)", pytrace=False)
    directory = tempfile.mkdtemp(prefix="matcache-security-certs-")
    try:
        yield certs.TestCertificates(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def name():
    """A matrix name no other test uses."""
    return f"m{secrets.token_hex(6)}"
