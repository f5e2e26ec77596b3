"""Running real matcached servers and client subprocesses for the tests
(tests/python, and the fault and security suites, which import this file).

Servers are launched under `setpriv --pdeathsig KILL` where available, so
they die with the test process even if pytest itself is killed before its
fixtures can clean up.
"""

import os
import pathlib
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import matcache

REPO = pathlib.Path(__file__).resolve().parents[2]
MATCACHED = os.environ.get("MATCACHED", str(REPO / "build" / "bin" / "matcached"))
CLI_SCRIPT = REPO / "clients" / "python" / "bin" / "matcache"
STARTUP_SECONDS = 20
# The README promises an exit within the 5 s grace period given to running
# calls, plus the removal of staging files: a slower exit fails the test.
# Past STOP_SECONDS the server is killed.
PROMISED_STOP_SECONDS = 5 + 2
STOP_SECONDS = 20
_SETPRIV = shutil.which("setpriv")
_SERVING = re.compile(r"matcached serving on (.*)")
_HTTP = re.compile(r"HTTP gateway on (.*)")


def die_with_us(command):
    """`command` prefixed so that the process gets SIGKILL when we exit."""
    if _SETPRIV is None:
        return list(command)
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *command]


class ServerProcess:
    """One matcached listening on the unix socket `socket` (default
    `workdir`/m.sock) and on the extra addresses `listen` (HOST:PORT; port 0
    picks a free one, see tcp_addresses), serving `shm_dir` under
    `namespace`, with the extra flags `args` on every run. It can be
    stopped (or killed) and started again on the same socket, directory and
    namespace. Every run appends its stderr to one log in `workdir`."""

    def __init__(self, workdir, shm_dir, namespace, args=(), listen=(),
                 socket=None):
        self.workdir = pathlib.Path(workdir)
        self.shm_dir = pathlib.Path(shm_dir)
        self.namespace = namespace
        self.socket = pathlib.Path(socket or self.workdir / "m.sock")
        self.address = f"unix:{self.socket}"
        # The access token TCP calls need (none with token files given).
        self.token_file = self.socket.parent / "access.token"
        self.listen = [self.address, *listen]
        self.args = list(args)
        self.process = None
        self._log_path = self.workdir / "matcached.log"
        self._run_start = 0

    def command(self, extra=()):
        """The server's command line, with `extra` flags for one run."""
        return [MATCACHED, "--listen", ",".join(self.listen), "--http_listen",
                "127.0.0.1:0", "--shm_dir", str(self.shm_dir), "--namespace",
                self.namespace, *self.args, *extra]

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

    def launch(self, *extra, env=None, umask=-1):
        """Starts a run with the `extra` flags, the environment `env`
        (default: ours) and the file mode creation mask `umask` (default:
        ours), without waiting for it to answer."""
        assert not self.running(), "the server is already running"
        self._run_start = (self._log_path.stat().st_size
                           if self._log_path.exists() else 0)
        with open(self._log_path, "ab") as log:
            log.write(f"==== run: {' '.join(extra)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                die_with_us(self.command(extra)), env=env, umask=umask,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def wait_ready(self):
        """Waits until the running server answers Stats on its unix socket
        (or refuses it for want of a token: it is serving). RuntimeError,
        with the run's log, if it exits or stays silent for
        STARTUP_SECONDS."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"matcached exited with {self.process.returncode} while "
                    f"starting:\n{self.run_log()}")
            # A fresh channel each time: a failed one waits out a reconnect
            # backoff of a second or more before trying again.
            try:
                with matcache.Client(self.address, timeout=1,
                                     token="") as client:
                    client.stats()
                return
            except matcache.PermissionDeniedError:
                return
            except matcache.UnavailableError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"matcached did not answer within {STARTUP_SECONDS} "
                        f"s:\n{self.run_log()}") from None
                time.sleep(0.02)

    def start(self, *extra, env=None, umask=-1):
        """launch(), then wait_ready()."""
        self.launch(*extra, env=env, umask=umask)
        self.wait_ready()

    def wait_exit(self, timeout):
        """Waits for the current run to exit and returns its status; kills
        it and returns None if it is still running after `timeout`."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stop(self):
        """SIGTERM; returns the exit status. AssertionError if the exit took
        more than PROMISED_STOP_SECONDS; kills the server and raises
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
        assert elapsed <= PROMISED_STOP_SECONDS, (
            f"matcached took {elapsed:.1f} s to exit after SIGTERM (promised: "
            f"{PROMISED_STOP_SECONDS} s)\n{self.run_log()}")
        return status

    def kill(self):
        """SIGKILL, reaped; harmless if not running."""
        if self.running():
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def running(self):
        """Whether the server was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    def tcp_addresses(self):
        """The HOST:PORT addresses the latest run logged it serves on (with
        the ports it picked for port 0). The line may follow the first
        answers: waits up to STARTUP_SECONDS for it (AssertionError)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while (match := _SERVING.search(self.run_log())) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"matcached logged no addresses:\n{self.run_log()}")
            time.sleep(0.02)
        return [address.strip() for address in match[1].split(",")
                if not address.strip().startswith("unix:")]

    @property
    def segment_dir(self):
        """Where the server keeps its files: shm_dir, or, when other users
        may create files there (as in /dev/shm), its directory named after
        the namespace inside."""
        st = self.shm_dir.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & 0o022:
            return self.shm_dir
        return self.shm_dir / self.namespace

    def http_address(self):
        """The HOST:PORT of the HTTP gateway the latest run logged (waits
        up to STARTUP_SECONDS for the line, AssertionError)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while (match := _HTTP.search(self.run_log())) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"matcached logged no HTTP address:\n{self.run_log()}")
            time.sleep(0.02)
        return match[1].split(",")[0].strip()

    def staging_files(self):
        """Names of the staging segment files in segment_dir."""
        return sorted(p.name for p in self.segment_dir.glob("*.staging.shm"))


def run_python(code, address, timeout=60):
    """Runs `code` in a fresh interpreter talking to `address` (as
    $MATCACHE_ADDRESS); returns its stdout, asserting it exited with 0."""
    env = dict(os.environ, MATCACHE_ADDRESS=address)
    done = subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def new_server(args, cleanups, prefix="t"):
    """A ServerProcess (not started) with the extra flags `args`, in fresh
    directories under /tmp and /dev/shm and a random namespace starting
    with `prefix`; appends to `cleanups` what removes them and kills it."""
    workdir = tempfile.mkdtemp(prefix="matcache-test-")
    cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    shm_dir = tempfile.mkdtemp(prefix="matcache-test-", dir="/dev/shm")
    cleanups.append(lambda: shutil.rmtree(shm_dir, ignore_errors=True))
    server = ServerProcess(workdir, shm_dir, f"{prefix}{secrets.token_hex(4)}",
                           args)
    cleanups.append(lambda: server.kill() if server.running() else None)
    return server


def run_cleanups(cleanups):
    """Runs `cleanups` last first, all of them; then raises the first error
    any of them raised."""
    errors = []
    for cleanup in reversed(cleanups):
        try:
            cleanup()
        except Exception as e:  # keep cleaning up; report below
            errors.append(e)
    if errors:
        raise errors[0]
