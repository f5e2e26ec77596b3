"""The Debian package, as root: `cpack -G DEB` builds it, `dpkg -i`
installs it, systemd-analyze verifies the units it installed, the daemon's
user and the group exist, the commands and the Python package work from
anywhere, the installed matcached run as the unit runs it serves a member
of the group with zero copies, a C++ project builds against the installed
client, and removing and purging leave what they should."""

import json
import os
import pathlib
import pwd
import grp
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from deploysupport import MEMBER_CLIENT, VERSION, build_consumer, run

UNITS = ["/lib/systemd/system/matcached.service",
         "/lib/systemd/system/var-lib-matcache-shm.mount"]
FLAGS = "/etc/matcache/matcached.flags"
MEMBER = "matcachetest"
STARTUP_SECONDS = 20

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="installs a package: needs root")


def _installed():
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "matcache"],
                          capture_output=True, text=True)
    return "installed" in done.stdout or "config-files" in done.stdout


@pytest.fixture(scope="module")
def installed(deb):
    """The package installed with dpkg -i; purged at the end."""
    if _installed():  # left by an earlier run that was killed
        run(["dpkg", "--purge", "matcache"])
    run(["dpkg", "-i", deb])
    try:
        yield deb
    finally:
        if _installed():
            run(["dpkg", "--purge", "matcache"])


@pytest.fixture
def member():
    """A user in the group matcache (and nothing else), removed at the end."""
    subprocess.run(["userdel", MEMBER], capture_output=True)
    run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
         "--groups", "matcache", MEMBER])
    try:
        yield pwd.getpwnam(MEMBER)
    finally:
        run(["userdel", MEMBER])


def test_contents_and_dependencies(deb):
    listing = run(["dpkg-deb", "--contents", deb])
    files = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    for path in ["/usr/bin/matcached", "/usr/bin/matcache",
                 "/usr/lib/python3/dist-packages/matcache/__init__.py",
                 "/usr/lib/python3/dist-packages/matcache/_version.py",
                 "/usr/lib/python3/dist-packages/matcache/v1/matcache_pb2.py",
                 "/usr/lib/python3/dist-packages/matcache/v1/matcache_pb2_grpc.py",
                 f"/usr/lib/libmatcache_client.so.{VERSION}",
                 "/usr/include/matcache/client.h",
                 "/usr/lib/cmake/matcache/matcacheConfig.cmake",
                 "/usr/lib/sysusers.d/matcache.conf",
                 "/usr/lib/tmpfiles.d/matcache.conf", FLAGS, *UNITS]:
        assert path in files, path
    control = run(["dpkg-deb", "--field", deb, "Depends"])
    depends = {d.strip().split()[0] for d in control.split(",")}
    # From dpkg-shlibdeps, and the ones given by hand.
    assert {"libc6", "libgrpc++1.51", "libsystemd0", "python3-grpcio",
            "python3-numpy", "procps"} <= depends, control
    conffiles = subprocess.run(["dpkg-deb", "--info", deb, "conffiles"],
                               capture_output=True, text=True).stdout
    assert conffiles.split() == [FLAGS]


