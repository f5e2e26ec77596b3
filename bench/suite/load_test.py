"""The load test: scale.load_clients dashboard processes (load_worker) run
a realistic call mix for scale.load_seconds against one matcached of their
own, pinned to two CPUs. Reported: calls per second, p50/p99 latency per
call, errors (must be zero), the server's memory over time (should stay
flat) and segment files left after everything is deleted (must be none)."""

import multiprocessing
import os
import queue
import time

import numpy as np

import matcache

from suite import load_worker, memory, servers
from suite.samples import Measurement

FAMILY = "load"
SERVER_CPUS = 2
READY_SECONDS = 300


def run(env, seconds):
    """Runs the load test for `seconds`; returns a dict: clients, seconds,
    cpus, calls {call: Measurement of latencies}, throughput (calls/s),
    errors, error_messages, memory (sampler samples), anon_growth_mib
    (the server's peak anonymous memory in the second half of the run minus
    its peak in the first: a leak makes it grow; mapped segments are not
    counted, they are the data stored) and leaked (segment files left)."""
    cpus = sorted(os.sched_getaffinity(0))[:SERVER_CPUS]
    clients = env.scale.load_clients
    env.log(f"load test: {clients} clients for {seconds:g} s, server on "
            f"CPUs {cpus}")
    with servers.matcached(env.matcached, env.shm_parent, cpus=set(cpus)) \
            as server:
        plan = load_worker.Plan(
            address=server.unix,
            shared=tuple(f"load.shared.{i}"
                         for i in range(env.scale.load_matrices)),
            side=env.scale.load_side, window=env.scale.load_window,
            scratch_side=2 * env.scale.load_window, seconds=seconds)
        with matcache.Client(server.unix) as client:
            for name in plan.shared:
                client.put(name, np.zeros((plan.side, plan.side)))
            results, sampler = _run_workers(plan, clients, server.pid)
            for name in plan.shared:
                client.delete(name)
        leaked = _segments_left(server)
    return _summary(results, clients, seconds, cpus, sampler, leaked)


def _run_workers(plan, clients, server_pid):
    """Starts the workers, releases them together, samples the server's
    memory while they run; returns their result dicts and the sampler."""
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Queue(), context.Event(), context.Queue()
    workers = [context.Process(target=load_worker.work,
                               args=(plan, worker, ready, go, results))
               for worker in range(clients)]
    try:
        for worker in workers:
            worker.start()
        for _ in workers:
            ready.get(timeout=READY_SECONDS)
        with memory.Sampler(server_pid, 0.25) as sampler:
            go.set()
            collected = [_result_of(results, plan.seconds) for _ in workers]
        for worker in workers:
            worker.join(30)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
    return collected, sampler


def _result_of(results, seconds):
    """The next worker's result, or one error if none comes in time."""
    try:
        return results.get(timeout=seconds + 120)
    except queue.Empty:
        return {"worker": None, "latencies": {}, "errors": 1,
                "error_messages": ["a worker sent no result"]}


def _segments_left(server):
    """Segment files still in the server's directory once every matrix is
    deleted (unlinks may finish just after Delete returns: wait a little)."""
    deadline = time.monotonic() + 5
    while server.segment_files() and time.monotonic() < deadline:
        time.sleep(0.1)
    return server.segment_files()


def _summary(results, clients, seconds, cpus, sampler, leaked):
    calls = {}
    for call in load_worker.MIX:
        values = [ms for result in results
                  for ms in result["latencies"].get(call, [])]
        calls[call] = Measurement(FAMILY, call, "latency", "ms", 0, values,
                                  skipped="" if values else "no calls")
    total = sum(len(m.values) for m in calls.values())
    halves = ([], [])
    for t, fields in sampler.samples:
        if t <= seconds:
            halves[t > seconds / 2].append(fields["RssAnon"])
    return {
        "clients": clients, "seconds": seconds, "cpus": cpus, "calls": calls,
        "throughput": total / seconds,
        "errors": sum(result["errors"] for result in results),
        "error_messages": [m for result in results
                           for m in result["error_messages"]],
        "memory": sampler.samples,
        "anon_growth_mib": max(halves[1], default=0)
        - max(halves[0], default=0),
        "leaked": leaked,
    }
