"""Everything one run measures against, started together and torn down
together: a matcached on /dev/shm, another there without a spare file, one
on a huge-page tmpfs when it can be mounted, redis-server, and a directory on
disk for .npy files."""

import contextlib
import dataclasses
import pathlib
import shutil
import tempfile
import typing

from suite import servers
from suite.scale import Scale


@dataclasses.dataclass
class Environment:
    """The run's scale and servers. `huge` and `redis` are None when not
    available, and then `huge_reason` / `redis_reason` say why. `log`
    prints one progress line."""

    scale: Scale
    matcached: str
    read_bench: pathlib.Path
    shm_parent: str
    data_dir: pathlib.Path
    shm: servers.Matcached
    shm_no_spare: servers.Matcached  # --spare_bytes=0: every put allocates
    huge: typing.Optional[servers.Matcached]
    huge_reason: str
    redis: object
    redis_reason: str
    log: typing.Callable[[str], None]


@contextlib.contextmanager
def started(scale, matcached, read_bench, shm_parent, log):
    """Starts every server of a run; yields an Environment; stops them,
    unmounts and removes every temporary directory at exit."""
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="matcache-bench-npy-"))
    try:
        with contextlib.ExitStack() as stack:
            shm = stack.enter_context(servers.matcached(
                matcached, shm_parent, data_dir=data_dir))
            shm_no_spare = stack.enter_context(servers.matcached(
                matcached, shm_parent, extra_args=("--spare_bytes", "0")))
            mount, huge_reason = stack.enter_context(
                servers.huge_tmpfs(scale.huge_tmpfs_bytes))
            huge = None if mount is None else stack.enter_context(
                servers.matcached(matcached, mount, data_dir=data_dir))
            redis, redis_reason = stack.enter_context(servers.redis_server())
            yield Environment(scale, matcached, pathlib.Path(read_bench),
                              shm_parent, data_dir, shm, shm_no_spare, huge,
                              huge_reason,
                              redis, redis_reason, log)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