def test_installed_units_verify_without_warnings(installed):
    done = subprocess.run(["systemd-analyze", "verify", *UNITS],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""


def test_daemon_user_is_a_system_user_and_the_group_exists(installed):
    user = pwd.getpwnam("matcached")
    assert 0 < user.pw_uid < 1000
    assert user.pw_shell == "/usr/sbin/nologin"
    assert "matcached" in grp.getgrnam("matcache").gr_mem


def test_commands_and_python_package_work_from_anywhere(installed):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    version = run(["/usr/bin/python3", "-c",
                   "import matcache; print(matcache.__version__)"],
                  cwd="/", env=env)
    assert version.strip() == VERSION
    assert "usage" in run(["/usr/bin/matcache", "--help"], cwd="/", env=env).lower()
    assert run(["/usr/bin/matcached", "--version"]).strip() == f"matcached {VERSION}"
    # Under systemd the socket is in the unit's RuntimeDirectory.
    help_text = subprocess.run(  # --help exits with 1
        ["/usr/bin/matcached", "--help"], capture_output=True, text=True,
        env=dict(env, RUNTIME_DIRECTORY="/run/matcache")).stdout
    assert "unix:/run/matcache/matcached.sock" in help_text


def test_a_consumer_builds_against_the_installed_client(installed, tmp_path):
    program = build_consumer("/usr", tmp_path / "consumer")
    assert re.fullmatch(r"status: (NOT_FOUND|UNAVAILABLE): .+\n",
                        run([program]))




def test_installed_server_run_as_the_unit_serves_the_group_zero_copy(
        installed, member):
    daemon = pwd.getpwnam("matcached")
    group = grp.getgrnam("matcache")
    # The unit's RuntimeDirectory= and the tmpfs, in temporary places, owned
    # as systemd and ExecStartPre make them.
    top = pathlib.Path(tempfile.mkdtemp(prefix="matcache-deb-"))
    shm_top = pathlib.Path(tempfile.mkdtemp(prefix="matcache-deb-", dir="/dev/shm"))
    try:
        for directory in (top, shm_top):
            directory.chmod(0o755)
        runtime, shm_dir = top / "run", shm_top / "shm"
        for directory in (runtime, shm_dir):
            directory.mkdir(mode=0o750)
            os.chown(directory, daemon.pw_uid, group.gr_gid)
        server = subprocess.Popen(
            ["setpriv", f"--reuid={daemon.pw_uid}", f"--regid={group.gr_gid}",
             "--init-groups", "--", "/usr/bin/matcached",
             f"--flagfile={FLAGS}", f"--shm_dir={shm_dir}",
             f"--listen=unix:{runtime}/matcached.sock", "--http_listen=",
             ],
            env={"RUNTIME_DIRECTORY": str(runtime), "PATH": "/usr/bin:/bin"},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, umask=0o077)
        try:
            socket_path = runtime / "matcached.sock"
            deadline = time.monotonic() + STARTUP_SECONDS
            while not socket_path.exists():
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "no socket"
                time.sleep(0.05)
            # What systemd makes of RuntimeDirectoryMode= and --group.
            st = runtime.stat()
            assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (
                daemon.pw_uid, group.gr_gid, 0o750)
            output = run(
                ["setpriv", f"--reuid={member.pw_uid}",
                 f"--regid={member.pw_gid}", "--init-groups", "--",
                 "/usr/bin/python3", MEMBER_CLIENT,
                 f"unix:{socket_path}", str(shm_dir)],
                cwd="/", env={"PATH": "/usr/bin:/bin"}, timeout=60)
            result = json.loads(output)
            assert result == {"sum": float(sum(range(1 << 20))),
                              "writeable": False, "mapped": True}
            segments = list(shm_dir.glob("matcache.shared.*.shm"))
            assert len(segments) == 1
            assert segments[0].stat().st_gid == group.gr_gid
        finally:
            server.send_signal(signal.SIGTERM)
            log = server.communicate(timeout=30)[0]
        assert server.returncode == 0, log
        assert "matcached serving on unix:" in log
    finally:
        shutil.rmtree(top, ignore_errors=True)
        shutil.rmtree(shm_top, ignore_errors=True)


def test_remove_keeps_the_configuration_and_purge_removes_it(installed):
    # A segment in the package's shm directory (as if the tmpfs held one).
    segment = pathlib.Path("/var/lib/matcache/shm/matcache.kept.1.shm")
    segment.write_bytes(b"segment")
    try:
        _remove_and_purge(segment)
    finally:
        segment.unlink(missing_ok=True)
        for directory in (segment.parent, segment.parent.parent):
            if directory.exists() and not any(directory.iterdir()):
                directory.rmdir()


def _remove_and_purge(segment):
    run(["dpkg", "--remove", "matcache"])
    assert segment.read_bytes() == b"segment"
    assert not pathlib.Path("/usr/bin/matcached").exists()
    assert not pathlib.Path(UNITS[0]).exists()
    assert not pathlib.Path("/usr/lib/python3/dist-packages/matcache").exists()
    assert pathlib.Path(FLAGS).exists()
    run(["dpkg", "--purge", "matcache"])
    assert not _installed()
    assert not pathlib.Path("/etc/matcache").exists()
    assert segment.read_bytes() == b"segment"
    # Debian keeps system users, so that their ids are not reused.
    assert pwd.getpwnam("matcached")
