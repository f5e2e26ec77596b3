"""Put and get of a float64 vector at each size, for matcache and every
peer a user would otherwise pick, in the same run. A get is timed to a
usable array: matcache's local get is Info + map, the hack's an attach
(view or .copy()), the others copy every byte."""

import contextlib
import secrets

import numpy as np

import matcache

from suite import shm_hack
from suite.samples import Measurement, repeat_ms, size_label, time_ms

FAMILY = "put_get"
PUT = "put"
GET = "get"
LOCAL_SHM = "matcache local, /dev/shm"
LOCAL_HUGE = "matcache local, huge-page tmpfs"
REMOTE = "matcache remote (TCP stream)"
HACK_PUT = "shm hack: create + copy"
HACK_VIEW = "shm hack: attach + view"
HACK_COPY = "shm hack: attach + .copy()"
NP_SAVE = "np.save (.npy on disk)"
NP_LOAD = "np.load (.npy in page cache)"
LOAD_SHM = "matcache Load (.npy, eager), /dev/shm"
LOAD_HUGE = "matcache Load (.npy, eager), huge-page tmpfs"
REDIS = "Redis"


def vector(size):
    """A float64 vector of `size` bytes, element i = i (cheap to make and to
    check)."""
    return np.arange(size // 8, dtype=np.float64)


def check_vector(array, size):
    """Raises RuntimeError unless `array` is what vector(size) made."""
    count = size // 8
    if array.shape != (count,) or array[0] != 0 or array[-1] != count - 1:
        raise RuntimeError(f"a {size_label(size)} get returned different "
                           f"data (shape {array.shape})")


def run(env):
    """All measurements of this family, size by size."""
    results = []
    for size in env.scale.sizes:
        env.log(f"put/get {size_label(size)}")
        repeat = env.scale.repeat_for(size)
        results += _matcache(env.shm.unix, True, LOCAL_SHM, size, repeat,
                             env.scale.map_repeat)
        if env.huge is None:
            results += [Measurement(FAMILY, LOCAL_HUGE, metric, "ms", size,
                                    skipped=env.huge_reason)
                        for metric in (PUT, GET)]
        else:
            results += _matcache(env.huge.unix, True, LOCAL_HUGE, size,
                                 repeat, env.scale.map_repeat)
        results += _matcache(env.shm.tcp, False, REMOTE, size, repeat, repeat)
        results += _hack(size, repeat, env.scale.map_repeat)
        results += _npy(env, size, repeat)
        results += _redis(env, size, repeat)
    return results


def _put_times(size, repeat, put, remove):
    """Makes vector(size) and puts it once untimed (first touches of fresh
    memory cost more), then `repeat` times, each after remove() of the
    previous copy; returns the put times (ms). The last copy stays; the
    source is freed on return."""
    source = vector(size)
    put(source)
    times = []
    for _ in range(repeat):
        remove()
        times.append(time_ms(lambda: put(source))[0])
    return times


def _matcache(address, local, subject, size, put_repeat, get_repeat):
    """Put and get through a matcache.Client(address, local=local)."""
    name = f"bench.{secrets.token_hex(4)}"
    with matcache.Client(address, local=local, timeout=600) as client:
        try:
            # A delete before each put, as the hack creates a fresh segment:
            # a replace would also free the previous version while timed.
            puts = _put_times(size, put_repeat,
                              lambda source: client.put(name, source),
                              lambda: client.delete(name))
            gets = repeat_ms(lambda: client.get(name), get_repeat)
            check_vector(client.get(name), size)
        finally:
            with contextlib.suppress(matcache.NotFoundError):
                client.delete(name)
    return [Measurement(FAMILY, subject, PUT, "ms", size, puts),
            Measurement(FAMILY, subject, GET, "ms", size, gets)]


def _hack(size, put_repeat, map_repeat):
    """The hack's put, attach + view and attach + .copy()."""
    segments = []  # one at a time: memory stays bounded
    try:
        puts = _put_times(
            size, put_repeat,
            lambda source: segments.append(shm_hack.put(source)),
            lambda: shm_hack.remove(segments.pop()))

        def attach(then):
            with shm_hack.attached(segments[0].name, (size // 8,),
                                   np.float64) as array:
                return then(array)

        views = repeat_ms(lambda: attach(lambda array: None), map_repeat)
        copies = repeat_ms(lambda: attach(lambda array: array.copy()),
                           put_repeat)
        attach(lambda array: check_vector(array, size))
    finally:
        for segment in segments:
            shm_hack.remove(segment)
    return [Measurement(FAMILY, HACK_PUT, PUT, "ms", size, puts),
            Measurement(FAMILY, HACK_VIEW, GET, "ms", size, views),
            Measurement(FAMILY, HACK_COPY, GET, "ms", size, copies)]


def _npy(env, size, repeat):
    """np.save, np.load from the page cache, and matcache's eager Load of
    the same file (env.data_dir is the servers' --data_dir)."""
    path = env.data_dir / "vector.npy"
    try:
        saves = _put_times(size, repeat,
                           lambda source: np.save(path, source), lambda: None)
        check_vector(np.load(path), size)  # and the file is in the page cache
        results = [Measurement(FAMILY, NP_SAVE, PUT, "ms", size, saves),
                   Measurement(FAMILY, NP_LOAD, GET, "ms", size,
                               repeat_ms(lambda: np.load(path), repeat))]
        results.append(_server_load(env.shm, LOAD_SHM, path.name, size,
                                    repeat))
        results.append(
            _server_load(env.huge, LOAD_HUGE, path.name, size, repeat)
            if env.huge is not None else
            Measurement(FAMILY, LOAD_HUGE, PUT, "ms", size,
                        skipped=env.huge_reason))
    finally:
        path.unlink(missing_ok=True)
    return results


def _server_load(server, subject, file_name, size, repeat):
    """Times of eager Loads of `file_name` into `server`."""
    name = f"bench.load.{secrets.token_hex(4)}"
    times = []
    with matcache.Client(server.unix, timeout=600) as client:
        for _ in range(repeat):
            times.append(time_ms(
                lambda: client.load(name, file_name, eager=True))[0])
            client.delete(name)
    return Measurement(FAMILY, subject, PUT, "ms", size, times)


def _redis(env, size, repeat):
    """SET and GET (into a new array) of the vector's bytes, or "cannot
    store" beyond Redis's value limit."""
    if env.redis is None:
        reason = env.redis_reason
    else:
        limit = env.redis.max_value_bytes()
        reason = "" if size <= limit else \
            f"cannot store (values ≤ {size_label(limit)})"
    if reason:
        return [Measurement(FAMILY, REDIS, metric, "ms", size, skipped=reason)
                for metric in (PUT, GET)]
    key = "vector"
    try:
        sets = _put_times(
            size, repeat,
            lambda source: env.redis.command("SET", key,
                                             memoryview(source).cast("B")),
            lambda: env.redis.command("DEL", key))
        gets = repeat_ms(lambda: env.redis.get_into_array(key, size)
                         .view(np.float64), repeat)
        check_vector(env.redis.get_into_array(key, size).view(np.float64),
                     size)
    finally:
        env.redis.command("DEL", key)
    return [Measurement(FAMILY, REDIS, PUT, "ms", size, sets),
            Measurement(FAMILY, REDIS, GET, "ms", size, gets)]
