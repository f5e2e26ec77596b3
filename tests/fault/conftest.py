"""The `lab` fixture: servers, client subprocesses, directories and tmpfs
mounts for one test, all removed at its end (also when it fails), in the
order that makes that possible: clients, servers, mounts, directories."""

import glob
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

import pytest

_TESTS = pathlib.Path(__file__).resolve().parents[1]
# faultlib here, and the server launcher it builds on in tests/python.
sys.path[:0] = [str(_TESTS / "fault"), str(_TESTS / "python")]

from faultlib import Child, Server  # noqa: E402


# Every directory and mount point made here starts with one of these and
# our pid, so that a later run can remove what a killed run left behind.
_PREFIXES = ("matcache-fault-", "matcache-tmpfs-")
_MINE = f"{os.getpid()}-"


def _sweep_leftovers():
    """Unmounts and removes the directories of runs that were killed
    before they could clean up (their pid is gone)."""
    mounts = set()
    with open("/proc/self/mounts") as table:
        for line in table:
            mounts.add(line.split()[1])
    for parent in ("/dev/shm", tempfile.gettempdir()):
        for path in glob.glob(os.path.join(parent, "matcache-*-*-*")):
            match = re.fullmatch(r"matcache-(fault|tmpfs)-(\d+)-.*",
                                 os.path.basename(path))
            if match is None or os.path.exists(f"/proc/{match[2]}"):
                continue
            if path in mounts:
                subprocess.run(["umount", "-l", path], capture_output=True)
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _swept():
    _sweep_leftovers()


class Lab:
    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix=_PREFIXES[0] + _MINE)
        self._dirs = [self.workdir]
        self._servers = []
        self._children = []
        self._mounts = []

    def shm_dir(self, parent="/dev/shm"):
        """A fresh directory for segments (removed at the end)."""
        path = tempfile.mkdtemp(prefix=_PREFIXES[0] + _MINE, dir=parent)
        self._dirs.append(path)
        return path

    def server(self, *args, shm_dir=None):
        """A Server (not started) on a fresh directory (or `shm_dir`) and a
        fresh namespace."""
        workdir = tempfile.mkdtemp(prefix="srv-", dir=self.workdir)
        server = Server(workdir, shm_dir or self.shm_dir(),
                        f"f{secrets.token_hex(4)}", args)
        self._servers.append(server)
        return server

    def child(self, code, address):
        """A started Child running `code`."""
        child = Child(code, address, self.workdir)
        self._children.append(child)
        return child

    def mount_tmpfs(self, size):
        """Mounts a tmpfs of `size` (e.g. "64m") on a fresh directory and
        returns it; unmounted at the end. Skips the test when not root."""
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root; run the fault "
                        "suite as root to test a full filesystem")
        path = tempfile.mkdtemp(prefix=_PREFIXES[1] + _MINE)
        self._dirs.append(path)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700",
                        "tmpfs", path], check=True, capture_output=True)
        self._mounts.append(path)
        return path

    def cleanup(self):
        errors = []
        for child in self._children:
            if child.running():
                child.process.kill()
            child.process.wait()
            for stream in (child.process.stdin, child.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        for server in self._servers:
            server.kill()
        for path in reversed(self._mounts):
            done = subprocess.run(["umount", path], capture_output=True)
            if done.returncode != 0:
                # Still mapped by this process (a failed test's traceback
                # keeps arrays alive): detach now, freed at the last unmap.
                lazy = subprocess.run(["umount", "-l", path],
                                      capture_output=True, text=True)
                if lazy.returncode != 0:
                    errors.append(f"cannot unmount {path}: {lazy.stderr}")
        for path in reversed(self._dirs):
            shutil.rmtree(path, ignore_errors=True)
        if errors:
            raise RuntimeError("; ".join(errors))


@pytest.fixture
def lab():
    lab = Lab()
    try:
        yield lab
    finally:
        lab.cleanup()
