"""Put and get of a float64 vector at each size, for matcache and every
peer a user would otherwise pick (suite.peers), in the same run.

Puts are timed interleaved, one put of each peer in turn, the order
reversed every round (A B C C B A …), after one untimed put of each: memory
a VM has not touched lately costs much more to fault in (the host reclaims
what the guest frees), and that cost is the machine's, not the peer's; a
burst of background load on a shared machine then hits every peer alike;
and no peer always comes right after the same other one, whose freed
memory it would always find in the same state. eager Load is timed among them against
np.load of the same file.

A get is timed to a usable array: matcache's local get is Info + map, the
hack's an attach (view or .copy()), the others copy every byte."""

import contextlib

import numpy as np

from suite import peers
from suite.samples import (Measurement, repeat_ms, size_label, time_ms,
                           turn_order)

FAMILY = "put_get"
PUT = "put"
GET = "get"


def run(env):
    """All measurements of this family, size by size."""
    results = []
    for size in env.scale.sizes:
        env.log(f"put/get {size_label(size)}")
        load_source = env.data_dir / peers.LOAD_SOURCE
        with contextlib.ExitStack() as stack:
            stack.callback(load_source.unlink, missing_ok=True)
            every = peers.all_peers(env, size, stack)
            ready = [peer for peer in every if not peer.skipped]
            for peer in every:
                if peer.skipped:
                    results += peer.skipped_measurements(FAMILY, PUT, GET,
                                                         size)
            np.save(load_source, peers.vector(size))
            results += _puts(ready, size, env.scale.repeat_for(size))
            load_source.unlink()
            for peer in ready:
                results += _gets(peer, size, env.scale.repeat_for(size),
                                 env.scale.map_repeat)
    return results


def _puts(ready, size, repeat):
    """`repeat` put times per peer, taken in turn (turn_order) after one
    untimed put of each; every copy is removed right after its put (one
    copy at most is stored, and a put never frees a previous copy while
    timed)."""
    source = peers.vector(size)
    times = {peer.subject: [] for peer in ready}
    for peer in ready:
        peer.put(source)
        peer.remove()
    for round_ in range(repeat):
        for peer in turn_order(ready, round_):
            times[peer.subject].append(time_ms(lambda: peer.put(source))[0])
            peer.remove()
    return [Measurement(FAMILY, subject, PUT, "ms", size, values)
            for subject, values in times.items()]


def _gets(peer, size, repeat, map_repeat):
    """Times of each of `peer`'s gets while one copy is stored."""
    if not peer.gets:
        return []
    peer.put(peers.vector(size))  # the source is freed right away
    try:
        peer.check(size)
        return [Measurement(FAMILY, get.subject, GET, "ms", size, repeat_ms(
            get.fetch, map_repeat if get.many else repeat))
            for get in peer.gets]
    finally:
        peer.remove()
