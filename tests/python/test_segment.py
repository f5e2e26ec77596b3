"""Local segment access checks the file before trusting it (no server
needed: the files are written here in the header layout of
server/core/format/header.h)."""

import errno
import os

import numpy as np
import pytest

import matcache
from matcache import segment
from matcache.info import MatrixInfo

SEGMENT_ID = bytes(range(16))


def _write_segment(path, data, state=2, segment_id=SEGMENT_ID, extra=b""):
    header = bytearray(4096)
    header[0:8] = b"MATCACHE"
    header[8:12] = (1).to_bytes(4, "little")
    header[12:16] = state.to_bytes(4, "little")
    header[16:32] = segment_id
    with open(path, "wb") as f:
        f.write(header + data.tobytes() + extra)


def _info(path, data, segment_id=SEGMENT_ID):
    return MatrixInfo(
        name="m", shape=data.shape, dtype=data.dtype, nbytes=data.nbytes,
        generation=1, id=segment_id, created=None, path=str(path),
        data_offset=4096, strides=data.strides, source="", checksum=0)


def test_maps_a_sealed_segment_read_only(tmp_path):
    data = np.arange(12, dtype="<i4").reshape(3, 4)
    path = tmp_path / "ok.shm"
    _write_segment(path, data)
    got = segment.map_published(_info(path, data))
    assert np.array_equal(got, data)
    assert not got.flags.writeable
    with pytest.raises(ValueError):
        got.flags.writeable = True


def test_maps_zero_size_and_scalar(tmp_path):
    for data in (np.zeros((3, 0)), np.array(2.5)):
        path = tmp_path / f"{data.ndim}.shm"
        _write_segment(path, data)
        got = segment.map_published(_info(path, data))
        assert got.shape == data.shape and np.array_equal(got, data)


@pytest.mark.parametrize("problem", ["other id", "staging", "longer",
                                     "not a segment", "missing"])
def test_refuses_a_file_that_is_not_the_named_version(tmp_path, problem):
    data = np.arange(5.0)
    path = tmp_path / "s.shm"
    if problem == "other id":
        _write_segment(path, data, segment_id=bytes(16))
    elif problem == "staging":
        _write_segment(path, data, state=1)
    elif problem == "longer":
        _write_segment(path, data, extra=b"\0" * 8)
    elif problem == "not a segment":
        path.write_bytes(b"\0" * (4096 + data.nbytes))
    with pytest.raises(matcache.NotLocalError):
        segment.map_published(_info(path, data))


def _fill(path, segment_id, nbytes, array, dtype):
    """fill_staging through a read-write descriptor of `path`."""
    fd = os.open(path, os.O_RDWR)
    try:
        segment.fill_staging(fd, str(path), segment_id, 4096, nbytes, array,
                             dtype)
    finally:
        os.close(fd)


def test_fill_staging_writes_c_ordered_little_endian(tmp_path):
    source = np.asfortranarray(np.arange(6, dtype=">u2").reshape(2, 3))
    path = tmp_path / "staging.shm"
    _write_segment(path, np.zeros(6, dtype="<u2"), state=1)
    _fill(path, SEGMENT_ID, 12, source, np.dtype("<u2"))
    raw = path.read_bytes()
    assert raw[:8] == b"MATCACHE" and raw[16:32] == SEGMENT_ID
    assert raw[4096:] == np.arange(6, dtype="<u2").tobytes()


@pytest.mark.parametrize("shape", [(3, 5, 7), (1000,), (2, 3000), ()])
def test_fill_staging_converts_in_bounded_blocks(tmp_path, monkeypatch, shape):
    # Blocks of 64 bytes: many, and smaller than a row of (2, 3000).
    monkeypatch.setattr(segment, "BLOCK_BYTES", 64)
    writes = []
    real_pwrite = os.pwrite

    def pwrite(fd, data, offset):
        writes.append(len(data))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    source = np.arange(int(np.prod(shape)), dtype=">f8").reshape(shape)
    source = source.T[..., ::-1] if source.ndim else source  # strided
    want = np.ascontiguousarray(source, dtype="<f4")
    path = tmp_path / "staging.shm"
    _write_segment(path, np.zeros(want.size, dtype="<f4"), state=1)
    _fill(path, SEGMENT_ID, want.nbytes, source, np.dtype("<f4"))
    assert path.read_bytes()[4096:] == want.tobytes()
    assert writes and max(writes) <= 64 and sum(writes) == want.nbytes


def test_fill_staging_writes_a_contiguous_array_from_its_buffer(
        tmp_path, monkeypatch):
    sources = []
    real_pwrite = os.pwrite

    def pwrite(fd, data, offset):
        sources.append(np.frombuffer(data, np.uint8).__array_interface__[
            "data"][0])
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    data = np.arange(1000, dtype="<i8")
    path = tmp_path / "staging.shm"
    _write_segment(path, np.zeros_like(data), state=1)
    _fill(path, SEGMENT_ID, data.nbytes, data, np.dtype("<i8"))
    assert sources == [data.__array_interface__["data"][0]]  # one, no copy
    assert path.read_bytes()[4096:] == data.tobytes()


def test_fill_staging_refuses_a_short_file(tmp_path):
    path = tmp_path / "short.shm"
    _write_segment(path, np.zeros(2, dtype="<u2"), state=1)
    with pytest.raises(matcache.MatcacheError, match="needs"):
        _fill(path, SEGMENT_ID, 12, np.arange(6, dtype="<u2"),
              np.dtype("<u2"))
    assert os.path.getsize(path) == 4096 + 4


def test_fill_staging_refuses_another_segment(tmp_path):
    path = tmp_path / "other.shm"
    _write_segment(path, np.zeros(6, dtype="<u2"), state=1)
    with pytest.raises(matcache.NotLocalError):
        _fill(path, bytes(16), 12, np.arange(6, dtype="<u2"),
              np.dtype("<u2"))


def test_a_failed_write_is_a_matcache_error(tmp_path):
    path = tmp_path / "staging.shm"
    _write_segment(path, np.zeros(6, dtype="<u2"), state=1)
    fd = os.open(path, os.O_RDONLY)  # pwrite fails with EBADF
    try:
        with pytest.raises(matcache.LocalIOError) as raised:
            segment.fill_staging(fd, str(path), SEGMENT_ID, 4096, 12,
                                 np.arange(6, dtype="<u2"), np.dtype("<u2"))
    finally:
        os.close(fd)
    assert raised.value.errno == errno.EBADF
    assert isinstance(raised.value, OSError)
    assert str(path) in str(raised.value)
