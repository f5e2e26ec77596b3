#!/usr/bin/python3
"""Remote reads over loopback TCP: full streamed reads into Python and C++,
a small window and a preview out of a huge matrix, the server's memory while
a slow client streams, and Redis GET as a peer (issue 4's benchmark).

Run by hand; it is not a test. With no --address it starts its own matcached
(build/bin/matcached, or --matcached) listening on a private unix socket and
on 127.0.0.1 at a free port, serving --shm_dir (default /dev/shm) in a
private namespace, and stops it at the end:

    PYTHONPATH=build/python /usr/bin/python3 bench/read_bench.py

To measure a server you started yourself, give its TCP address (and its pid,
for the memory figure):

    build/bin/matcached --listen unix:/tmp/bench/m.sock,127.0.0.1:7470 &
    PYTHONPATH=build/python /usr/bin/python3 bench/read_bench.py \\
        --address 127.0.0.1:7470 --server_pid $!

Matrices: a 1 GiB float64 vector read whole (--mib to change), and a square
float64 matrix of --gib GiB (default 4: 23170 x 23170), element [i, j] = i + j,
from which a 1000 x 1000 window, a 1000 x 1000 preview and the slow stream
are read. The script holds at most one copy of the small matrix in memory;
/dev/shm needs --mib MiB plus --gib GiB free.

Reported (median and range over --repeat runs unless said otherwise):
- full read of the 1 GiB matrix into Python (Client.read, local=False), GB/s;
- the same into C++ with build/bin/read_bench (its gbps= lines), if built;
- p50 of --windows reads of a 1000 x 1000 window at random places, ms;
- a 1000 x 1000 preview of the big matrix by each method, ms;
- the server's VmRSS (and its anonymous and shared parts) before and at the
  peak of one stream of the whole big matrix to a client that sleeps
  --slow_ms between 4 MiB messages and drops the data;
- Redis GET of a 256 MiB value over a raw RESP socket client, if
  redis-server (or --redis_server) is found; it runs on a free loopback port
  with no persistence and is stopped at the end.

Targets checked: Python read >= 1.0 GB/s; C++ read >= 2.0 GB/s; window p50
<= 20 ms; mean preview <= 1 s; server VmRSS growth <= 64 MiB while
streaming. Exits with 0 if all are met, 1 otherwise.
"""

import argparse
import contextlib
import pathlib
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import numpy as np

import matcache
from matcache.v1 import matcache_pb2 as pb

REPO = pathlib.Path(__file__).resolve().parents[1]
PYTHON_GBPS_TARGET = 1.0
CPP_GBPS_TARGET = 2.0
WINDOW_P50_TARGET_MS = 20.0
PREVIEW_TARGET_MS = 1000.0
RSS_GROWTH_TARGET_MIB = 64.0
WINDOW = 1000
REDIS_BYTES = 256 << 20
SLOW_CHUNK_BYTES = 4 << 20


def _free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(check, what, process, log, seconds=20):
    """Calls `check` until it returns without raising ConnectionError or
    matcache.UnavailableError; SystemExit with `log` if `process` exits or
    `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}:\n"
                             f"{log.read_text()}")
        try:
            return check()
        except (ConnectionError, matcache.UnavailableError):
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start within {seconds} s:\n"
                                 f"{log.read_text()}") from None
            time.sleep(0.05)


def _stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def _own_server(matcached, shm_dir):
    """Starts matcached on a private socket, 127.0.0.1:<free port> and a
    private namespace; yields (TCP address, pid), and at exit stops it and
    removes what it left."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="matcache-read-bench-"))
    address = f"127.0.0.1:{_free_port()}"
    log = workdir / "matcached.log"
    namespace = f"bench{secrets.token_hex(4)}"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [matcached, "--listen", f"unix:{workdir}/m.sock,{address}",
             "--shm_dir", shm_dir, "--namespace", namespace],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        def probe():
            with matcache.Client(address, timeout=1) as client:
                client.stats()
        _wait_for(probe, "matcached", process, log)
        yield address, process.pid
    finally:
        _stop(process)
        shutil.rmtree(workdir)
        # The namespace was this run's alone; its lock file outlives the
        # server.
        pathlib.Path(shm_dir, f"{namespace}.lock").unlink(missing_ok=True)


