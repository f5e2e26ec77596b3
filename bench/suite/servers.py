"""The servers a run measures, each started for the run on loopback or a
private socket and always stopped and cleaned up, also on errors and
Ctrl-C: matcached, redis-server, and a tmpfs mounted with huge pages."""

import contextlib
import dataclasses
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import matcache

from suite import resp

START_SECONDS = 30


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(probe, what, process, log):
    """Calls `probe()` until it stops raising ConnectionError or
    matcache.UnavailableError and returns its result; RuntimeError with
    the log if `process` exits or START_SECONDS pass first."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n"
                               f"{log.read_text()}")
        try:
            return probe()
        except (ConnectionError, matcache.UnavailableError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start within "
                                   f"{START_SECONDS} s:\n{log.read_text()}")
            time.sleep(0.05)


def _stop(process):
    """SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _http_address(log):
    """The HTTP gateway's HOST:PORT, from the start-up line of a server
    that is serving (written just after it starts serving)."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        found = re.search(r"HTTP gateway on (\S+)", log.read_text())
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            raise RuntimeError(f"matcached logged no HTTP address:\n"
                               f"{log.read_text()}")
        time.sleep(0.01)


def pinned(command, cpus):
    """`command` run on the CPU set `cpus` (None: any), through taskset,
    which sets it before exec, so that every thread the program starts
    has it too (and the pid stays the program's)."""
    if cpus is None:
        return list(command)
    return ["taskset", "-c", ",".join(str(cpu) for cpu in sorted(cpus)),
            *command]


@dataclasses.dataclass(frozen=True)
class Matcached:
    """A running matcached: `unix` and `tcp` addresses, `http` (HOST:PORT
    of its HTTP gateway), its `pid`, and `shm_dir`, a directory of its own
    (so every file in it is its), holding its `namespace`."""

    unix: str
    tcp: str
    http: str
    pid: int
    shm_dir: pathlib.Path
    namespace: str

    def segment_files(self):
        """Names of the segment files (published or staging) it holds; not
        the spare file it keeps ready for the next put."""
        return sorted(p.name for p in self.shm_dir.glob("*.shm")
                      if not p.name.endswith(".spare.shm"))


@contextlib.contextmanager
def matcached(binary, shm_parent, data_dir=None, cpus=None, extra_args=(),
              shm_dir=None, namespace=None):
    """Starts `binary` on a fresh directory under the tmpfs `shm_parent`,
    listening on a private unix socket and on 127.0.0.1 at a free port,
    with no memory budget and a random namespace, optionally with
    --data_dir, `extra_args` and pinned to the CPU set `cpus`. Yields a
    Matcached; at exit stops it and removes its socket and shm
    directories. Given `shm_dir` and `namespace`, it serves those instead
    (recovering what is there) and leaves the directory."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="matcache-bench-"))
    keep_shm_dir = shm_dir is not None
    if not keep_shm_dir:
        shm_dir = pathlib.Path(tempfile.mkdtemp(prefix="matcache-bench-",
                                                dir=shm_parent))
    unix = f"unix:{workdir}/m.sock"
    tcp = f"127.0.0.1:{free_port()}"
    namespace = namespace or f"bench{secrets.token_hex(4)}"
    # Private to this run and on loopback only: TCP needs no access token,
    # so that every peer measures the same plain calls.
    command = [binary, "--listen", f"{unix},{tcp}", "--shm_dir", str(shm_dir),
               "--namespace", namespace, "--max_bytes", "0",
               "--tcp_auth", "none", "--http_listen", "127.0.0.1:0"]
    if data_dir is not None:
        command += ["--data_dir", str(data_dir)]
    command += extra_args
    log = workdir / "matcached.log"
    process = None
    try:
        with open(log, "wb") as stderr:
            process = subprocess.Popen(
                pinned(command, cpus), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr)

        def probe():
            with matcache.Client(unix, timeout=1) as client:
                client.stats()
        _wait_until_ready(probe, f"matcached ({binary})", process, log)
        yield Matcached(unix, tcp, _http_address(log), process.pid, shm_dir,
                        namespace)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
        if not keep_shm_dir:
            shutil.rmtree(shm_dir, ignore_errors=True)


@contextlib.contextmanager
def huge_tmpfs(size_bytes):
    """Mounts a tmpfs of `size_bytes` with huge=within_size on a fresh
    directory. Yields (path, "") or, when it cannot (not root, no kernel
    support), (None, the reason); unmounts and removes it at exit."""
    if os.geteuid() != 0:
        yield None, "skipped: mounting a huge-page tmpfs needs root"
        return
    mount_point = pathlib.Path(tempfile.mkdtemp(prefix="matcache-bench-huge-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o",
         f"huge=within_size,size={size_bytes},mode=0755", "tmpfs",
         str(mount_point)], capture_output=True, text=True)
    try:
        if mounted.returncode != 0:
            yield None, (f"skipped: mount -o huge=within_size failed: "
                         f"{mounted.stderr.strip()}")
        else:
            yield mount_point, ""
    finally:
        if mounted.returncode == 0:
            if subprocess.run(["umount", str(mount_point)]).returncode != 0:
                subprocess.run(["umount", "-l", str(mount_point)])
        with contextlib.suppress(OSError):
            mount_point.rmdir()


@contextlib.contextmanager
def redis_server():
    """Starts Debian's redis-server on 127.0.0.1 at a free port in a temp
    directory with no persistence. Yields (resp.Connection, "") or, when
    redis-server is not installed, (None, the reason); stops it at exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None, "skipped: redis-server not installed"
        return
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="matcache-bench-redis-"))
    port = free_port()
    log = workdir / "redis.log"
    process = None
    connection = None
    try:
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        connection = _wait_until_ready(lambda: resp.Connection(port),
                                       "redis-server", process, log)
        yield connection, ""
    finally:
        if connection is not None:
            connection.close()
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
