"""Info round trips, the unary call every local get starts with, over the
unix socket and over loopback TCP."""

import secrets

import numpy as np

import matcache

from suite.samples import Measurement, repeat_ms

FAMILY = "round_trip"
METRIC = "Info round trip"
UNIX = "Info, unix socket"
TCP = "Info, TCP loopback"


def run(env):
    """Latencies (ms) of scale.info_calls Info calls per transport."""
    env.log("Info round trips")
    name = f"bench.rtt.{secrets.token_hex(4)}"
    results = []
    with matcache.Client(env.shm.unix) as writer:
        writer.put(name, np.zeros((10, 10)))
        try:
            for subject, address in ((UNIX, env.shm.unix), (TCP, env.shm.tcp)):
                with matcache.Client(address) as client:
                    client.info(name)  # connects
                    results.append(Measurement(
                        FAMILY, subject, METRIC, "ms", 0,
                        repeat_ms(lambda: client.info(name),
                                  env.scale.info_calls)))
        finally:
            writer.delete(name)
    return results
