#!/usr/bin/python3
"""Put and get of a large float64 matrix: the matcache Python client against
the multiprocessing.shared_memory hack it replaces (DESIGN.md section 1).

Run by hand; it is not a test. With no --address it starts its own matcached
(build/bin/matcached, or --matcached) on --shm_dir (default /dev/shm) in a
private namespace and stops it at the end:

    PYTHONPATH=build/python /usr/bin/python3 bench/put_get_bench.py

To measure a server you started yourself, pass its address:

    build/bin/matcached --listen unix:/tmp/bench/m.sock --shm_dir /dev/shm &
    PYTHONPATH=build/python /usr/bin/python3 bench/put_get_bench.py \\
        --address unix:/tmp/bench/m.sock

To see the huge-page target, mount a tmpfs with huge pages and point the
server at it (the hack always uses /dev/shm, as it did in production):

    mkdir -p /mnt/matcache-huge
    mount -t tmpfs -o size=8G,huge=within_size tmpfs /mnt/matcache-huge
    PYTHONPATH=build/python /usr/bin/python3 bench/put_get_bench.py \\
        --shm_dir /mnt/matcache-huge

--mib sets the matrix size (default 1024, i.e. 1 GiB). Times are medians over
--repeat runs (gets that only map: over --get-repeat runs), after one untimed
put on each side: the first touch of fresh memory in a VM can cost seconds.

Targets checked: local get (Info + map) p50 <= 0.5 ms; local put at least
1.5x faster than the hack's put on /dev/shm, or 4x when the server's shm_dir
is a tmpfs mounted with huge=within_size (or huge=always).
"""

import argparse
import contextlib
import os
import pathlib
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import resource_tracker, shared_memory

import numpy as np

import matcache

REPO = pathlib.Path(__file__).resolve().parents[1]
GET_P50_TARGET_MS = 0.5
PUT_SPEEDUP_TARGET = 1.5
PUT_SPEEDUP_TARGET_HUGE = 4.0


def _median_ms(action, repeat):
    """Runs `action` `repeat` times; returns the median wall time in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _full_pass(array):
    """Reads every element (what a dashboard does with a fresh matrix)."""
    return float(np.add.reduce(array, axis=None))


@contextlib.contextmanager
def _own_server(matcached, shm_dir):
    """Starts matcached on a private socket and namespace; yields its
    address, and at exit stops it (SIGTERM) and removes what it left."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="matcache-bench-"))
    address = f"unix:{workdir}/m.sock"
    log = workdir / "matcached.log"
    namespace = f"bench{secrets.token_hex(4)}"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [matcached, "--listen", address, "--shm_dir", shm_dir,
             "--namespace", namespace],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise SystemExit(f"matcached exited with {process.returncode}:"
                                 f"\n{log.read_text()}")
            try:
                with matcache.Client(address, timeout=1) as probe:
                    probe.stats()
                break
            except matcache.UnavailableError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"matcached did not start within 20 s:"
                                     f"\n{log.read_text()}")
                time.sleep(0.05)
        yield address
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        shutil.rmtree(workdir)
        # The namespace was this run's alone; its lock file outlives the server.
        pathlib.Path(shm_dir, f"{namespace}.lock").unlink(missing_ok=True)


