"""Running real matcached servers and client subprocesses for the tests."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import matcache

REPO = pathlib.Path(__file__).resolve().parents[2]
MATCACHED = os.environ.get("MATCACHED", str(REPO / "build" / "bin" / "matcached"))
CLI_SCRIPT = REPO / "clients" / "python" / "bin" / "matcache"
STARTUP_SECONDS = 20
STOP_SECONDS = 10


class ServerProcess:
    """One matcached listening on a unix socket in `workdir`, serving
    `shm_dir` under `namespace`. Can be stopped and started again on the same
    socket, directory and namespace."""

    def __init__(self, workdir, shm_dir, namespace, args=()):
        self.workdir = pathlib.Path(workdir)
        self.shm_dir = pathlib.Path(shm_dir)
        self.namespace = namespace
        self.address = f"unix:{self.workdir / 'm.sock'}"
        self.args = list(args)
        self.process = None
        self._stderr_path = self.workdir / "matcached.stderr"

    def command(self):
        """The server's command line."""
        return [MATCACHED, "--listen", self.address, "--shm_dir",
                str(self.shm_dir), "--namespace", self.namespace, *self.args]

    def stderr(self):
        """Everything the server (all its runs) wrote to stderr."""
        return self._stderr_path.read_text(errors="replace")

    def start(self):
        """Starts the server and waits until it answers Stats; raises
        RuntimeError, with its stderr, if it exits or stays silent for
        STARTUP_SECONDS."""
        with open(self._stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"matcached exited with {self.process.returncode}:\n"
                    f"{self.stderr()}")
            # A fresh channel each time: a failed one waits out a reconnect
            # backoff of a second or more before trying again.
            try:
                with matcache.Client(self.address, timeout=1) as client:
                    client.stats()
                return
            except matcache.UnavailableError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"matcached did not answer within "
                        f"{STARTUP_SECONDS} s:\n{self.stderr()}") from None
                time.sleep(0.02)

    def stop(self):
        """Sends SIGTERM and returns the exit status; kills the server and
        raises RuntimeError if it has not exited after STOP_SECONDS."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(
                f"matcached ignored SIGTERM for {STOP_SECONDS} s:\n"
                f"{self.stderr()}") from None

    def kill(self):
        """Kills the server (SIGKILL) and reaps it."""
        self.process.kill()
        self.process.wait()

    def running(self):
        """Whether the server was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    def staging_files(self):
        """Names of the staging segment files in shm_dir."""
        return sorted(p.name for p in self.shm_dir.glob("*.staging.shm"))


def run_python(code, address, timeout=60):
    """Runs `code` in a fresh interpreter talking to `address` (as
    $MATCACHE_ADDRESS); returns its stdout, asserting it exited with 0."""
    env = dict(os.environ, MATCACHE_ADDRESS=address)
    done = subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout
