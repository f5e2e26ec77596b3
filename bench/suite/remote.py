"""Streamed reads over loopback TCP, as a client on another host does them:
full reads into Python and C++ (and Redis GET as a peer), 1000 x 1000
windows and previews of a big square matrix, and the server's memory while
it streams that whole matrix to a reader slower than the server."""

import contextlib
import random
import re
import secrets
import subprocess
import time

import grpc
import numpy as np

import matcache
from matcache.v1 import matcache_pb2 as pb

from suite import memory, peers
from suite.samples import Measurement, size_label, time_ms

FAMILY = "remote"
FULL_READ = "full read"
PYTHON = "Python (Client.read)"
CPP = "C++ (Client::Read)"
REDIS = "Redis GET"
WINDOW = "1000×1000 window"
PREVIEW = "preview to 1000×1000"
PREVIEW_METHODS = ("mean", "min", "max", "first")
RSS_GROWTH = "server memory growth, slow reader"
WINDOW_SIDE = 1000
SLOW_CHUNK_BYTES = 4 << 20


def run(env):
    """All measurements of this family."""
    env.log(f"remote full reads {size_label(env.scale.remote_bytes)}")
    results = _full_reads(env)
    results.append(_redis_reads(env))
    side = int((env.scale.big_bytes / 8) ** 0.5)
    env.log(f"windows, previews and a slow reader of a {side}×{side} float64 "
            f"matrix ({size_label(side * side * 8)})")
    name = f"bench.big.{secrets.token_hex(4)}"
    with matcache.Client(env.shm.unix, timeout=600) as writer, \
            matcache.Client(env.shm.tcp, local=False, timeout=600) as remote:
        try:
            _put_big(writer, name, side)
            size = side * side * 8
            results.append(Measurement(FAMILY, WINDOW, "window", "ms", size,
                                       _windows(remote, name, side,
                                                env.scale.windows)))
            for method in PREVIEW_METHODS:
                results.append(Measurement(
                    FAMILY, f"{PREVIEW} ({method})", "preview", "ms", size,
                    _previews(remote, name, side, method, env.scale.repeat)))
            results.append(_slow_reader(env, name, size))
        finally:
            with contextlib.suppress(matcache.NotFoundError):
                writer.delete(name)
    return results


def _full_reads(env):
    size = env.scale.remote_bytes
    repeat = env.scale.repeat_for(size)
    name = f"bench.full.{secrets.token_hex(4)}"
    with matcache.Client(env.shm.unix, timeout=600) as writer, \
            matcache.Client(env.shm.tcp, local=False, timeout=600) as remote:
        writer.put(name, peers.vector(size))
        try:
            peers.check_vector(remote.read(name), size)  # and warm-up
            python = [size / time_ms(lambda: remote.read(name))[0] / 1e6
                      for _ in range(repeat)]
            cpp = _cpp_reads(env, name, size, repeat)
        finally:
            writer.delete(name)
    return [Measurement(FAMILY, PYTHON, FULL_READ, "GB/s", size, python), cpp]


def _cpp_reads(env, name, size, repeat):
    """GB/s printed by the C++ reader (bench/read_bench.cc), one per read."""
    if not env.read_bench.exists():
        return Measurement(FAMILY, CPP, FULL_READ, "GB/s", size,
                           skipped=f"skipped: {env.read_bench} not built")
    done = subprocess.run(
        [str(env.read_bench), "--address", env.shm.tcp, "--name", name,
         "--repeat", str(repeat)], capture_output=True, text=True,
        timeout=1200)
    rates = [float(m) for m in re.findall(r"^gbps=([0-9.]+)$", done.stdout,
                                          re.MULTILINE)]
    if done.returncode != 0 or len(rates) != repeat:
        raise RuntimeError(f"{env.read_bench} failed ({done.returncode}), "
                           f"printed {len(rates)} of {repeat} rates:\n"
                           f"{done.stdout}{done.stderr}")
    return Measurement(FAMILY, CPP, FULL_READ, "GB/s", size, rates)


def _redis_reads(env):
    """GB/s of GETs of a value of scale.redis_read_bytes."""
    size = env.scale.redis_read_bytes
    if env.redis is None:
        return Measurement(FAMILY, REDIS, FULL_READ, "GB/s", size,
                           skipped=env.redis_reason)
    key = "read"
    env.redis.command("SET", key, memoryview(peers.vector(size)).cast("B"))
    try:
        rates = [size / time_ms(lambda: env.redis.get_into_array(key, size))[0]
                 / 1e6 for _ in range(env.scale.repeat_for(size))]
    finally:
        env.redis.command("DEL", key)
    return Measurement(FAMILY, REDIS, FULL_READ, "GB/s", size, rates)


def _put_big(client, name, side):
    """Publishes a side x side float64 matrix with [i, j] = i + j, written
    from a strided view of one vector (no full copy in this process)."""
    base = np.arange(2 * side - 1, dtype=np.float64)
    client.put(name, np.lib.stride_tricks.as_strided(
        base, shape=(side, side), strides=(8, 8), writeable=False))


def _windows(remote, name, side, count):
    """Latencies (ms) of `count` window reads at random places."""
    rng = random.Random(0)
    latencies = []
    for _ in range(count):
        row = rng.randrange(side - WINDOW_SIDE + 1)
        col = rng.randrange(side - WINDOW_SIDE + 1)
        elapsed, window = time_ms(lambda: remote.read(
            name, np.s_[row:row + WINDOW_SIDE, col:col + WINDOW_SIDE]))
        if window.shape != (WINDOW_SIDE, WINDOW_SIDE) or \
                window[0, 0] != row + col:
            raise RuntimeError("a window read returned different data")
        latencies.append(elapsed)
    return latencies


def _previews(remote, name, side, method, repeat):
    """Times (ms) of `repeat` previews by `method`."""
    block = side // WINDOW_SIDE  # cell (0, 0) covers [0, block) both ways
    want = {"mean": block - 1, "min": 0, "max": 2 * (block - 1),
            "first": 0}[method]
    times = []
    for _ in range(repeat):
        elapsed, preview = time_ms(lambda: remote.preview(
            name, (WINDOW_SIDE, WINDOW_SIDE), method))
        if preview.shape != (WINDOW_SIDE, WINDOW_SIDE) or \
                preview[0, 0] != want:
            raise RuntimeError(f"a {method} preview returned different data")
        times.append(elapsed)
    return times


def _slow_reader(env, name, size):
    """Growth (MiB) of the server's VmRSS, peak over before, while it
    streams all of `name` to a client that sleeps scale.slow_ms between
    4 MiB messages and drops them."""
    received = 0
    with grpc.insecure_channel(env.shm.tcp, options=[
            ("grpc.max_receive_message_length", 2 * SLOW_CHUNK_BYTES)]) \
            as channel:
        stream = channel.unary_stream(
            "/matcache.v1.MatrixCache/Read",
            request_serializer=pb.ReadRequest.SerializeToString,
            response_deserializer=None)
        with memory.Sampler(env.shm.pid, 0.02) as sampler:
            for message in stream(pb.ReadRequest(
                    name=name, chunk_bytes=SLOW_CHUNK_BYTES)):
                received += len(message)
                time.sleep(env.scale.slow_ms / 1e3)
    if received < size:
        raise RuntimeError(f"the slow reader got {received} of {size} bytes")
    growth = sampler.peak("VmRSS") - sampler.first("VmRSS")
    return Measurement(FAMILY, RSS_GROWTH, "VmRSS growth", "MiB", size,
                       [growth])
