"""Plain-Python views of the server's metadata messages."""

import dataclasses
import datetime

import numpy as np

from matcache import dtypes


@dataclasses.dataclass(frozen=True)
class MatrixInfo:
    """Metadata of one published matrix version.

    Attributes:
        name: the matrix name.
        shape: extent of each dimension; () for a 0-d matrix.
        dtype: little-endian numpy dtype of the elements.
        nbytes: size of the data in bytes.
        generation: version number; a replace publishes a higher one.
            One sequence serves all names, so only the order of a name's
            generations means anything (they are not consecutive); 0 for a
            matrix with a source that is not read yet.
        id: the 16-byte random identifier of this version's segment.
        created: when this version was created, a UTC-aware datetime.
        path: the segment file on the server's host.
        data_offset: offset of the first data byte in that file.
        strides: byte strides of each dimension (C order).
        source: where the data came from; empty for puts.
        checksum: the data's checksum (XXH3-64 over the XXH3-64 of each
            16 MiB block; see server/core/format/checksum.h).
        last_access: when the server last published or looked up this
            matrix, a UTC-aware datetime; None if not told.
        original_dtype: the dtype the matrix was put with; differs from
            `dtype` when it was stored as another (put's store_dtype).
        pinned: whether the matrix is pinned (never evicted).
        expires: when the matrix will be deleted, a UTC-aware datetime;
            None if it does not expire.
    """

    name: str
    shape: tuple
    dtype: np.dtype
    nbytes: int
    generation: int
    id: bytes
    created: datetime.datetime
    path: str
    data_offset: int
    strides: tuple
    source: str
    checksum: int
    last_access: datetime.datetime = None
    pinned: bool = False
    expires: datetime.datetime = None
    original_dtype: np.dtype = None

    @classmethod
    def from_proto(cls, message):
        """Builds a MatrixInfo from a matcache.v1.MatrixInfo message."""
        return cls(
            name=message.name,
            shape=tuple(int(n) for n in message.shape),
            dtype=dtypes.from_proto(message.dtype),
            nbytes=int(message.nbytes),
            generation=int(message.generation),
            id=bytes(message.id),
            created=message.created.ToDatetime(tzinfo=datetime.timezone.utc),
            path=message.path,
            data_offset=int(message.data_offset),
            strides=tuple(int(n) for n in message.strides),
            source=message.source,
            checksum=int(message.checksum),
            last_access=(message.last_access.ToDatetime(
                tzinfo=datetime.timezone.utc)
                if message.HasField("last_access") else None),
            pinned=bool(message.pinned),
            original_dtype=(dtypes.from_proto(message.original_dtype)
                            if message.original_dtype else
                            dtypes.from_proto(message.dtype)),
            expires=(message.expires.ToDatetime(tzinfo=datetime.timezone.utc)
                     if message.HasField("expires") else None),
        )


@dataclasses.dataclass(frozen=True)
class Stats:
    """Server-wide counters (the fields of StatsResponse)."""

    matrix_count: int
    matrix_bytes: int
    staging_count: int
    staging_bytes: int
    shm_dir: str
    shm_dir_total_bytes: int
    shm_dir_free_bytes: int
    quarantined_count: int
    max_bytes: int
    used_bytes: int
    spare_bytes: int
    peak_used_bytes: int
    spare_pending: bool
    version: str
    evictions: int
    expirations: int
    loads: int
    hits: int
    misses: int
    watchers: int
    dropped_watchers: int

    @classmethod
    def from_proto(cls, message):
        """Builds Stats from a matcache.v1.StatsResponse message."""
        return cls(**{f.name: getattr(message, f.name)
                      for f in dataclasses.fields(cls)})
