"""How the server's costs grow with the number of matrices it holds: the
same figures with 10 small matrices and with scale.scale_matrices, in the
same run and on the same server — Info p50 (bench/load_gen, one call in
flight), a put of a small matrix, a /metrics scrape, the server's own memory
(RssAnon: the heap, not the segments' pages), then a List of all of them
(paged) and a restart that recovers them. The load average at the start
and the end (bench/run takes it) says how much else ran."""

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
from suite.samples import Measurement

FAMILY = "scale"
FEW = 10
INFO = "Info p50"
PUT = "put of 16 float64"
METRICS = "/metrics scrape"
MEMORY = "server memory (RssAnon)"
PER_MATRIX = "server memory per matrix"
LIST = "List of every matrix (paged)"
RESTART = "restart: recovery until the first answer"
INFO_SECONDS = 2.0
PUTS = 50
SCRAPES = 10
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
    shm_dir = pathlib.Path(tempfile.mkdtemp(prefix="matcache-bench-scale-",
                                            dir=env.shm_parent))
    store = {"shm_dir": shm_dir, "namespace": f"scale{secrets.token_hex(4)}"}
    try:
        with servers.matcached(env.matcached, env.shm_parent, **store) as server:
            with matcache.Client(server.unix, timeout=600) as client:
                _put_all(server, names[:FEW])
                results += _figures(env, server, client, names[0], FEW)
                env.log(f"scale: putting {many - FEW} more matrices")
                _put_all(server, names[FEW:])
                results += _figures(env, server, client, names[0], many)
                before = time.perf_counter()
                listed = client.list(prefix)
                results.append(Measurement(
                    FAMILY, f"{LIST}, {held(many)}", "ms", "ms", 0,
                    [(time.perf_counter() - before) * 1e3]))
                if len(listed) != many:
                    raise RuntimeError(
                        f"List gave {len(listed)} of {many} matrices")
        grown = _median(results, f"{MEMORY}, {held(many)}") - \
            _median(results, f"{MEMORY}, {held(FEW)}")
        results.append(Measurement(FAMILY, PER_MATRIX, "bytes", "B", 0,
                                   [grown / (many - FEW)]))
        results.append(_restart(env, store, many))
    finally:
        shutil.rmtree(shm_dir, ignore_errors=True)
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


def _figures(env, server, client, name, count):
    """Info p50, put, /metrics and the server's RssAnon with `count`
    matrices held."""
    suffix = held(count)
    info = capacity.run_load_gen(capacity.load_gen_binary(env), server, "info",
                                 {"info": name}, INFO_SECONDS, channels=1,
                                 in_flight=1)
    puts = []
    for i in range(PUTS):
        before = time.perf_counter()
        client.put(f"scale.extra.{i}", TINY)
        puts.append((time.perf_counter() - before) * 1e3)
        client.delete(f"scale.extra.{i}")
    scrapes = []
    for _ in range(SCRAPES):
        before = time.perf_counter()
        with urllib.request.urlopen(f"http://{server.http}/metrics") as got:
            got.read()
        scrapes.append((time.perf_counter() - before) * 1e3)
    return [
        Measurement(FAMILY, f"{INFO}, {suffix}", "µs", "µs", 0,
                    [info["kinds"]["info"]["p50_us"]]),
        Measurement(FAMILY, f"{PUT}, {suffix}", "ms", "ms", 0, puts),
        Measurement(FAMILY, f"{METRICS}, {suffix}", "ms", "ms", 0, scrapes),
        Measurement(FAMILY, f"{MEMORY}, {suffix}", "bytes", "B", 0,
                    [_rss_anon(server.pid)]),
    ]


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
