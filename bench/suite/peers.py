"""Every way a user can store a matrix and get it back, as Peer objects
that put_get times side by side: matcache local (on /dev/shm, there without
a spare file, and on a huge-page tmpfs), matcache remote, matcache's Load of
a .npy file, the shared_memory hack, np.save + np.load, and Redis."""

import contextlib
import dataclasses
import secrets
import typing

import numpy as np

import matcache

from suite import shm_hack
from suite.samples import Measurement, size_label

LOCAL_SHM = "matcache local, /dev/shm"
LOCAL_SHM_NO_SPARE = "matcache local, /dev/shm, no spare file"
LOCAL_HUGE = "matcache local, huge-page tmpfs"
REMOTE = "matcache remote (TCP stream)"
HACK_PUT = "shm hack: create + copy"
HACK_VIEW = "shm hack: attach + view"
HACK_COPY = "shm hack: attach + .copy()"
NP_SAVE = "np.save (.npy on disk)"
NP_LOAD = "np.load (.npy in page cache)"
LOAD_SHM = "matcache Load (.npy, eager), /dev/shm"
LOAD_HUGE = "matcache Load (.npy, eager), huge-page tmpfs"
NP_LOAD_SOURCE = "np.load of the Load's source (.npy in page cache)"
REDIS = "Redis"
# The file Load peers read, written once per size before their puts.
LOAD_SOURCE = "source.npy"


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


@dataclasses.dataclass
class Get:
    """One way to get the stored copy back: `fetch()` returns the array (or
    None for a get that only maps), timed `many` or not."""

    subject: str
    fetch: typing.Callable
    many: bool = False


@dataclasses.dataclass
class Peer:
    """put(source) stores one copy of a vector; remove() drops it; `gets`
    are timed while a copy is stored; check(size) verifies that copy. When
    the peer cannot run, `skipped` says why."""

    subject: str
    put: typing.Callable = None
    remove: typing.Callable = None
    gets: list = dataclasses.field(default_factory=list)
    check: typing.Callable = None
    skipped: str = ""

    def skipped_measurements(self, family, put_metric, get_metric, size):
        """The Measurements this peer would have given, marked skipped."""
        return [Measurement(family, self.subject, put_metric, "ms", size,
                            skipped=self.skipped)] + [
            Measurement(family, get.subject, get_metric, "ms", size,
                        skipped=self.skipped) for get in self.gets]


def _matcache(client, subject, get_subject, many):
    name = f"bench.{secrets.token_hex(4)}"

    def remove():
        with contextlib.suppress(matcache.NotFoundError):
            client.delete(name)

    gets = [] if get_subject is None else \
        [Get(get_subject, lambda: client.get(name), many)]
    return Peer(subject, lambda source: client.put(name, source), remove,
                gets, lambda size: check_vector(client.get(name), size))


def _matcache_load(client, subject):
    name = f"bench.load.{secrets.token_hex(4)}"
    return Peer(subject,
                lambda source: client.load(name, LOAD_SOURCE, eager=True),
                lambda: client.delete(name), [],
                lambda size: check_vector(client.get(name), size))


def _numpy_load(path):
    """np.load of the file the Load peers read, as a "put" timed among
    theirs: what Load is measured against."""
    loaded = []
    return Peer(NP_LOAD_SOURCE, lambda source: loaded.append(np.load(path)),
                loaded.clear, [], lambda size: check_vector(loaded[0], size))


def _hack():
    segments = []  # at most one

    def attach(then):
        segment = segments[0]
        with shm_hack.attached(segment.name, (segment.size // 8,),
                               np.float64) as array:
            return then(array)

    return Peer(
        HACK_PUT, lambda source: segments.append(shm_hack.put(source)),
        lambda: shm_hack.remove(segments.pop()),
        [Get(HACK_VIEW, lambda: attach(lambda array: None), True),
         Get(HACK_COPY, lambda: attach(lambda array: array.copy()))],
        lambda size: attach(lambda array: check_vector(array, size)))


def _npy(path):
    return Peer(NP_SAVE, lambda source: np.save(path, source),
                lambda: path.unlink(missing_ok=True),
                [Get(NP_LOAD, lambda: np.load(path))],
                lambda size: check_vector(np.load(path), size))


def _redis(env, size):
    get = Get(REDIS, None)
    if env.redis is None:
        return Peer(REDIS, gets=[get], skipped=env.redis_reason)
    limit = env.redis.max_value_bytes()
    if size > limit:
        return Peer(REDIS, gets=[get], skipped=f"cannot store (values ≤ "
                                               f"{size_label(limit)})")
    key = "vector"
    get.fetch = lambda: env.redis.get_into_array(key, size).view(np.float64)
    return Peer(
        REDIS,
        lambda source: env.redis.command("SET", key,
                                         memoryview(source).cast("B")),
        lambda: env.redis.command("DEL", key), [get],
        lambda size: check_vector(get.fetch(), size))


def _unavailable(subject, reason, get_subject=None):
    gets = [] if get_subject is None else [Get(get_subject, None)]
    return Peer(subject, gets=gets, skipped=reason)


def all_peers(env, size, stack):
    """Every peer for vectors of `size` bytes; clients they use are closed
    by the ExitStack `stack`."""
    def client(address, local):
        return stack.enter_context(
            matcache.Client(address, local=local, timeout=600))

    shm = client(env.shm.unix, True)
    peers = [_matcache(shm, LOCAL_SHM, LOCAL_SHM, True),
             _matcache(client(env.shm_no_spare.unix, True), LOCAL_SHM_NO_SPARE,
                       None, False)]
    if env.huge is None:
        peers.append(_unavailable(LOCAL_HUGE, env.huge_reason, LOCAL_HUGE))
    else:
        huge = client(env.huge.unix, True)
        peers.append(_matcache(huge, LOCAL_HUGE, LOCAL_HUGE, True))
    peers += [_matcache(client(env.shm.tcp, False), REMOTE, REMOTE, False),
              _hack(), _npy(env.data_dir / "saved.npy"),
              _matcache_load(shm, LOAD_SHM),
              _numpy_load(env.data_dir / LOAD_SOURCE)]
    peers.append(_unavailable(LOAD_HUGE, env.huge_reason) if env.huge is None
                 else _matcache_load(huge, LOAD_HUGE))
    peers.append(_redis(env, size))
    return peers