def _mount_options(path):
    """The mount options of the filesystem holding `path`."""
    path = os.path.realpath(path)
    best, options = "", ""
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            _, mount_point, _, opts = line.split()[:4]
            inside = path == mount_point or path.startswith(
                mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, options = mount_point, opts
    return options.split(",")


def bench_matcache(client, source, repeat, get_repeat):
    """Times local put, local get (Info + map) and get + full pass."""
    name = f"bench.{secrets.token_hex(4)}"
    try:
        client.put(name, source)  # warm-up: first touches of fresh memory
        put_times = []
        for _ in range(repeat):
            # A fresh name each time, like the hack's create: a replace would
            # also free the previous version's pages inside Commit.
            client.delete(name)
            put_times.append(_median_ms(lambda: client.put(name, source), 1))
        put_ms = statistics.median(put_times)
        get_ms = _median_ms(lambda: client.get(name), get_repeat)
        pass_ms = _median_ms(lambda: _full_pass(client.get(name)), repeat)
        if not np.array_equal(client.get(name), source):
            raise SystemExit("matcache returned different data")
    finally:
        client.delete(name)
    return {"put": put_ms, "get": get_ms, "get + full pass": pass_ms}


def _hack_remove(shm):
    shm.close()
    # unlink() unregisters from the tracker again; balance that first.
    resource_tracker.register(shm._name, "shared_memory")
    shm.unlink()


def _hack_put(source, segments):
    shm = shared_memory.SharedMemory(create=True, size=source.nbytes)
    # The hack's patch: the creator's tracker must not unlink at exit.
    resource_tracker.unregister(shm._name, "shared_memory")
    segments.append(shm)
    np.ndarray(source.shape, source.dtype, buffer=shm.buf)[...] = source


@contextlib.contextmanager
def _hack_attached(name, shape, dtype):
    shm = shared_memory.SharedMemory(name=name)
    # Python registers attaching processes too; without this, the reader's
    # exit would unlink the segment (the bug of section 1).
    resource_tracker.unregister(shm._name, "shared_memory")
    array = np.ndarray(shape, dtype, buffer=shm.buf)
    try:
        yield array
    finally:
        del array
        shm.close()


def bench_hack(source, repeat, get_repeat):
    """Times the hack: create + copy; attach + view; attach + full pass;
    attach + .copy()."""
    segments = []
    shape, dtype = source.shape, source.dtype

    def attach(then):
        with _hack_attached(segments[-1].name, shape, dtype) as array:
            return then(array)

    try:
        _hack_put(source, segments)  # warm-up, as for matcache
        put_times = []
        for _ in range(repeat):
            for shm in segments:  # keep one segment: memory stays bounded
                _hack_remove(shm)
            segments.clear()
            put_times.append(_median_ms(lambda: _hack_put(source, segments), 1))
        put_ms = statistics.median(put_times)
        get_ms = _median_ms(lambda: attach(lambda a: None), get_repeat)
        pass_ms = _median_ms(lambda: attach(_full_pass), repeat)
        copy_ms = _median_ms(lambda: attach(lambda a: a.copy()), repeat)
    finally:
        for shm in segments:
            _hack_remove(shm)
    return {"put": put_ms, "get": get_ms, "get + full pass": pass_ms,
            "get + .copy()": copy_ms}


def report(ours, hack, shm_dir, huge):
    """Prints the table, the ratios and which targets are met; returns True
    if all are."""
    print(f"{'':<18}{'matcache':>12}{'shm hack':>12}{'hack/matcache':>15}")
    for row in ("put", "get", "get + full pass", "get + .copy()"):
        mine = ours.get(row)
        theirs = hack[row]
        mine_text = f"{mine:9.3f} ms" if mine is not None else f"{'-':>12}"
        ratio = f"{theirs / mine:14.2f}x" if mine else f"{'':>15}"
        print(f"{row:<18}{mine_text}{theirs:9.3f} ms{ratio}")
    speedup = hack["put"] / ours["put"]
    put_target = PUT_SPEEDUP_TARGET_HUGE if huge else PUT_SPEEDUP_TARGET
    checks = [
        (f"local get p50 <= {GET_P50_TARGET_MS} ms", ours["get"],
         ours["get"] <= GET_P50_TARGET_MS, "ms"),
        (f"local put >= {put_target}x faster than the hack "
         f"(shm_dir {shm_dir}{', huge pages' if huge else ''})", speedup,
         speedup >= put_target, "x"),
    ]
    print()
    for label, value, met, unit in checks:
        print(f"{'MET    ' if met else 'NOT MET'} {label}: {value:.3f} {unit}")
    return all(met for _, _, met, _ in checks)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024,
                        help="matrix size in MiB (default 1024)")
    parser.add_argument("--address",
                        help="a running matcached; default: start one")
    parser.add_argument("--shm_dir", default="/dev/shm",
                        help="shm_dir of the server this starts")
    parser.add_argument("--matcached",
                        default=str(REPO / "build" / "bin" / "matcached"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--get-repeat", type=int, default=200)
    args = parser.parse_args()

    source = np.random.default_rng(0).standard_normal((args.mib << 20) // 8)
    with contextlib.ExitStack() as stack:
        address = args.address or stack.enter_context(
            _own_server(args.matcached, args.shm_dir))
        client = stack.enter_context(matcache.Client(address, local=True))
        shm_dir = client.stats().shm_dir
        huge = bool({"huge=within_size", "huge=always"}
                    & set(_mount_options(shm_dir)))
        print(f"{args.mib} MiB float64; server {address}, shm_dir {shm_dir}; "
              f"medians of {args.repeat} (gets that only map: "
              f"{args.get_repeat})\n")
        ours = bench_matcache(client, source, args.repeat, args.get_repeat)
    hack = bench_hack(source, args.repeat, args.get_repeat)
    return 0 if report(ours, hack, shm_dir, huge) else 1


if __name__ == "__main__":
    sys.exit(main())
