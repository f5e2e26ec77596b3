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
import shutil
import signal
import subprocess
import sys
import time
import warnings

import numpy as np

import matcache

REPO = pathlib.Path(__file__).resolve().parents[2]
MATCACHED = os.environ.get("MATCACHED", str(REPO / "build" / "bin" / "matcached"))
CRASH_ENV = "MATCACHE_CRASH_POINT"
STARTUP_SECONDS = 20
# The README promises an exit within the 5 s grace period; a slower exit is
# reported as a warning. The hard limit is well above the ~10 s that
# matcached (gRPC 1.51) can take to exit after serving a streamed Read of a
# few MiB: ~grpc::Server joins an executor thread blocked in a 10 s poll.
PROMISED_STOP_SECONDS = 5
STOP_SECONDS = 30
CRASH_SECONDS = 15
_SETPRIV = shutil.which("setpriv")


def _die_with_us(command):
    """`command` prefixed so that the process gets SIGKILL when we exit."""
    if _SETPRIV is None:
        return list(command)
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *command]


def crash_points_in_sources():
    """Names of every CrashPoint("...") call in the server's sources."""
    names = set()
    for path in (REPO / "server").rglob("*.cc"):
        names.update(re.findall(r'CrashPoint\("(\w+)"\)', path.read_text()))
    return names


class Server:
    """One matcached on a unix socket in `workdir`, serving `shm_dir` under
    `namespace`; it can be started again (on the same socket, directory and
    namespace) after it stopped or crashed. `args` are extra flags for every
    run; start() takes more for one run."""

    def __init__(self, workdir, shm_dir, namespace, args=()):
        self.workdir = pathlib.Path(workdir)
        self.shm_dir = pathlib.Path(shm_dir)
        self.namespace = namespace
        self.address = f"unix:{self.workdir / 'm.sock'}"
        self.args = list(args)
        self.process = None
        self._log_path = self.workdir / "matcached.log"
        self._run_start = 0

    def command(self, extra=()):
        return [MATCACHED, "--listen", self.address, "--shm_dir",
                str(self.shm_dir), "--namespace", self.namespace,
                *self.args, *extra]

    def log(self):
        """What every run of the server wrote to stderr."""
        if not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    def run_log(self):
        """What the latest run wrote to stderr."""
        with open(self._log_path, "rb") as f:
            f.seek(self._run_start)
            return f.read().decode(errors="replace")

    def _launch(self, extra, crash_point):
        assert not self.running(), "the server is already running"
        env = dict(os.environ)
        env.pop(CRASH_ENV, None)
        if crash_point is not None:
            env[CRASH_ENV] = crash_point
        self._run_start = (self._log_path.stat().st_size
                           if self._log_path.exists() else 0)
        with open(self._log_path, "ab") as log:
            log.write(f"==== run: {CRASH_ENV}={crash_point or ''} "
                      f"{' '.join(extra)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                _die_with_us(self.command(extra)), env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def start(self, *extra, crash_point=None):
        """Starts a run and waits until it answers Stats. RuntimeError (with
        the log) if it exits first or stays silent for STARTUP_SECONDS."""
        self._launch(extra, crash_point)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"matcached exited with {self.process.returncode} while "
                    f"starting:\n{self.run_log()}")
            try:
                with matcache.Client(self.address, timeout=1) as client:
                    client.stats()
                return
            except matcache.UnavailableError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"matcached did not answer within {STARTUP_SECONDS} "
                        f"s:\n{self.run_log()}") from None
                time.sleep(0.02)

    def start_and_wait_exit(self, *extra, crash_point=None,
                            timeout=CRASH_SECONDS):
        """Starts a run that is expected to die on its own (a crash point
        during recovery) and returns its exit status; kills it and returns
        None if it is still running after `timeout`."""
        self._launch(extra, crash_point)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=CRASH_SECONDS):
        """Waits for the current run to exit and returns its status; kills
        it and returns None if it is still running after `timeout`."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stop(self):
        """SIGTERM; returns the exit status. Kills the server and raises
        RuntimeError if it ignores SIGTERM for STOP_SECONDS."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(
                f"matcached ignored SIGTERM for {STOP_SECONDS} s:\n"
                f"{self.run_log()}") from None
        elapsed = time.monotonic() - start
        if elapsed > PROMISED_STOP_SECONDS:
            warnings.warn(f"matcached took {elapsed:.1f} s to exit after "
                          f"SIGTERM (promised: {PROMISED_STOP_SECONDS} s)")
        return status

    def kill(self):
        """SIGKILL, reaped; harmless if not running."""
        if self.running():
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def running(self):
        return self.process is not None and self.process.poll() is None

    def client(self, local=None, timeout=30):
        return matcache.Client(self.address, local=local, timeout=timeout)

    def dir_state(self):
        return DirState(self.shm_dir, self.namespace)


# <name>.<generation>.shm, with a valid matrix name (DESIGN §3).
_PUBLISHED = r"(?!\.)[A-Za-z0-9_.-]{1,200}\.[1-9][0-9]*\.shm"


class DirState:
    """The segment files of one namespace in a shm directory, by kind."""

    def __init__(self, shm_dir, namespace):
        self.published = {}   # matrix name -> sorted generations
        self.staging = []     # file names
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
            elif re.fullmatch(_PUBLISHED, rest):
                name, generation = rest[:-len(".shm")].rsplit(".", 1)
                self.published.setdefault(name, []).append(int(generation))
            else:
                self.other.append(entry)
        for generations in self.published.values():
            generations.sort()

    def leftovers(self):
        """Staging files plus superseded generations: recovery's work."""
        return len(self.staging) + sum(
            len(g) - 1 for g in self.published.values())

    def __repr__(self):
        return (f"DirState(published={self.published}, staging="
                f"{self.staging}, quarantined={self.quarantined}, "
                f"other={self.other})")


def snapshot(shm_dir, namespace):
    """{file name: (inode, size, mtime_ns)} of the namespace's segment files
    (not the lock file)."""
    result = {}
    for entry in os.listdir(shm_dir):
        if entry.startswith(namespace + ".") and entry != namespace + ".lock":
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
    """A Python subprocess running `code` with $MATCACHE_ADDRESS set, whose
    stdout lines can be awaited. Its stderr goes to a file (for messages)."""

    def __init__(self, code, address, workdir):
        env = dict(os.environ, MATCACHE_ADDRESS=address)
        env.pop(CRASH_ENV, None)
        self._stderr_path = pathlib.Path(workdir) / f"child-{time.monotonic_ns()}.err"
        with open(self._stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                _die_with_us([sys.executable, "-c", code]), env=env,
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


def mapping_of(array):
    """(permissions, inode, path) of this process's mapping holding the
    first byte of `array`, from /proc/self/maps."""
    address = array.__array_interface__["data"][0]
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            low, high = (int(x, 16) for x in fields[0].split("-"))
            if low <= address < high:
                path = fields[5].rstrip("\n") if len(fields) > 5 else ""
                return fields[1], int(fields[4]), path
    raise AssertionError(f"address {address:#x} is in no mapping")
