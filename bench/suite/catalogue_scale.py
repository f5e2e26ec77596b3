"""How the server's costs grow with the number of matrices it holds: the
same figures from a server holding 10 small matrices and one holding
scale.scale_matrices, taken in turn (A B B A …, ROUNDS rounds) so that
whatever else runs meanwhile slows both alike — Info p50 (bench/load_gen,
one call in flight), a put of a small matrix, a /metrics scrape, the
server's own memory (RssAnon: the heap, not the segments' pages) — then a
List of all of them (paged) and a restart that recovers them. The load
average at the start and the end (bench/run takes it) says how much else
ran."""

import contextlib
import pathlib
import secrets
import shutil
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import matcache

from suite import capacity, servers
from suite.samples import Measurement, turn_order

FAMILY = "scale"
FEW = 10
INFO = "Info p50"
PUT = "put of 16 float64"
METRICS = "/metrics scrape"
MEMORY = "server memory (RssAnon)"
PER_MATRIX = "server memory per matrix"
LIST = "List of every matrix (paged)"
RESTART = "restart: recovery until the first answer"
ROUNDS = 4
INFO_SECONDS = 0.5  # per round and server
PUTS = 12  # per round and server
SCRAPES = 3  # per round and server
WRITERS = 4
TINY = np.arange(16, dtype=np.float64)


def held(count):
    """The subject suffix of a figure taken with `count` matrices held."""
    return f"{count} matrices"


def run(env):
    """The figures with FEW and with scale.scale_matrices matrices."""
    many = env.scale.scale_matrices
    results = []
    prefix = f"scale.{secrets.token_hex(4)}."
    names = [f"{prefix}{i:06d}" for i in range(many)]
    stores = {count: {"shm_dir": pathlib.Path(tempfile.mkdtemp(
                          prefix="matcache-bench-scale-", dir=env.shm_parent)),
                      "namespace": f"scale{secrets.token_hex(4)}"}
              for count in (FEW, many)}
    try:
        with contextlib.ExitStack() as stack:
            holding = {count: stack.enter_context(servers.matcached(
                env.matcached, env.shm_parent, **store))
                for count, store in stores.items()}
            _put_all(holding[FEW], names[:FEW])
            env.log(f"scale: putting {many} matrices")
            _put_all(holding[many], names)
            results += _figures(env, holding, names[0])
            with matcache.Client(holding[many].unix, timeout=600) as client:
                before = time.perf_counter()
                listed = client.list(prefix)
                listing_ms = (time.perf_counter() - before) * 1e3
            results.append(Measurement(
                FAMILY, f"{LIST}, {held(many)}", "ms", "ms", 0, [listing_ms]))
            if len(listed) != many:
                raise RuntimeError(f"List gave {len(listed)} of {many} matrices")
        grown = _median(results, f"{MEMORY}, {held(many)}") - \
            _median(results, f"{MEMORY}, {held(FEW)}")
        results.append(Measurement(FAMILY, PER_MATRIX, "bytes", "B", 0,
                                   [grown / (many - FEW)]))
        results.append(_restart(env, stores[many], many))
    finally:
        for store in stores.values():
            shutil.rmtree(store["shm_dir"], ignore_errors=True)
    return results


def _median(results, subject):
    """The median of the measurement of `subject`."""
    return next(m.median for m in results if m.subject == subject)


def _put_all(server, names):
    """Puts TINY under each of `names`, from WRITERS clients at once."""
    clients = [matcache.Client(server.unix, timeout=600)
               for _ in range(WRITERS)]
    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(lambda i: clients[i % WRITERS].put(names[i], TINY),
                          range(len(names))))
    finally:
        for client in clients:
            client.close()


def _figures(env, holding, name):
    """Info p50, put and /metrics times of each server of `holding` (the
    number of matrices it holds: its server), taken in turn, and their
    RssAnon; each server holds `name`."""
    binary = capacity.load_gen_binary(env)
    info, puts, scrapes = ({count: [] for count in holding} for _ in range(3))
    for round_ in range(ROUNDS):
        for count in turn_order(holding, round_):
            server = holding[count]
            measured = capacity.run_load_gen(
                binary, server, "info", {"info": name}, INFO_SECONDS,
                channels=1, in_flight=1)
            info[count].append(measured["kinds"]["info"]["p50_us"])
            puts[count] += _put_times(server, PUTS)
            scrapes[count] += _scrape_times(server, SCRAPES)
    results = []
    for count, server in holding.items():
        suffix = held(count)
        results += [
            Measurement(FAMILY, f"{INFO}, {suffix}", "µs", "µs", 0, info[count]),
            Measurement(FAMILY, f"{PUT}, {suffix}", "ms", "ms", 0, puts[count]),
            Measurement(FAMILY, f"{METRICS}, {suffix}", "ms", "ms", 0,
                        scrapes[count]),
            Measurement(FAMILY, f"{MEMORY}, {suffix}", "bytes", "B", 0,
                        [_rss_anon(server.pid)]),
        ]
    return results


def _put_times(server, count):
    """ms of each of `count` puts of TINY to `server`, each deleted after."""
    times = []
    with matcache.Client(server.unix, timeout=600) as client:
        for i in range(count):
            before = time.perf_counter()
            client.put(f"scale.extra.{i}", TINY)
            times.append((time.perf_counter() - before) * 1e3)
            client.delete(f"scale.extra.{i}")
    return times


def _scrape_times(server, count):
    """ms of each of `count` scrapes of `server`'s /metrics."""
    times = []
    for _ in range(count):
        before = time.perf_counter()
        with urllib.request.urlopen(f"http://{server.http}/metrics") as got:
            got.read()
        times.append((time.perf_counter() - before) * 1e3)
    return times


def _rss_anon(pid):
    """The anonymous resident memory of process `pid`, in bytes."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no RssAnon")


def _restart(env, store, count):
    """Seconds from starting a server on `store` (shm_dir and namespace) to
    its first answer, with `count` matrices to recover."""
    before = time.perf_counter()
    with servers.matcached(env.matcached, env.shm_parent, **store) as again:
        seconds = time.perf_counter() - before
        with matcache.Client(again.unix, timeout=600) as client:
            recovered = client.stats().matrix_count
        if recovered != count:
            raise RuntimeError(f"recovered {recovered} of {count} matrices")
    return Measurement(FAMILY, f"{RESTART}, {held(count)}", "s", "s", 0,
                       [seconds])
