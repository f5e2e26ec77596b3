"""The multiprocessing.shared_memory hack that matcache replaces
(docs/architecture.md §1): the creator copies a matrix into a /dev/shm segment and patches the
resource tracker so the segment outlives it; readers attach by name, with
shape and dtype known out of band, and get a writable view."""

import contextlib
from multiprocessing import resource_tracker, shared_memory

import numpy as np


def put(source):
    """Creates a segment holding a copy of `source`; returns it (the caller
    removes it with remove())."""
    segment = shared_memory.SharedMemory(create=True, size=source.nbytes)
    # The hack's patch: the creator's tracker must not unlink at exit.
    resource_tracker.unregister(segment._name, "shared_memory")
    np.ndarray(source.shape, source.dtype, buffer=segment.buf)[...] = source
    return segment


def remove(segment):
    """Unmaps and unlinks a segment made by put()."""
    segment.close()
    # unlink() unregisters from the tracker again; balance that first.
    resource_tracker.register(segment._name, "shared_memory")
    segment.unlink()


@contextlib.contextmanager
def attached(name, shape, dtype):
    """Attaches to segment `name`; yields its view as an array of `shape`
    and `dtype`, valid until the context exits."""
    segment = shared_memory.SharedMemory(name=name)
    # Python registers attaching processes too; without this, the reader's
    # exit would unlink the segment (the bug of docs/architecture.md §1).
    resource_tracker.unregister(segment._name, "shared_memory")
    array = np.ndarray(shape, dtype, buffer=segment.buf)
    try:
        yield array
    finally:
        del array
        segment.close()
