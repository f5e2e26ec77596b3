"""The first full pass over a fresh get in a new process, as a dashboard
worker that just started does, against a pass over warm private memory (the
physical limit). Mapping a segment is O(1), but the first touch of each page
fills the new process's page table: that cost is what this measures.

Run as a script it is that new process and prints "ms=<pass time>":
    python3 -m suite.fresh_pass matcache ADDRESS NAME
    python3 -m suite.fresh_pass hack SEGMENT_NAME COUNT
    python3 -m suite.fresh_pass private COUNT
"""

import contextlib
import re
import secrets
import subprocess
import sys
import time

import numpy as np

import matcache

from suite import peers, shm_hack
from suite.samples import Measurement, size_label

FAMILY = "fresh_pass"
METRIC = "first full pass"
PRIVATE = "private memory (warm)"
HACK = "shm hack (attach)"


def run(env):
    """All measurements of this family, size by size."""
    results = []
    for size in env.scale.sizes:
        env.log(f"fresh pass {size_label(size)}")
        repeat = env.scale.repeat_for(size)
        results.append(_matcache(env.shm.unix, peers.LOCAL_SHM, size,
                                 repeat))
        if env.huge is None:
            results.append(Measurement(FAMILY, peers.LOCAL_HUGE, METRIC,
                                       "ms", size, skipped=env.huge_reason))
        else:
            results.append(_matcache(env.huge.unix, peers.LOCAL_HUGE, size,
                                     repeat))
        results.append(_hack(size, repeat))
        results.append(Measurement(
            FAMILY, PRIVATE, METRIC, "ms", size,
            _in_new_processes(["private", str(size // 8)], repeat)))
    return results


def _in_new_processes(arguments, repeat):
    """Pass times (ms) printed by `repeat` runs of this module as a script."""
    times = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-m", "suite.fresh_pass", *arguments],
            capture_output=True, text=True, timeout=600)
        found = re.search(r"^ms=([0-9.]+)$", done.stdout, re.MULTILINE)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"fresh pass {arguments} failed "
                               f"({done.returncode}):\n{done.stderr}")
        times.append(float(found.group(1)))
    return times


def _matcache(address, subject, size, repeat):
    name = f"bench.pass.{secrets.token_hex(4)}"
    with matcache.Client(address, local=True, timeout=600) as client:
        client.put(name, peers.vector(size))
        try:
            times = _in_new_processes(["matcache", address, name], repeat)
        finally:
            client.delete(name)
    return Measurement(FAMILY, subject, METRIC, "ms", size, times)


def _hack(size, repeat):
    segment = shm_hack.put(peers.vector(size))
    try:
        times = _in_new_processes(["hack", segment.name, str(size // 8)],
                                  repeat)
    finally:
        shm_hack.remove(segment)
    return Measurement(FAMILY, HACK, METRIC, "ms", size, times)


def _full_pass_ms(array):
    """Time (ms) to read every element of `array` once."""
    start = time.perf_counter()
    np.add.reduce(array, axis=None)
    return (time.perf_counter() - start) * 1e3


def main(kind, *arguments):
    """The new process: gets or makes the array, prints its pass time."""
    with contextlib.ExitStack() as stack:
        if kind == "matcache":
            address, name = arguments
            client = stack.enter_context(matcache.Client(address, local=True))
            array = client.get(name)
        elif kind == "hack":
            segment_name, count = arguments
            array = stack.enter_context(
                shm_hack.attached(segment_name, (int(count),), np.float64))
        elif kind == "private":
            array = np.arange(int(arguments[0]), dtype=np.float64)
        else:
            raise SystemExit(f"unknown kind {kind!r}: matcache, hack or "
                             f"private")
        print(f"ms={_full_pass_ms(array):.3f}", flush=True)
        del array


if __name__ == "__main__":
    main(*sys.argv[1:])
