"""The HTTP gateway against the gRPC stream in the same run: full reads of
one matrix into Python (http.client into a preallocated numpy buffer with
readinto, against Client.read) and with curl, 1000 x 1000 windows and a PNG
preview of the big square matrix, and /metrics of a server holding
scale.metrics_matrices matrices."""

import contextlib
import http.client
import io
import random
import secrets
import subprocess
import struct

import numpy as np

import matcache

from suite import peers
from suite.samples import Measurement, size_label, time_ms

FAMILY = "http"
FULL_READ = "full read"
PYTHON_HTTP = "Python over HTTP (http.client readinto a preallocated array)"
PYTHON_GRPC = "Python over gRPC (Client.read)"
CURL = "curl over HTTP"
WINDOW = "1000×1000 window over HTTP (.npy)"
PREVIEW_PNG = "preview.png to 1000×1000"
METRICS = "/metrics scrape"
WINDOW_SIDE = 1000


def run(env):
    """All measurements of this family."""
    env.log(f"HTTP full reads {size_label(env.scale.remote_bytes)}")
    results = _full_reads(env)
    side = int((env.scale.big_bytes / 8) ** 0.5)
    env.log(f"HTTP windows and PNG previews of a {side}×{side} float64 matrix")
    results += _big_matrix(env, side)
    env.log(f"/metrics with {env.scale.metrics_matrices} matrices")
    results.append(_metrics(env))
    return results


def _connection(env):
    host, port = env.shm.http.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=600)


def _npy_header(response):
    """Reads the .npy header of a body; returns (shape, fortran, dtype)."""
    preamble = response.read(10)
    if preamble[:6] != b"\x93NUMPY":
        raise RuntimeError(f"not an .npy body: {preamble!r}")
    if preamble[6] == 1:
        (length,) = struct.unpack("<H", preamble[8:10])
        header = preamble + response.read(length)
    else:
        rest = response.read(2)
        (length,) = struct.unpack("<I", preamble[8:10] + rest)
        header = preamble + rest + response.read(length)
    version = np.lib.format.read_magic(io.BytesIO(header))
    return np.lib.format._read_array_header(io.BytesIO(header[8:]), version)


def _npy_into(response, out=None):
    """Reads an .npy body with readinto, into `out` (preallocated, of the
    body's shape and dtype) or else a new array; returns the array."""
    shape, fortran, dtype = _npy_header(response)
    array = np.empty(shape, dtype=dtype, order="F" if fortran else "C") \
        if out is None else out
    if array.shape != tuple(shape) or array.dtype != dtype:
        raise RuntimeError(f"the body holds {shape} {dtype}, not "
                           f"{array.shape} {array.dtype}")
    view = memoryview(array.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        got = response.readinto(view[done:])
        if got == 0:
            raise RuntimeError(f"the body ended after {done} of {len(view)} "
                               f"data bytes")
        done += got
    return array


def _get_npy(connection, path, out=None):
    connection.request("GET", path)
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {response.read()}")
    return _npy_into(response, out)


def _full_reads(env):
    size = env.scale.remote_bytes
    repeat = env.scale.repeat_for(size)
    name = f"bench.http.{secrets.token_hex(4)}"
    path = f"/v1/matrices/{name}/data"
    with matcache.Client(env.shm.unix, timeout=600) as writer, \
            matcache.Client(env.shm.tcp, local=False, timeout=600) as remote:
        writer.put(name, peers.vector(size))
        connection = _connection(env)
        try:
            # Preallocated and faulted in once, as a reader that refreshes
            # one buffer does it; also the warm-up.
            buffer = _get_npy(connection, path)
            peers.check_vector(buffer, size)
            peers.check_vector(remote.read(name), size)
            over_http, over_grpc = [], []
            for _ in range(repeat):  # alternating, so both see the same noise
                over_http.append(size / time_ms(
                    lambda: _get_npy(connection, path, buffer))[0] / 1e6)
                over_grpc.append(size / time_ms(
                    lambda: remote.read(name))[0] / 1e6)
            curl = [_curl_gbps(env, path, size) for _ in range(repeat)]
        finally:
            connection.close()
            writer.delete(name)
    return [Measurement(FAMILY, PYTHON_HTTP, FULL_READ, "GB/s", size,
                        over_http),
            Measurement(FAMILY, PYTHON_GRPC, FULL_READ, "GB/s", size,
                        over_grpc),
            Measurement(FAMILY, CURL, FULL_READ, "GB/s", size, curl)]


def _curl_gbps(env, path, size):
    """GB/s of one curl download of `path` to /dev/null, by curl's clock."""
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w",
         "%{http_code} %{size_download} %{time_total}",
         f"http://{env.shm.http}{path}"],
        capture_output=True, text=True, timeout=600, check=True)
    code, downloaded, seconds = done.stdout.split()
    if code != "200" or int(downloaded) < size:
        raise RuntimeError(f"curl got {code} and {downloaded} bytes")
    return size / float(seconds) / 1e9


