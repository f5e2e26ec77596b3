"""Command line of the benchmark suite (bench/run passes its arguments
here). Exits 1 if the load test saw an error or left a segment behind;
performance targets are printed and reported, never turned into a failure."""

import argparse
import dataclasses
import json
import os
import pathlib
import shlex
import signal
import sys
import tempfile
import time

from suite import (capacity, catalogue_scale, environment, fresh_pass, http, load_test,
                   machine, plots, put_get, remote, report, round_trip,
                   samples, targets, watch)
from suite.scale import FULL, QUICK, SMOKE

REPO = pathlib.Path(__file__).resolve().parents[2]
FAMILIES = {"put_get": put_get.run, "fresh_pass": fresh_pass.run,
            "remote": remote.run, "round_trip": round_trip.run,
            "http": http.run, "watch": watch.run, "capacity": capacity.run,
            "scale": catalogue_scale.run}
ALL = (*FAMILIES, "load")


def _arguments():
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Measures matcache against the shared_memory hack, "
                    "np.load and Redis, runs a load test, and writes "
                    "report.md and PNG plots.")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true",
                       help="smaller sizes and fewer runs (a few minutes)")
    scale.add_argument("--smoke", action="store_true",
                       help="tiny sizes, a short load test, output in a temp "
                            "dir unless --out: checks the suite works")
    parser.add_argument("--out", type=pathlib.Path,
                        help="output directory (default bench/results)")
    parser.add_argument("--only", default=",".join(ALL),
                        help=f"comma-separated families to run, of "
                             f"{', '.join(ALL)} (default: all)")
    parser.add_argument("--minutes", type=float,
                        help="soak: run the load test this long instead of "
                             "the scale's seconds")
    parser.add_argument("--matcached", default=os.environ.get(
        "MATCACHED", str(REPO / "build" / "bin" / "matcached")),
                        help="server binary (default $MATCACHED, else "
                             "build/bin/matcached)")
    parser.add_argument("--read_bench",
                        help="C++ reader binary (default: read_bench beside "
                             "the server binary)")
    parser.add_argument("--shm_dir", default="/dev/shm",
                        help="tmpfs in which the servers get directories")
    args = parser.parse_args()
    args.scale = SMOKE if args.smoke else QUICK if args.quick else FULL
    args.families = [f for f in args.only.split(",") if f]
    unknown = set(args.families) - set(ALL)
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}: use {list(ALL)}")
    if args.read_bench is None:
        args.read_bench = str(pathlib.Path(args.matcached).parent /
                              "read_bench")
    if args.out is None:
        args.out = pathlib.Path(tempfile.mkdtemp(prefix="matcache-smoke-")) \
            if args.smoke else REPO / "bench" / "results"
    return args


def _log(line):
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def _raw(measurements, load):
    """The run's values as JSON-ready data."""
    raw = {"measurements": [dataclasses.asdict(m) for m in measurements]}
    if load is not None:
        raw["load"] = dict(load, calls={
            call: m.values for call, m in load["calls"].items()})
    return raw


def _measured(family, run, env):
    """`run(env)`'s measurements, between the load average and the memory
    returned to the VM's host at its start and at its end (logged too), so
    that a noisy family shows."""
    start = samples.load_average(family, "start")
    returned_start = samples.memory_returned(family, "start")
    _log(f"{family}: load average {start.median:.2f} at the start")
    measured = run(env)
    end = samples.load_average(family, "end")
    returned_end = samples.memory_returned(family, "end")
    returned = ""
    if returned_start is not None and returned_end is not None:
        returned = (f"; {(returned_end.median - returned_start.median) / (1 << 20):.1f} "
                    f"GiB of freed memory returned to the host meanwhile")
    _log(f"{family}: load average {end.median:.2f} at the end{returned}")
    return [m for m in (start, returned_start, *measured, end, returned_end)
            if m is not None]


def main():
    args = _arguments()
    # SIGTERM unwinds like Ctrl-C, so servers, mounts and files are cleaned.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if not pathlib.Path(args.matcached).exists():
        raise SystemExit(f"bench/run: no server binary at {args.matcached}: "
                         f"build first (cmake --build build) or pass "
                         f"--matcached")
    command = shlex.join(["bench/run", *sys.argv[1:]])
    described = machine.describe()
    _log(f"{command}: {args.scale.name} scale on {described}")
    measurements, load = [], None
    with environment.started(args.scale, args.matcached, args.read_bench,
                             args.shm_dir, _log) as env:
        for family, run in FAMILIES.items():
            if family in args.families:
                measurements += _measured(family, run, env)
        if "load" in args.families:
            seconds = args.minutes * 60 if args.minutes \
                else args.scale.load_seconds
            load = load_test.run(env, seconds)
    checked = targets.check(measurements, args.scale.sizes)
    args.out.mkdir(parents=True, exist_ok=True)
    report.write(args.out / "report.md", command, described, args.scale,
                 measurements, checked, load)
    plots.write(args.out, measurements, load)
    (args.out / "results.json").write_text(
        json.dumps(_raw(measurements, load), indent=1, default=str))
    print()
    for target in checked:
        print(target.line())
    if load is not None:
        for line in report.load_lines(load):
            print(line)
    print(f"\nreport and plots in {args.out}")
    broken = load is not None and (load["errors"] or load["leaked"])
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
