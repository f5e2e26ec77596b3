#!/usr/bin/python3
"""Loading a .npy file into matcache (Load with eager=True) against np.load of
the same file, in the same run. Run by hand; it is not a test:

    PYTHONPATH=build/python /usr/bin/python3 bench/load_bench.py [--mib 1024]

It writes a float64 .npy file of --mib MiB into a temporary directory (on
disk, so both readers find it in the page cache after a warm-up read),
starts its own matcached with that directory as --data_dir, and reports
medians over --repeat runs. Target: matcache's load takes at most 1.5 times
np.load's.
"""

import argparse
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import matcache

REPO = pathlib.Path(__file__).resolve().parent.parent


def _median_ms(samples):
    return statistics.median(samples) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--matcached", default=str(REPO / "build/bin/matcached"))
    parser.add_argument("--shm_dir", default="/dev/shm")
    args = parser.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="matcache-load-bench-"))
    shm = pathlib.Path(tempfile.mkdtemp(prefix="matcache-load-bench-",
                                        dir=args.shm_dir))
    server = None
    try:
        path = work / "m.npy"
        np.save(path, np.arange(args.mib * (1 << 20) // 8, dtype=np.float64))
        address = f"unix:{work}/m.sock"
        server = subprocess.Popen(
            [args.matcached, "--listen", address, "--shm_dir", str(shm),
             "--namespace", "loadbench", "--data_dir", str(work)],
            stderr=subprocess.DEVNULL)
        with matcache.Client(address) as client:
            for _ in range(100):
                try:
                    client.stats()
                    break
                except matcache.UnavailableError:
                    time.sleep(0.1)
            np.load(path)  # warm the page cache
            numpy_times, matcache_times = [], []
            for _ in range(args.repeat):
                start = time.perf_counter()
                array = np.load(path)
                numpy_times.append(time.perf_counter() - start)
                del array
                start = time.perf_counter()
                client.load("m", "m.npy", eager=True)
                matcache_times.append(time.perf_counter() - start)
                client.delete("m")
        numpy_ms = _median_ms(numpy_times)
        matcache_ms = _median_ms(matcache_times)
        ratio = matcache_ms / numpy_ms
        print(f"{args.mib} MiB float64 .npy, medians of {args.repeat}")
        print(f"np.load:        {numpy_ms:8.1f} ms "
              f"({min(numpy_times) * 1e3:.0f}-{max(numpy_times) * 1e3:.0f})")
        print(f"matcache load:  {matcache_ms:8.1f} ms "
              f"({min(matcache_times) * 1e3:.0f}-{max(matcache_times) * 1e3:.0f})")
        verdict = "MET    " if ratio <= 1.5 else "NOT MET"
        print(f"{verdict} load <= 1.5x np.load: {ratio:.2f}x")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
