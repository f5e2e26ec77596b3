"""Helpers of the fault-injection suite: matcached processes that can be
crashed on purpose, client subprocesses that can be killed mid-way, and
inspection of a shm directory.

Everything started here is launched under `setpriv --pdeathsig KILL`, so it
dies with the test process even if pytest itself is killed before its
fixtures can clean up.
"""

import json
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import time

import numpy as np

import matcache
from serverproc import REPO, ServerProcess, die_with_us

CRASH_ENV = "MATCACHE_CRASH_POINT"
# Modules that children's code may import (procmaps).
_HELPERS = REPO / "tests" / "python"
CRASH_SECONDS = 15


def crash_points_in_sources():
    """Names of every CrashPoint("...") call in the server's sources."""
    names = set()
    for path in (REPO / "server").rglob("*.cc"):
        names.update(re.findall(r'CrashPoint\("(\w+)"\)', path.read_text()))
    return names


def _crash_env(crash_point):
    """Our environment, with $MATCACHE_CRASH_POINT set to `crash_point`
    (unset for None)."""
    env = dict(os.environ)
    env.pop(CRASH_ENV, None)
    if crash_point is not None:
        env[CRASH_ENV] = crash_point
    return env


class Server(ServerProcess):
    """A ServerProcess whose runs can be told to crash at a crash point."""

    def start(self, *extra, crash_point=None):
        """Starts a run (crashing at `crash_point`, if given) and waits
        until it answers (see ServerProcess.start)."""
        super().start(*extra, env=_crash_env(crash_point))

    def start_and_wait_exit(self, *extra, crash_point=None,
                            timeout=CRASH_SECONDS):
        """Starts a run that is expected to die on its own (a crash point
        during recovery) and returns its exit status; kills it and returns
        None if it is still running after `timeout`."""
        self.launch(*extra, env=_crash_env(crash_point))
        return self.wait_exit(timeout)

    def client(self, local=None, timeout=30):
        return matcache.Client(self.address, local=local, timeout=timeout)

    def dir_state(self):
        return DirState(self.segment_dir, self.namespace)


# <name>.<generation>.shm, with a valid matrix name (docs/architecture.md §3).
_PUBLISHED = r"(?!\.)[A-Za-z0-9_.-]{1,200}\.[1-9][0-9]*\.shm"


class DirState:
    """The segment files of one namespace in a shm directory, by kind."""

    def __init__(self, shm_dir, namespace):
        self.published = {}   # matrix name -> sorted generations
        self.staging = []     # file names
        self.spares = []      # file names
        self.quarantined = []
        self.other = []       # anything else of the namespace but the lock
        prefix = namespace + "."
        for entry in sorted(os.listdir(shm_dir)):
            if not entry.startswith(prefix) or entry == prefix + "lock":
                continue
            rest = entry[len(prefix):]
            if entry.endswith(".quarantined"):
                self.quarantined.append(entry)
            elif entry.endswith(".staging.shm"):
                self.staging.append(entry)
            elif re.fullmatch(r"[0-9]+\.spare\.shm", rest):
                self.spares.append(entry)
            elif re.fullmatch(_PUBLISHED, rest):
                name, generation = rest[:-len(".shm")].rsplit(".", 1)
                self.published.setdefault(name, []).append(int(generation))
            else:
                self.other.append(entry)
        for generations in self.published.values():
            generations.sort()

    def leftovers(self):
        """Staging and spare files plus superseded generations: recovery's
        work."""
        return len(self.staging) + len(self.spares) + sum(
            len(g) - 1 for g in self.published.values())

    def __repr__(self):
        return (f"DirState(published={self.published}, staging="
                f"{self.staging}, spares={self.spares}, "
                f"quarantined={self.quarantined}, "
                f"other={self.other})")


def snapshot(shm_dir, namespace):
    """{file name: (inode, size, mtime_ns)} of the namespace's segment files
    (not the lock file, nor the spare file, which a restart drops)."""
    result = {}
    for entry in os.listdir(shm_dir):
        if (entry.startswith(namespace + ".") and entry != namespace + ".lock"
                and not entry.endswith(".spare.shm")):
            st = os.stat(os.path.join(shm_dir, entry))
            result[entry] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return result


def catalogue(client):
    """{name: (generation, id, checksum, shape, dtype, path)} as listed."""
    return {m.name: (m.generation, m.id, m.checksum, m.shape, m.dtype, m.path)
            for m in client.list()}


def same_array(got, want):
    """Whether `got` has exactly `want`'s shape, dtype and bytes."""
    want = np.asarray(want)
    return (got.shape == want.shape and got.dtype == want.dtype.newbyteorder("<")
            and np.ascontiguousarray(got).tobytes()
            == np.ascontiguousarray(want).tobytes())


class Child:
    """A Python subprocess running `code` with $MATCACHE_ADDRESS set and
    tests/python importable, whose stdout lines can be awaited. Its stderr
    goes to a file (for messages)."""

    def __init__(self, code, address, workdir):
        env = dict(_crash_env(None), MATCACHE_ADDRESS=address,
                   PYTHONPATH=os.pathsep.join(
                       [str(_HELPERS), os.environ.get("PYTHONPATH", "")]))
        self._stderr_path = pathlib.Path(workdir) / f"child-{time.monotonic_ns()}.err"
        with open(self._stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                die_with_us([sys.executable, "-c", code]), env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                bufsize=0)
        self._buffer = b""
        self.lines = []

    def stderr(self):
        return self._stderr_path.read_text(errors="replace")

    def _fill(self, timeout):
        """Reads what stdout has within `timeout`; False at end of file."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            return True
        chunk = os.read(self.process.stdout.fileno(), 65536)
        if not chunk:
            return False
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        return True

    def expect(self, predicate, timeout=30, what="a line"):
        """Returns the first not yet consumed stdout line for which
        `predicate(line)` holds; AssertionError (with the child's stderr) if
        the child exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            while self.lines:
                line = self.lines.pop(0)
                if predicate(line):
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"child printed no {what} within {timeout} s; "
                    f"stderr:\n{self.stderr()}")
            if not self._fill(min(remaining, 0.5)) and not self.lines:
                self.process.wait()
                raise AssertionError(
                    f"child exited ({self.process.returncode}) before "
                    f"printing {what}; stderr:\n{self.stderr()}")

    def expect_json(self, key, timeout=30):
        """The first stdout line that is a JSON object with `key`."""
        def matches(line):
            try:
                return key in json.loads(line)
            except ValueError:
                return False
        return json.loads(self.expect(matches, timeout, f"JSON with {key!r}"))

    def send(self, text):
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def kill9(self):
        """SIGKILL; returns the exit status."""
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(10)

    def wait(self, timeout=60):
        return self.process.wait(timeout)

    def running(self):
        return self.process.poll() is None


def wait_until(condition, timeout, interval=0.05):
    """Polls `condition()` until true (returns the elapsed seconds) or
    `timeout` seconds pass (returns None)."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)
