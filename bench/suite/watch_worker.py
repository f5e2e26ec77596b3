"""The watchers of the watch family, each in a process of its own (spawned,
so gRPC starts fresh): one that stamps each put it is told of, or many that
only take their events."""

import threading
import time

import matcache

# A put of this name ends the stamping watcher.
END = "bench.watch.end"


def _started(watch):
    """Takes a watch's snapshot up to its end marker: the server has it
    registered from then on."""
    for event in watch:
        if event.kind == "snapshot_complete":
            return


def stamp(address, prefix, ready, stamps):
    """Watches `prefix`; puts (generation, time.monotonic_ns()) on `stamps`
    as each put arrives, until a put of END. Puts None on `ready` once
    watching."""
    with matcache.Client(address) as client, \
            client.watch(prefix, initial=True) as watch:
        _started(watch)
        ready.put(None)
        for event in watch:
            if event.kind != "put":
                continue
            now = time.monotonic_ns()
            if event.name == END:
                return
            stamps.put((event.generation, now))


def drain(address, prefix, count, ready, stop):
    """Keeps `count` watches of `prefix`, each taking its events in a thread
    of its own, until the event `stop` is set; puts `count` on `ready` once
    every one is registered."""
    with matcache.Client(address) as client:
        watches = [client.watch(prefix, initial=True) for _ in range(count)]
        for watch in watches:
            _started(watch)
        threads = [threading.Thread(target=lambda w=watch: [None for _ in w])
                   for watch in watches]
        for thread in threads:
            thread.start()
        ready.put(count)
        stop.wait()
        for watch in watches:
            watch.cancel()
        for thread in threads:
            thread.join()
