"""Real OS users for the security tests, and running probe.py as one.

The group GROUP and the users MEMBER and WRITER (in GROUP) and OUTSIDER
(not) are
system users without a home or a login shell, each with a primary group of
its own name. ensure() creates whatever is missing and leaves them for later
runs: removing them at the end would pull them from under a run going on at
the same time.
"""

import grp
import json
import pathlib
import pwd
import shutil
import subprocess
import sys

from publiccopy import public_copy

GROUP = "mctest"
MEMBER = "mctest-member"
# A second member, to play the writer whose put MEMBER must not touch.
WRITER = "mctest-writer"
OUTSIDER = "mctest-outsider"
_TESTS = pathlib.Path(__file__).resolve().parents[1]
# What probe.py needs besides matcache.
_HELPERS = [_TESTS / "security" / "probe.py", _TESTS / "python" / "procmaps.py",
            _TESTS / "python" / "stagingfd.py"]


NEEDS_ROOT = ("creating OS users (groupadd, useradd) needs root; run the "
              "security suite as root to test ownership and squatting")


def missing_tool():
    """The first tool needed to make users and run code as them that is not
    installed, or None."""
    for tool in ("groupadd", "useradd", "usermod", "setpriv"):
        if shutil.which(tool) is None:
            return tool
    return None


# The exit status of groupadd and useradd for a name that exists (a run
# going on at the same time made it first).
_NAME_TAKEN = 9


def _create(*command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, _NAME_TAKEN):
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr}")


def _ensure_group(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        _create("groupadd", "--system", name)


def _ensure_user(name, extra_groups):
    _ensure_group(name)
    try:
        pwd.getpwnam(name)
    except KeyError:
        _create("useradd", "--system", "--no-create-home", "--no-user-group",
                "--gid", name, "--shell", "/usr/sbin/nologin", name)
    for group in extra_groups:
        if name not in grp.getgrnam(group).gr_mem:
            subprocess.run(["usermod", "--append", "--groups", group, name],
                           check=True, capture_output=True)


def ensure():
    """Creates GROUP, MEMBER, WRITER and OUTSIDER where missing."""
    _ensure_group(GROUP)
    _ensure_user(MEMBER, [GROUP])
    _ensure_user(WRITER, [GROUP])
    _ensure_user(OUTSIDER, [])


def new_client_dir():
    """A fresh directory that every user can reach and read, holding a copy
    of the matcache package (with its stubs), probe.py and procmaps.py:
    the repository itself may sit where other users cannot read."""
    return public_copy(*_HELPERS)


class OsUser:
    """One OS user running probe.py from a world-readable copy of the
    client in `client_dir`, with exactly its own groups (none inherited
    from the test process)."""

    def __init__(self, name, client_dir):
        entry = pwd.getpwnam(name)
        self.name = name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid
        self.groups = [g.gr_gid for g in grp.getgrall() if name in g.gr_mem]
        self.client_dir = pathlib.Path(client_dir)

    def _as_me(self, command):
        """`command` run as this user through setpriv. Not Popen's user=,
        group= and extra_groups=: those make Python fork() rather than
        vfork(), and gRPC's fork handlers can then deadlock this process
        while its channels are busy."""
        groups = (["--groups", ",".join(map(str, self.groups))]
                  if self.groups else ["--clear-groups"])
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                *groups, "--", *command]

    def run(self, *steps, address, token=None, token_file=None):
        """Runs probe.py with `steps` (lists: [operation, arguments...])
        against `address`, with `token` as $MATCACHE_TOKEN and `token_file`
        as $MATCACHE_TOKEN_FILE (where given); returns the list of its
        results. AssertionError if the probe itself fails."""
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(self.client_dir),
               "MATCACHE_ADDRESS": address}
        if token is not None:
            env["MATCACHE_TOKEN"] = token
        if token_file is not None:
            env["MATCACHE_TOKEN_FILE"] = str(token_file)
        done = subprocess.run(
            self._as_me([sys.executable, str(self.client_dir / "probe.py"),
                         *(json.dumps(step) for step in steps)]),
            env=env, cwd="/", capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (
            f"probe as {self.name} exited with {done.returncode}:\n"
            f"{done.stderr}")
        return json.loads(done.stdout)
