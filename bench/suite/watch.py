"""Watch: how soon a watcher in another process hears of a local put
(each put waits for its event, so the figure is latency, not throughput),
and what watchers cost a put: puts with none, with 100 idle ones (watching
names that are not put) and with 100 that are told of every put."""

import multiprocessing
import time

import numpy as np

import matcache

from suite import servers, watch_worker
from suite.samples import Measurement, repeat_ms

FAMILY = "watch"
LATENCY = "put returned → event, watcher in another process"
LATENCY_FROM_CALL = "put called → event (the put's own time included)"
PUT = "put"
NO_WATCHERS = "put, no watchers"
IDLE_WATCHERS = "put, 100 idle watchers"
BUSY_WATCHERS = "put, 100 watchers told of every put (their process shares " \
                "the cores)"
WATCHERS = 100
PREFIX = "bench.watch."
READY_SECONDS = 120


def run(env):
    """All measurements of this family, on a server of their own: no
    watcher but these."""
    env.log(f"watch: {env.scale.watch_events} put → event latencies, "
            f"{env.scale.watch_puts} puts with 0 and {WATCHERS} watchers")
    with servers.matcached(env.matcached, env.shm_parent) as server:
        return [*_latency(server.unix, env.scale.watch_events),
                *_puts_with_watchers(server.unix, env.scale.watch_puts)]


def _latency(address, count):
    """ms from a put's return to the moment the watcher has it, and from
    the put's call, by one monotonic clock. The server sends the event as
    it replies to the put, so the first may be below zero: the watcher
    heard first."""
    context = multiprocessing.get_context("spawn")
    ready, stamps = context.Queue(), context.Queue()
    watcher = context.Process(target=watch_worker.stamp,
                              args=(address, PREFIX, ready, stamps))
    watcher.start()
    tiny = np.zeros(16)
    after_return, after_call = [], []
    try:
        ready.get(timeout=READY_SECONDS)
        with matcache.Client(address) as client:
            for _ in range(count):
                # CLOCK_MONOTONIC: one clock for every process.
                called = time.monotonic_ns()
                generation = client.put(f"{PREFIX}m", tiny).generation
                returned = time.monotonic_ns()
                told, at = stamps.get(timeout=READY_SECONDS)
                if told != generation:
                    raise RuntimeError(f"the watcher heard of generation "
                                       f"{told}, not {generation}")
                after_return.append((at - returned) / 1e6)
                after_call.append((at - called) / 1e6)
            client.put(watch_worker.END, tiny)
        watcher.join(READY_SECONDS)
    finally:
        if watcher.is_alive():
            watcher.terminate()
            watcher.join()
    return [Measurement(FAMILY, LATENCY, "latency", "ms", tiny.nbytes,
                        after_return),
            Measurement(FAMILY, LATENCY_FROM_CALL, "latency", "ms",
                        tiny.nbytes, after_call)]


def _puts_with_watchers(address, count):
    """Local puts of a small matrix, timed with no watchers (before and
    after the others), with WATCHERS idle ones, and with WATCHERS told of
    each put."""
    small = np.zeros(1024)
    name = f"{PREFIX}put"
    with matcache.Client(address) as client:
        client.put(name, small)  # connected, the first file made

        def puts():
            return repeat_ms(lambda: client.put(name, small), count)

        none = puts()
        with _watchers(address, f"{PREFIX}nothing.", WATCHERS):
            idle = puts()
        none += puts()
        with _watchers(address, PREFIX, WATCHERS):
            busy = puts()
        client.delete(name)
    return [Measurement(FAMILY, subject, PUT, "ms", small.nbytes, values)
            for subject, values in ((NO_WATCHERS, none), (IDLE_WATCHERS, idle),
                                    (BUSY_WATCHERS, busy))]


class _watchers:
    """`count` watchers of `prefix` in another process, registered on entry
    and ended at exit."""

    def __init__(self, address, prefix, count):
        context = multiprocessing.get_context("spawn")
        self._ready, self._stop = context.Queue(), context.Event()
        self._process = context.Process(
            target=watch_worker.drain,
            args=(address, prefix, count, self._ready, self._stop))

    def __enter__(self):
        self._process.start()
        self._ready.get(timeout=READY_SECONDS)
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._process.join(READY_SECONDS)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