def _big_matrix(env, side):
    name = f"bench.http.big.{secrets.token_hex(4)}"
    size = side * side * 8
    with matcache.Client(env.shm.unix, timeout=600) as writer:
        base = np.arange(2 * side - 1, dtype=np.float64)
        writer.put(name, np.lib.stride_tricks.as_strided(
            base, shape=(side, side), strides=(8, 8), writeable=False))
        connection = _connection(env)
        try:
            windows = _windows(connection, name, side, env.scale.windows)
            previews = _previews(connection, name, env.scale.repeat)
        finally:
            connection.close()
            with contextlib.suppress(matcache.NotFoundError):
                writer.delete(name)
    return [Measurement(FAMILY, WINDOW, "window", "ms", size, windows),
            Measurement(FAMILY, PREVIEW_PNG, "preview", "ms", size, previews)]


def _windows(connection, name, side, count):
    """Latencies (ms) of `count` window reads at random places, each
    checked."""
    rng = random.Random(0)
    latencies = []
    for _ in range(count):
        row = rng.randrange(side - WINDOW_SIDE + 1)
        col = rng.randrange(side - WINDOW_SIDE + 1)
        path = (f"/v1/matrices/{name}/data?slice={row}:{row + WINDOW_SIDE},"
                f"{col}:{col + WINDOW_SIDE}")
        elapsed, window = time_ms(lambda: _get_npy(connection, path))
        if window.shape != (WINDOW_SIDE, WINDOW_SIDE) or \
                window[0, 0] != row + col:
            raise RuntimeError("an HTTP window read returned different data")
        latencies.append(elapsed)
    return latencies


def _previews(connection, name, repeat):
    """Times (ms) of `repeat` PNG previews to 1000 x 1000, read whole."""
    path = (f"/v1/matrices/{name}/preview?shape={WINDOW_SIDE}x{WINDOW_SIDE}"
            f"&format=png")

    def fetch():
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or body[:8] != b"\x89PNG\r\n\x1a\n":
            raise RuntimeError(f"GET {path}: {response.status}")
        return body
    return [time_ms(fetch)[0] for _ in range(repeat)]


def _metrics(env):
    """Latencies (ms) of /metrics scrapes of a server holding
    scale.metrics_matrices small matrices (besides what it held)."""
    names = [f"bench.metrics.{secrets.token_hex(4)}.{i}"
             for i in range(env.scale.metrics_matrices)]
    tiny = np.zeros(16)
    with matcache.Client(env.shm.unix, timeout=600) as writer:
        for name in names:
            writer.put(name, tiny)
        connection = _connection(env)
        try:
            def scrape():
                connection.request("GET", "/metrics")
                response = connection.getresponse()
                body = response.read()
                if response.status != 200 or \
                        b"matcache_matrices " not in body:
                    raise RuntimeError(f"/metrics: {response.status}")
            scrape()  # warm-up
            latencies = [time_ms(scrape)[0]
                         for _ in range(env.scale.windows)]
        finally:
            connection.close()
            for name in names:
                writer.delete(name)
    return Measurement(FAMILY, _metrics_subject(env.scale), "scrape", "ms",
                       0, latencies)


def _metrics_subject(scale):
    return f"{METRICS}, {scale.metrics_matrices} matrices held"
