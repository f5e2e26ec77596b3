"""The server's capacity on one core: bench/load_gen (C++, closed loop,
channels × calls in flight) drives a matcached pinned to one CPU from the
other CPU, one kind of call at a time: Info, List of scale.capacity_matrices
matrices, Read of a window of a float64 matrix, and the same window over
HTTP. Each run reports calls/s, p50/p99 latency, and the CPU the server
(utime + stime from /proc/PID/stat) and the generator spent per call; the
machine's load average at the start and the end says how much else ran."""

import json
import os
import pathlib
import secrets
import subprocess

import numpy as np

import matcache

from suite import servers
from suite.samples import Measurement

FAMILY = "capacity"
INFO = "Info"
LIST = "List"
READ = "Read"
HTTP = "HTTP data request"
RATE = "calls/s"
P50 = "p50 µs"
P99 = "p99 µs"
SERVER_CPU = "server CPU µs/call"
GENERATOR_CPU = "generator CPU µs/call"
METRICS = (RATE, P50, P99, SERVER_CPU, GENERATOR_CPU)
RUNS = 3
# (channels, calls in flight per channel) of each kind: enough to keep the
# server's core busy; for HTTP every call in flight is a connection.
CONCURRENCY = {"info": (4, 4), "list": (4, 4), "read": (2, 2),
               "http": (4, 1)}


def subjects(scale):
    """The row name of each kind of call, at `scale`."""
    window = f"{scale.capacity_window}×{scale.capacity_window}"
    return {"info": INFO,
            "list": f"{LIST} of {scale.capacity_matrices} matrices",
            "read": f"{READ} of a {window} float64 window",
            "http": f"{HTTP}, {window} window (.npy)"}


def _cpus():
    """(server CPUs, generator CPUs): one each, or None for both when this
    process may use a single CPU."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return {allowed[-1]}, {allowed[0]}


def run(env):
    """calls/s, latencies and CPU per call of each kind, RUNS runs each."""
    scale = env.scale
    results = []
    load_gen = load_gen_binary(env)
    server_cpus, generator_cpus = _cpus()
    runs = min(RUNS, scale.repeat)
    with servers.matcached(env.matcached, env.shm_parent,
                           cpus=server_cpus) as server, \
            matcache.Client(server.unix, timeout=600) as writer:
        names = _populate(writer, scale)
        for kind, subject in subjects(scale).items():
            env.log(f"capacity: {subject}, server on CPUs {server_cpus}, "
                    f"generator on {generator_cpus}")
            figures = {metric: [] for metric in METRICS}
            for _ in range(runs):
                channels, in_flight = CONCURRENCY[kind]
                measured = run_load_gen(
                    load_gen, server, kind, names, scale.capacity_seconds,
                    channels, in_flight, window=scale.capacity_window,
                    cpus=generator_cpus)
                figures[RATE].append(measured["calls_per_s"])
                figures[P50].append(measured["kinds"][kind]["p50_us"])
                figures[P99].append(measured["kinds"][kind]["p99_us"])
                figures[SERVER_CPU].append(measured["server_cpu_us_per_call"])
                figures[GENERATOR_CPU].append(
                    measured["generator_cpu_us_per_call"])
            results += [Measurement(FAMILY, subject, metric,
                                    metric.split()[-1], 0, values)
                        for metric, values in figures.items()]
    return results


def _populate(writer, scale):
    """Puts what the calls read; returns the names for load_gen's flags."""
    tag = secrets.token_hex(4)
    names = {"info": f"capacity.{tag}.info", "list": f"capacity.{tag}.list.",
             "read": f"capacity.{tag}.big"}
    writer.put(names["info"], np.zeros((10, 10)))
    for i in range(scale.capacity_matrices):
        writer.put(f"{names['list']}{i:04d}", np.zeros((10, 10)))
    side = scale.capacity_side
    base = np.arange(2 * side - 1, dtype=np.float64)
    writer.put(names["read"], np.lib.stride_tricks.as_strided(
        base, shape=(side, side), strides=(8, 8), writeable=False))
    return names


def load_gen_binary(env):
    """bench/load_gen, built beside the server binary."""
    return pathlib.Path(env.matcached).parent / "load_gen"


def run_load_gen(binary, server, kind, names, seconds, channels, in_flight,
                 window=0, cpus=None):
    """One load_gen run of `kind` against `server` for `seconds`, with
    `channels` × `in_flight` calls in flight on the matrices `names` (by
    kind: "info", "list" prefix, "read") and windows of side `window`; its
    JSON line. Raises RuntimeError if a call failed."""
    command = [str(binary), "--address", server.unix, "--mix", f"{kind}=1",
               "--channels", str(channels), "--in_flight", str(in_flight),
               "--duration", f"{seconds}s",
               "--warmup", f"{min(1.0, seconds)}s",
               "--http", server.http, "--server_pid", str(server.pid)]
    for flag, key in (("--info_name", "info"), ("--list_prefix", "list"),
                      ("--read_name", "read")):
        if key in names:
            command += [flag, names[key]]
    if window:
        command += ["--window", str(window)]
    done = subprocess.run(servers.pinned(command, cpus), capture_output=True,
                          text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"load_gen exited with {done.returncode}: "
                           f"{done.stderr}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    if measured["errors"] or measured["calls"] == 0:
        raise RuntimeError(f"load_gen {kind}: {measured['errors']} errors in "
                           f"{measured['calls']} calls: "
                           f"{measured['first_error']}")
    return measured
