"""Client.preview agrees with a numpy reference of the block rule: along a
dimension of n split into t, output cell i covers source positions
[floor(i*n/t), floor((i+1)*n/t))."""

import itertools

import numpy as np
import pytest

import matcache

# (source shape, target shape): dividing evenly or not, 2-d and 3-d, one or
# two target extents, identity and a single cell.
CASES = [
    ((6, 4), (3, 2)),
    ((7, 5), (3, 2)),
    ((7, 5), (7, 5)),
    ((7, 5), (1, 1)),
    ((13, 3), (4,)),
    ((4, 6, 2), (2, 3)),
    ((5, 4, 3), (2, 3)),
    ((5, 4, 3), (3,)),
]


def _bounds(n, t):
    return [(i * n // t, (i + 1) * n // t) for i in range(t)]


def reference(source, target, method):
    """The preview of `source` by the block rule, computed cell by cell."""
    k = len(target)
    kept = source.shape[k:]
    if method == "mean":
        dtype = np.complex128 if source.dtype.kind == "c" else np.float64
    else:
        dtype = source.dtype
    out = np.empty(tuple(target) + kept, dtype)
    blocks = [_bounds(n, t) for n, t in zip(source.shape, target)]
    for cell in itertools.product(*(range(t) for t in target)):
        block = source[tuple(slice(*blocks[d][i]) for d, i in enumerate(cell))]
        axes = tuple(range(k))
        if method == "mean":
            out[cell] = block.astype(dtype).mean(axis=axes)
        elif method == "min":
            out[cell] = block.min(axis=axes)
        elif method == "max":
            out[cell] = block.max(axis=axes)
        else:
            out[cell] = block[(0,) * k]
    return out


def _source(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return rng.integers(0, 2, shape).astype(dtype)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype,
                            endpoint=True)
    values = rng.standard_normal(shape) * 100
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def _assert_preview(got, want, method):
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert not got.flags.writeable
    if method == "mean":
        # Summation order may differ from numpy's.
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method", ["mean", "min", "max", "first"])
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int16", "int64",
                                   "float16", "float32", "float64"])
def test_preview_matches_reference(client, name, method, dtype):
    try:
        for seed, (shape, target) in enumerate(CASES):
            source = _source(dtype, shape, seed)
            client.put(name, source)
            got = client.preview(name, target, method)
            _assert_preview(got, reference(source, target, method), method)
    finally:
        client.delete(name)


@pytest.mark.parametrize("method", ["mean", "first"])
def test_complex_mean_and_first(client, name, method):
    source = _source("complex64", (9, 5, 2), 1)
    client.put(name, source)
    try:
        got = client.preview(name, [4, 2], method)
        _assert_preview(got, reference(source, (4, 2), method), method)
    finally:
        client.delete(name)


@pytest.mark.parametrize("method", ["mean", "min", "max", "first"])
def test_nan_propagates(client, name, method):
    source = np.arange(48, dtype=np.float64).reshape(8, 6)
    source[0, 0] = np.nan  # first element of cell (0, 0)
    source[6, 5] = np.nan  # inside cell (2, 2) of a 3x3 preview, not first
    client.put(name, source)
    try:
        got = client.preview(name, (3, 3), method)
    finally:
        client.delete(name)
    want = reference(source, (3, 3), method)
    _assert_preview(got, want, method)
    nan_cells = {tuple(c) for c in np.argwhere(np.isnan(got))}
    if method == "first":
        assert nan_cells == {(0, 0)}
    else:
        assert nan_cells == {(0, 0), (2, 2)}


def test_default_method_is_mean(client, name):
    source = np.arange(12, dtype=np.int32).reshape(4, 3)
    client.put(name, source)
    try:
        got = client.preview(name, (2, 1))
    finally:
        client.delete(name)
    np.testing.assert_array_equal(got, [[2.5], [8.5]])
    assert got.dtype == np.float64


def test_multi_chunk_preview(server, name):
    # 1000 x 1000 float64 out: 8 MB, more than one 4 MiB message.
    source = np.arange(2000 * 1000, dtype=np.float64).reshape(2000, 1000)
    with matcache.Client(server.address, local=False) as remote:
        remote.put(name, source)
        try:
            got = remote.preview(name, (1000,), "max")
        finally:
            remote.delete(name)
    np.testing.assert_array_equal(got, source[1::2])