def _spread(values, unit, digits=2):
    return (f"median {statistics.median(values):.{digits}f} {unit} "
            f"(min {min(values):.{digits}f}, max {max(values):.{digits}f}, "
            f"n={len(values)})")


def _timed(action):
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def bench_python_read(remote, name, nbytes, expected_last, repeat):
    """GB/s of full streamed reads of `name` into Python."""
    rates = []
    for _ in range(repeat):
        seconds, array = _timed(lambda: remote.read(name))
        if array.nbytes != nbytes or array[-1] != expected_last:
            raise SystemExit("the full read returned different data")
        del array
        rates.append(nbytes / seconds / 1e9)
    return rates


def bench_cpp_read(binary, address, name, repeat):
    """GB/s of build/bin/read_bench's full reads of `name`, or None if the
    binary is missing."""
    if not pathlib.Path(binary).exists():
        return None
    done = subprocess.run(
        [binary, "--address", address, "--name", name, "--repeat",
         str(repeat)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{binary} failed ({done.returncode}):\n"
                         f"{done.stderr}")
    rates = [float(m) for m in re.findall(r"^gbps=([0-9.]+)$", done.stdout,
                                          re.MULTILINE)]
    if len(rates) != repeat:
        raise SystemExit(f"{binary} printed {len(rates)} gbps= lines, "
                         f"expected {repeat}:\n{done.stdout}")
    return rates


def put_big(client, name, side):
    """Publishes a side x side float64 matrix with [i, j] = i + j, written
    from a strided view of one 2 * side - 1 vector (no full copy here)."""
    base = np.arange(2 * side - 1, dtype=np.float64)
    hankel = np.lib.stride_tricks.as_strided(
        base, shape=(side, side), strides=(8, 8), writeable=False)
    client.put(name, hankel)


def bench_window(remote, name, side, count, seed=0):
    """Latencies (ms) of `count` 1000 x 1000 window reads at random
    places of the big matrix."""
    rng = random.Random(seed)
    latencies = []
    for _ in range(count):
        row = rng.randrange(side - WINDOW + 1)
        col = rng.randrange(side - WINDOW + 1)
        seconds, window = _timed(lambda: remote.read(
            name, np.s_[row:row + WINDOW, col:col + WINDOW]))
        if window.shape != (WINDOW, WINDOW) or window[0, 0] != row + col:
            raise SystemExit("the window read returned different data")
        latencies.append(seconds * 1e3)
    return latencies


def bench_preview(remote, name, side, method, repeat):
    """Times (ms) of 1000 x 1000 previews of the big matrix."""
    times = []
    for _ in range(repeat):
        seconds, preview = _timed(
            lambda: remote.preview(name, (WINDOW, WINDOW), method))
        # Cell (0, 0) covers [0, side // 1000) in both dimensions.
        block = side // WINDOW
        want = {"mean": block - 1, "min": 0, "max": 2 * (block - 1),
                "first": 0}[method]
        if preview.shape != (WINDOW, WINDOW) or preview[0, 0] != want:
            raise SystemExit(f"the {method} preview returned different data")
        times.append(seconds * 1e3)
    return times


def _rss_kib(pid):
    """VmRSS, RssAnon and RssShmem of process `pid`, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssShmem"):
                fields[key] = int(value.split()[0])
    return fields


def bench_slow_stream(address, name, pid, slow_ms):
    """Streams all of `name` to a client that sleeps `slow_ms` between 4 MiB
    messages and drops them, sampling the server's memory every 20 ms.
    Returns (seconds, bytes received, memory before, peak of each field)."""
    before = _rss_kib(pid)
    peak = dict(before)
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            for key, value in _rss_kib(pid).items():
                peak[key] = max(peak[key], value)

    sampler = threading.Thread(target=sample)
    received = 0
    with grpc.insecure_channel(
            address, options=[("grpc.max_receive_message_length",
                               2 * SLOW_CHUNK_BYTES)]) as channel:
        stream = channel.unary_stream(
            "/matcache.v1.MatrixCache/Read",
            request_serializer=pb.ReadRequest.SerializeToString,
            response_deserializer=None)
        start = time.perf_counter()
        sampler.start()
        try:
            for message in stream(pb.ReadRequest(
                    name=name, chunk_bytes=SLOW_CHUNK_BYTES)):
                received += len(message)
                time.sleep(slow_ms / 1e3)
        finally:
            done.set()
            sampler.join()
        seconds = time.perf_counter() - start
    return seconds, received, before, peak


def _resp_command(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, (bytes, bytearray, memoryview)) \
            else str(arg).encode()
        out += [f"${len(data)}\r\n".encode(), data, b"\r\n"]
    return out


class _Resp:
    """A minimal RESP2 client over one socket: enough for SET, GET and
    SHUTDOWN, with GET's reply read straight into a preallocated buffer."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.pending = bytearray()

    def close(self):
        self.sock.close()

    def send(self, *args):
        for part in _resp_command(*args):
            self.sock.sendall(part)

    def _line(self):
        while b"\r\n" not in self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("redis closed the connection")
            self.pending += data
        line, _, rest = bytes(self.pending).partition(b"\r\n")
        self.pending = bytearray(rest)
        return line

    def simple(self):
        """Reads a status reply; raises on an error reply."""
        line = self._line()
        if not line.startswith(b"+"):
            raise SystemExit(f"redis answered {line[:200]!r}")
        return line

    def bulk_into(self, out):
        """Reads a bulk reply into the bytearray `out` of exactly its size."""
        line = self._line()
        if line[:1] != b"$" or int(line[1:]) != len(out):
            raise SystemExit(f"redis answered {line[:200]!r}, expected "
                             f"${len(out)}")
        view = memoryview(out)
        have = min(len(self.pending), len(out))
        view[:have] = self.pending[:have]
        self.pending = self.pending[have:]
        while have < len(out):
            n = self.sock.recv_into(view[have:])
            if not n:
                raise ConnectionError("redis closed the connection")
            have += n
        if self._line() != b"":
            raise SystemExit("redis bulk reply not terminated by CRLF")


def bench_redis(redis_server, repeat):
    """GB/s of GETs of a 256 MiB value from a fresh redis-server, or None if
    there is none."""
    if redis_server is None:
        return None
    workdir = pathlib.Path(
        tempfile.mkdtemp(prefix="matcache-read-bench-redis-"))
    port = _free_port()
    log = workdir / "redis.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [redis_server, "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
            stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    client = None
    try:
        client = _wait_for(lambda: _Resp(port), "redis-server", process, log)
        value = np.random.default_rng(0).bytes(REDIS_BYTES)
        client.send("SET", "matrix", value)
        client.simple()
        out = bytearray(REDIS_BYTES)
        rates = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.send("GET", "matrix")
            client.bulk_into(out)
            rates.append(REDIS_BYTES / (time.perf_counter() - start) / 1e9)
        if out != value:
            raise SystemExit("redis returned different data")
        return rates
    finally:
        if client is not None:
            client.close()
        _stop(process)
        shutil.rmtree(workdir)


def _check(label, met, value):
    print(f"{'MET    ' if met else 'NOT MET'} {label}: {value}")
    return met


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address",
                        help="TCP address of a running matcached; default: "
                             "start one")
    parser.add_argument("--server_pid", type=int,
                        help="pid of the server at --address (for memory)")
    parser.add_argument("--shm_dir", default="/dev/shm",
                        help="shm_dir of the server this starts")
    parser.add_argument("--matcached",
                        default=str(REPO / "build" / "bin" / "matcached"))
    parser.add_argument("--read_bench",
                        default=str(REPO / "build" / "bin" / "read_bench"))
    parser.add_argument("--redis_server", default=shutil.which("redis-server"))
    parser.add_argument("--mib", type=int, default=1024,
                        help="size of the fully read matrix (default 1024)")
    parser.add_argument("--gib", type=float, default=4.0,
                        help="size of the big square matrix (default 4)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--windows", type=int, default=100,
                        help="window reads to time (default 100)")
    parser.add_argument("--slow_ms", type=float, default=5.0,
                        help="sleep between messages of the slow stream")
    args = parser.parse_args()

    nbytes = args.mib << 20
    side = int((args.gib * (1 << 30) / 8) ** 0.5)
    full_name = f"bench.full.{secrets.token_hex(4)}"
    big_name = f"bench.big.{secrets.token_hex(4)}"
    results = {}
    with contextlib.ExitStack() as stack:
        if args.address:
            address, pid = args.address, args.server_pid
        else:
            address, pid = stack.enter_context(
                _own_server(args.matcached, args.shm_dir))
        writer = stack.enter_context(matcache.Client(address))
        remote = stack.enter_context(matcache.Client(address, local=False))
        print(f"server {address}; shm_dir {writer.stats().shm_dir}; "
              f"{args.mib} MiB float64 read whole; {side} x {side} float64 "
              f"({side * side * 8 / (1 << 30):.2f} GiB) for window, preview "
              f"and slow stream\n", flush=True)
        try:
            count = nbytes // 8
            writer.put(full_name, np.arange(count, dtype=np.float64))
            remote.read(full_name)  # warm-up: first touches of fresh memory
            results["python"] = bench_python_read(
                remote, full_name, nbytes, count - 1, args.repeat)
            print(f"Python full read:  {_spread(results['python'], 'GB/s')}",
                  flush=True)
            results["cpp"] = bench_cpp_read(args.read_bench, address,
                                            full_name, args.repeat)
            print("C++ full read:     " + (
                _spread(results["cpp"], "GB/s") if results["cpp"] is not None
                else f"skipped: {args.read_bench} missing"), flush=True)
            writer.delete(full_name)

            seconds, _ = _timed(lambda: put_big(writer, big_name, side))
            print(f"(put of the big matrix: {seconds:.1f} s)", flush=True)
            results["window"] = bench_window(remote, big_name, side,
                                             args.windows)
            print(f"window {WINDOW}x{WINDOW}:  "
                  f"{_spread(results['window'], 'ms')}, p90 "
                  f"{np.percentile(results['window'], 90):.2f} ms",
                  flush=True)
            for method in ("mean", "min", "max", "first"):
                results[method] = bench_preview(remote, big_name, side,
                                                method, args.repeat)
                print(f"preview {method:<5}:     "
                      f"{_spread(results[method], 'ms', 0)}", flush=True)
            if pid is None:
                results["rss"] = None
                print("slow stream:       skipped: server pid unknown "
                      "(--server_pid)")
            else:
                seconds, received, before, peak = bench_slow_stream(
                    address, big_name, pid, args.slow_ms)
                results["rss"] = (peak["VmRSS"] - before["VmRSS"]) / 1024
                growth = ", ".join(
                    f"{key} {before[key] / 1024:.0f} -> {peak[key] / 1024:.0f}"
                    f" MiB" for key in ("VmRSS", "RssAnon", "RssShmem"))
                print(f"slow stream:       {received / (1 << 30):.2f} GiB in "
                      f"{seconds:.1f} s ({args.slow_ms:g} ms sleep per "
                      f"{SLOW_CHUNK_BYTES >> 20} MiB); server {growth} "
                      f"(peaks)", flush=True)
        finally:
            for name in (full_name, big_name):
                with contextlib.suppress(matcache.NotFoundError):
                    writer.delete(name)
    results["redis"] = bench_redis(args.redis_server, args.repeat)
    print("Redis GET 256 MiB: " + (
        _spread(results["redis"], "GB/s") if results["redis"] is not None
        else "skipped: redis-server not installed"))

    print()
    checks = [
        _check(f"Python full read >= {PYTHON_GBPS_TARGET} GB/s",
               statistics.median(results["python"]) >= PYTHON_GBPS_TARGET,
               f"{statistics.median(results['python']):.2f} GB/s"),
        _check(f"window p50 <= {WINDOW_P50_TARGET_MS:g} ms",
               statistics.median(results["window"]) <= WINDOW_P50_TARGET_MS,
               f"{statistics.median(results['window']):.2f} ms"),
        _check(f"mean preview <= {PREVIEW_TARGET_MS:g} ms",
               statistics.median(results["mean"]) <= PREVIEW_TARGET_MS,
               f"{statistics.median(results['mean']):.0f} ms"),
    ]
    if results["cpp"] is not None:
        checks.append(_check(
            f"C++ full read >= {CPP_GBPS_TARGET} GB/s",
            statistics.median(results["cpp"]) >= CPP_GBPS_TARGET,
            f"{statistics.median(results['cpp']):.2f} GB/s"))
    if results["rss"] is not None:
        checks.append(_check(
            f"server VmRSS growth while streaming <= "
            f"{RSS_GROWTH_TARGET_MIB:g} MiB",
            results["rss"] <= RSS_GROWTH_TARGET_MIB,
            f"{results['rss']:.1f} MiB"))
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
