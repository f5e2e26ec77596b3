"""What get returns equals what put was given, for every dtype, shape and
layout, on the local (mapped) and the streamed path alike."""

import dataclasses

import numpy as np
import pytest

import matcache
from matcache import dtypes


@pytest.fixture(params=[None, False], ids=["local", "streamed"])
def mode_client(request, server):
    with matcache.Client(server.address, local=request.param) as c:
        yield c


def _sample(dtype, shape, seed=0):
    """Random values of `dtype` (any byte order) covering its range."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    native = dtype.newbyteorder("=")
    if dtype.kind == "b":
        values = rng.integers(0, 2, shape)
    elif dtype.kind in "iu":
        info = np.iinfo(native)
        values = rng.integers(info.min, info.max, shape, dtype=native,
                              endpoint=True)
    elif dtype.kind == "c":
        values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        values = rng.standard_normal(shape)
    return np.asarray(values).astype(dtype)


def _assert_round_trip(client, name, array):
    expected = np.asarray(array)
    client.put(name, array)
    got = client.get(name)
    assert got.dtype == expected.dtype.newbyteorder("<")
    assert got.dtype.byteorder in ("=", "|")  # native on this host
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)
    assert got.flags.c_contiguous
    assert not got.flags.writeable


@pytest.mark.parametrize("dtype", dtypes.SUPPORTED, ids=str)
def test_every_dtype(mode_client, name, dtype):
    _assert_round_trip(mode_client, name, _sample(dtype, (7, 5)))


@pytest.mark.parametrize("shape", [(), (1,), (10,), (2, 3, 1, 4, 2), (3, 0),
                                   (0,), (0, 5, 0)], ids=str)
def test_shapes(mode_client, name, shape):
    _assert_round_trip(mode_client, name, _sample("f8", shape))


def test_zero_size_matrix_keeps_shape_and_dtype(mode_client, name):
    info = mode_client.put(name, np.empty((3, 0), dtype="i2"))
    assert (info.shape, info.dtype, info.nbytes) == ((3, 0), np.dtype("<i2"), 0)
    got = mode_client.get(name)
    assert got.shape == (3, 0) and got.dtype == np.dtype("<i2")


def test_non_contiguous_input(mode_client, name):
    base = _sample("f4", (20, 6))
    _assert_round_trip(mode_client, name, base[::2, ::-3])


def test_fortran_ordered_input(mode_client, name):
    array = np.asfortranarray(_sample("i4", (30, 17)))
    assert not array.flags.c_contiguous
    _assert_round_trip(mode_client, name, array)


@pytest.mark.parametrize("dtype", [">i2", ">u4", ">f8", ">c16"])
def test_big_endian_input_is_stored_little_endian(mode_client, name, dtype):
    array = _sample(dtype, (4, 9))
    assert array.dtype.byteorder == ">"
    info = mode_client.put(name, array)
    assert info.dtype == np.dtype(dtype).newbyteorder("<")
    _assert_round_trip(mode_client, name, array)


def test_python_list_input(mode_client, name):
    _assert_round_trip(mode_client, name, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("nbytes", [(2 << 20) - 1, 2 << 20, (5 << 20) + 3])
def test_multi_chunk_sizes(mode_client, name, nbytes):
    _assert_round_trip(mode_client, name, _sample("u1", (nbytes,)))


def test_streamed_and_local_agree(server, name):
    array = _sample("c8", (300, 700), seed=3)
    with matcache.Client(server.address, local=False) as remote, \
            matcache.Client(server.address, local=True) as local:
        streamed_info = remote.put(name, array)
        from_stream = remote.get(name)
        from_mapping = local.get(name)
        assert np.array_equal(from_stream, from_mapping)
        local_info = local.put(name, array)
        assert local_info.checksum == streamed_info.checksum
        assert local_info.generation > streamed_info.generation
        assert np.array_equal(remote.get(name), array)


def test_put_returns_the_published_info(client, name):
    array = _sample("f8", (6, 4))
    info = client.put(name, array)
    # Everything but the time of the last access, which the lookup moves.
    assert (dataclasses.replace(info, last_access=None) ==
            dataclasses.replace(client.info(name), last_access=None))
    assert info.name == name
    assert info.shape == (6, 4)
    assert info.strides == (32, 8)
    assert info.nbytes == 192
    assert len(info.id) == 16
    assert info.created.tzinfo is not None
    assert info.data_offset % 4096 == 0 and info.data_offset >= 4096
    assert info.source == ""


@pytest.mark.parametrize("store", ["float32", "float16"])
def test_store_dtype_keeps_a_smaller_copy_and_reports_both(mode_client, store,
                                                          name):
    array = np.linspace(-3, 3, 1000).reshape(10, 100)
    c = mode_client
    info = c.put(name, array, store_dtype=store)
    assert info.dtype == np.dtype(store)
    assert info.original_dtype == np.dtype("float64")
    assert info.nbytes == array.size * np.dtype(store).itemsize
    got = c.get(name)
    assert got.dtype == np.dtype(store)
    assert np.array_equal(got, array.astype(store))
    assert c.info(name).original_dtype == np.dtype("float64")
    plain = c.put(name, array)
    assert plain.original_dtype == plain.dtype == np.dtype("float64")
    with pytest.raises(matcache.InvalidArgumentError):
        c.put(name, array, store_dtype="U8")
