"""Watching the changes a server makes: the events of Client.watch and the
stream that yields them."""

import dataclasses

import grpc

from matcache import errors
from matcache.info import MatrixInfo
from matcache.v1 import matcache_pb2 as pb

_KINDS = {
    pb.WATCH_EVENT_KIND_PUT: "put",
    pb.WATCH_EVENT_KIND_DELETE: "delete",
    pb.WATCH_EVENT_KIND_SNAPSHOT_COMPLETE: "snapshot_complete",
}
_REASONS = {
    pb.CHANGE_REASON_PUT: "put",
    pb.CHANGE_REASON_LOAD: "load",
    pb.CHANGE_REASON_DELETE: "delete",
    pb.CHANGE_REASON_EVICTION: "eviction",
    pb.CHANGE_REASON_EXPIRY: "expiry",
    pb.CHANGE_REASON_SNAPSHOT: "snapshot",
}


@dataclasses.dataclass(frozen=True)
class Event:
    """One event of a watch.

    Attributes:
        kind: "put" (a version was published; in the initial snapshot: is
            published), "delete" (a version was removed) or
            "snapshot_complete" (every matrix of the initial snapshot came
            before; the changes made since follow).
        reason: why: "put", "load" (read from its .npy source), "delete",
            "eviction", "expiry", or "snapshot" for the initial snapshot;
            None for "snapshot_complete".
        name: the matrix; "" for "snapshot_complete".
        generation: the version published or removed.
        info: the MatrixInfo of the version published (kind "put"), as
            info() described it then; None otherwise.
        sequence: the change's place in the server's commit order, one more
            for each change of any name since the server started; for the
            snapshot and its end, the last change the snapshot reflects.
    """

    kind: str
    reason: str
    name: str
    generation: int
    info: MatrixInfo = None
    sequence: int = 0

    @classmethod
    def from_proto(cls, message):
        """Builds an Event from a matcache.v1.WatchEvent message."""
        kind = _KINDS.get(message.kind)
        if kind is None:
            raise errors.MatcacheError(
                f"the server sent a watch event of unknown kind {message.kind}")
        return cls(
            kind=kind,
            reason=_REASONS.get(message.reason),
            name=message.name,
            generation=int(message.generation),
            info=MatrixInfo.from_proto(message.info) if kind == "put" else None,
            sequence=int(message.sequence))


class Watch:
    """The Events of one Client.watch, in the server's commit order, as an
    iterator: next() waits for the next one.

    cancel(), from any thread, ends the watch: the iterator stops, also in
    a thread waiting in next(). A watch the server ends raises from next():
    EventsLostError if it fell behind (list again, then watch anew),
    UnavailableError if the server shuts down or cannot be reached,
    PermissionDeniedError without the read token, and DeadlineExceededError
    past the deadline it was given. Also a context manager, which cancels
    it at exit.
    """

    def __init__(self, responses, address):
        self._responses = responses
        self._address = address
        self._cancelled = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return Event.from_proto(next(self._responses))
        except grpc.RpcError as e:
            if self._cancelled:
                raise StopIteration from None
            raise errors.from_rpc_error(e, self._address) from None

    def cancel(self):
        """Ends the watch; harmless if it ended already."""
        self._cancelled = True
        self._responses.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.cancel()
