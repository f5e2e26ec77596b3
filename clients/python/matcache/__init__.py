"""matcache: a cache of named numpy matrices held in shared memory by the
matcached server.

    import matcache
    with matcache.Client() as c:
        c.put("prices", array)     # zero-copy local write when possible
        a = c.get("prices")        # read-only array, a view of shared memory
        w = c.read("prices", np.s_[::10, 100:-100], dtype="float32")
        h = c.preview("prices", (500, 500), method="max")   # streamed
        info = c.wait_for("prices", newer_than=info.generation)  # a newer one
        for event in c.watch("pri"):   # puts and deletes as they happen
            ...

See Client for the API and matcache.errors for the exceptions.
"""

from matcache._version import __version__
from matcache.client import Client
from matcache.errors import (
    ClosedError,
    DeadlineExceededError,
    EventsLostError,
    FailedPreconditionError,
    InvalidArgumentError,
    LocalIOError,
    MatcacheError,
    NotFoundError,
    NotLocalError,
    PermissionDeniedError,
    ResourceExhaustedError,
    StatusError,
    UnauthenticatedError,
    UnavailableError,
)
from matcache.info import MatrixInfo, Stats
from matcache.watch import Event, Watch

__all__ = [
    "Client",
    "ClosedError",
    "DeadlineExceededError",
    "Event",
    "EventsLostError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "LocalIOError",
    "MatcacheError",
    "MatrixInfo",
    "NotFoundError",
    "NotLocalError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "Stats",
    "StatusError",
    "UnauthenticatedError",
    "UnavailableError",
    "Watch",
]
