"""Direct access to segment files on this host.

A segment file starts with a 4 KiB header (layout in server/core/format/header.h)
followed by C-ordered little-endian data at a page-aligned offset. A client
maps a published file only if it can open it and the header's id is the one
the server named; otherwise the segment is not local (NotLocalError) and the
caller streams instead. Staging files are never opened by path nor mapped:
the client writes them with pwrite through the descriptor the server hands
over (matcache.handoff).
"""

import errno
import math
import mmap
import os

import numpy as np

from matcache.errors import MatcacheError, NotLocalError, from_os_error

HEADER_SIZE = 4096
MAGIC = b"MATCACHE"
STATE_SEALED = 2
_STATE = slice(12, 16)
_ID = slice(16, 32)
_NOT_LOCAL_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM,
                     errno.EROFS)


def _open(path, flags):
    """Opens an existing segment file; NotLocalError if this process cannot
    (no such file here, no permission, or a read-only mount)."""
    try:
        return os.open(path, flags)
    except OSError as e:
        if e.errno not in _NOT_LOCAL_ERRNOS:
            raise
        raise NotLocalError(f"cannot open segment {path}: {e.strerror}") from e


def _check_header(fd, path, segment_id, want_sealed):
    header = os.pread(fd, HEADER_SIZE, 0)
    if len(header) < HEADER_SIZE or header[:len(MAGIC)] != MAGIC:
        raise NotLocalError(f"{path} is not a matcache segment")
    if header[_ID] != segment_id:
        raise NotLocalError(
            f"{path} holds segment {header[_ID].hex()}, not {segment_id.hex()}")
    if want_sealed:
        state = int.from_bytes(header[_STATE], "little")
        if state != STATE_SEALED:
            raise NotLocalError(f"{path} is not sealed (state {state})")


def _element_count(shape, dtype, nbytes):
    count = math.prod(shape)
    if count * dtype.itemsize != nbytes:
        raise MatcacheError(
            f"the server described {nbytes} bytes for shape {shape} of "
            f"{dtype}, which needs {count * dtype.itemsize}")
    return count


def map_published(info):
    """Maps the published segment described by `info` (a MatrixInfo).

    Returns a read-only numpy array of info.shape and info.dtype that is a
    view of the mapped file: no data is copied, and the mapping lives exactly
    as long as the array or any view of it. Raises NotLocalError if the file
    cannot be opened here, is not a sealed matcache segment with info.id, or
    does not have the expected size.
    """
    count = _element_count(info.shape, info.dtype, info.nbytes)
    length = info.data_offset + info.nbytes
    fd = _open(info.path, os.O_RDONLY)
    try:
        _check_header(fd, info.path, info.id, want_sealed=True)
        size = os.fstat(fd).st_size
        if size != length:
            raise NotLocalError(
                f"{info.path} has {size} bytes, expected {length}")
        mapping = mmap.mmap(fd, length, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    array = np.frombuffer(mapping, dtype=info.dtype, count=count,
                          offset=info.data_offset)
    return array.reshape(info.shape)


# Bytes converted per pwrite when the array is not already the stored
# bytes: a bounded buffer, whatever the matrix's size.
BLOCK_BYTES = 4 << 20


def _write_all(fd, data, offset):
    """Writes all of `data` (a byte memoryview) at `offset` of `fd`."""
    written = 0
    while written < len(data):
        written += os.pwrite(fd, data[written:], offset + written)


def _blocks(array, max_elements):
    """Yields sub-arrays of `array` that cover it in C order, each of at
    most `max_elements` elements."""
    if array.size <= max_elements:
        yield array
        return
    row = array.size // array.shape[0]
    if row <= max_elements:
        step = max_elements // row
        for start in range(0, array.shape[0], step):
            yield array[start:start + step]
    else:
        for part in array:
            yield from _blocks(part, max_elements)


def _write_converted(fd, array, dtype, offset):
    """Writes `array` as C-ordered `dtype` at `offset` of `fd`, converting
    one block at a time into a buffer of BLOCK_BYTES."""
    buffer = np.empty(max(1, BLOCK_BYTES // dtype.itemsize), dtype=dtype)
    for block in _blocks(array, buffer.size):
        converted = buffer[:block.size]
        # "unsafe" as astype: the put may store another dtype on purpose.
        np.copyto(converted.reshape(block.shape), block, casting="unsafe")
        data = memoryview(converted.view(np.uint8))
        _write_all(fd, data, offset)
        offset += len(data)


def fill_staging(fd, path, segment_id, data_offset, nbytes, array, dtype):
    """Writes `array` into the staging segment open as `fd`, with pwrite
    only: the file is never mapped here, so nothing another process does to
    it (truncating it, say) can fault in this one. A C-contiguous array of
    `dtype` goes in one pwrite loop straight from its buffer; any other
    layout, byte order or dtype is converted block by block into a bounded
    buffer, each block then written.

    Args:
        fd: the staging file's descriptor (from matcache.handoff); the
            caller closes it.
        path, segment_id, data_offset, nbytes: from the CreateResponse
            (`path` only names the file in messages).
        array: the data; any layout and byte order of `dtype`'s kind.
        dtype: the little-endian dtype stored (the copy converts to it and
            to C order).

    Raises NotLocalError if `fd` is not the segment the server created;
    MatcacheError if the file is too short to hold the data; LocalIOError
    (or ResourceExhaustedError) if a system call fails.
    """
    _element_count(array.shape, dtype, nbytes)
    length = max(data_offset + nbytes, HEADER_SIZE)
    try:
        _check_header(fd, path, segment_id, want_sealed=False)
        size = os.fstat(fd).st_size
        if size < length:
            raise MatcacheError(
                f"staging segment {path} has {size} bytes, needs {length}")
        if not nbytes:
            return
        if array.dtype == dtype and array.flags.c_contiguous:
            # write() copies into the file's pages without mapping them:
            # no page faults, no page-table set-up, no zeroing.
            _write_all(fd, memoryview(array.reshape(-1).view(np.uint8)),
                       data_offset)
        else:
            _write_converted(fd, array, dtype, data_offset)
    except OSError as e:
        if isinstance(e, MatcacheError):
            raise
        raise from_os_error(e, f"write staging segment {path}") from e
