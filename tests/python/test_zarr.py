"""The Zarr v2 view of the HTTP gateway (GET /zarr/...), read by zarr-python
and dask over fsspec's HTTP filesystem and compared with numpy: every
dtype, 0-d to 3-d shapes, padded edge chunks, consolidated metadata,
generations pinned with NAME@GEN, sources read on first access, and the
404s of keys that are not there."""

import json
import urllib.error
import urllib.request

import dask.array
import numpy as np
import pytest
import zarr

import matcache

# Rows of 5.76 MB: two to a chunk (at most 16 MiB), so 5 rows are 3 chunks
# and the last one is half padding.
EDGE_SHAPE = (5, 720_000)


@pytest.fixture
def gateway(start_server, tmp_path):
    """(server, "http://HOST:PORT/zarr", storage_options with the token),
    the server reading sources from tmp_path."""
    srv = start_server("--data_dir", str(tmp_path))
    token = srv.token_file.read_text().strip()
    options = {"headers": {"Authorization": f"Bearer {token}"}}
    return srv, f"http://{srv.http_address()}/zarr", options


def _get(url, options):
    """(status, headers, body bytes) of a GET with the headers of `options`."""
    request = urllib.request.Request(url, headers=options["headers"])
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _problem(url, options, status):
    """The problem+json detail of a GET that must answer `status`."""
    got, headers, body = _get(url, options)
    assert got == status, (url, got, body)
    assert headers["Content-Type"] == "application/problem+json"
    return json.loads(body)["detail"]


def _open(url, options):
    return zarr.open_array(url, mode="r", storage_options=options)


ARRAYS = {
    "f8_2d": lambda rng: rng.standard_normal((300, 7)),
    "f4_1d": lambda rng: rng.standard_normal(1000).astype(np.float32),
    "f2_3d": lambda rng: rng.standard_normal((4, 5, 6)).astype(np.float16),
    "i1_2d": lambda rng: rng.integers(-128, 128, (9, 11), dtype=np.int8),
    "u2_1d": lambda rng: rng.integers(0, 1 << 16, 77, dtype=np.uint16),
    "b1_2d": lambda rng: rng.random((13, 3)) < 0.5,
    "c16_2d": lambda rng: (rng.standard_normal((6, 4)) +
                           1j * rng.standard_normal((6, 4))),
    "c8_1d": lambda rng: (rng.standard_normal(5) +
                          1j * rng.standard_normal(5)).astype(np.complex64),
    "f8_0d": lambda rng: np.array(rng.standard_normal()),
    "u1_0d": lambda rng: np.array(7, dtype=np.uint8),
}


@pytest.mark.parametrize("kind", sorted(ARRAYS))
def test_zarr_reads_every_dtype_and_shape_as_numpy_has_it(gateway, kind):
    srv, root, options = gateway
    array = ARRAYS[kind](np.random.default_rng(len(kind)))
    with matcache.Client(srv.address) as c:
        put = c.put(kind, array)
    z = _open(f"{root}/{kind}", options)
    assert z.dtype == array.dtype and z.shape == array.shape
    assert z.chunks == array.shape  # small: one chunk
    assert z.compressor is None and z.filters is None and z.order == "C"
    got = z[...]
    assert got.dtype == array.dtype
    np.testing.assert_array_equal(got, array)
    if array.ndim:
        np.testing.assert_array_equal(z[1:4], array[1:4])
        np.testing.assert_array_equal(z[-1], array[-1])
    if array.ndim >= 2:
        np.testing.assert_array_equal(z[::2, 1:], array[::2, 1:])
    assert dict(z.attrs) == {"generation": put.generation, "id": put.id.hex(),
                             "name": kind}


def test_edge_chunks_are_padded_and_dask_sums_every_chunk(gateway):
    srv, root, options = gateway
    array = np.random.default_rng(5).integers(0, 1000, EDGE_SHAPE).astype(
        np.float64)
    with matcache.Client(srv.address) as c:
        c.put("big", array)
    z = _open(f"{root}/big", options)
    assert z.chunks == (2, EDGE_SHAPE[1]) and z.nchunks == 3
    np.testing.assert_array_equal(z[:], array)
    np.testing.assert_array_equal(z[3:, 100:200], array[3:, 100:200])
    np.testing.assert_array_equal(z[4], array[4])

    status, headers, body = _get(f"{root}/big/2.0", options)
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    row_bytes = EDGE_SHAPE[1] * 8
    assert len(body) == int(headers["Content-Length"]) == 2 * row_bytes
    assert body[:row_bytes] == array[4].tobytes()
    assert body[row_bytes:] == bytes(row_bytes)

    lazy = dask.array.from_zarr(f"{root}/big", storage_options=options)
    assert lazy.chunks == ((2, 2, 1), (EDGE_SHAPE[1],))
    assert lazy.sum().compute() == array.sum()  # integers: exact in any order

    # A chunk being downloaded keeps its version, deleted or not.
    with urllib.request.urlopen(urllib.request.Request(
            f"{root}/big/0.0", headers=options["headers"]), timeout=30) as chunk:
        first = chunk.read(1 << 20)
        with matcache.Client(srv.address) as c:
            c.delete("big")
        assert first + chunk.read() == array[:2].tobytes()
    assert _get(f"{root}/big/0.0", options)[0] == 404


def test_a_three_dimensional_array_chunks_along_its_first_dimension(gateway):
    srv, root, options = gateway
    # 2 MiB per index of dimension 0: 8 of them to a chunk, so the second
    # chunk is one of them and 7 of padding.
    array = np.random.default_rng(6).integers(0, 1 << 16, (9, 1024, 1024),
                                              dtype=np.uint16)
    with matcache.Client(srv.address) as c:
        c.put("cube", array)
    z = _open(f"{root}/cube", options)
    assert z.chunks == (8, 1024, 1024) and z.nchunks == 2
    np.testing.assert_array_equal(z[:], array)
    np.testing.assert_array_equal(z[7:, ::100, -3:], array[7:, ::100, -3:])
    assert _get(f"{root}/cube/1.0.0", options)[0] == 200
    for key in ("1.0", "1.1.0", "1.0.1", "2.0.0"):
        assert _get(f"{root}/cube/{key}", options)[0] == 404, key


def test_zero_size_arrays_have_metadata_and_no_chunks(gateway):
    srv, root, options = gateway
    with matcache.Client(srv.address) as c:
        c.put("no_rows", np.zeros((0, 3), dtype=np.int32))
        c.put("no_columns", np.zeros((4, 0)))
    for name, shape in (("no_rows", (0, 3)), ("no_columns", (4, 0))):
        z = _open(f"{root}/{name}", options)
        assert z.shape == shape and z.nchunks == 0
        assert z[:].shape == shape
        assert _get(f"{root}/{name}/0.0", options)[0] == 404


def test_consolidated_metadata_lists_every_published_matrix(gateway, tmp_path):
    srv, root, options = gateway
    arrays = {"a": np.arange(6.0).reshape(2, 3), "b": np.array(True),
              "c": np.arange(10, dtype=np.int64)}
    np.save(tmp_path / "lazy.npy", np.arange(4, dtype=np.int16))
    with matcache.Client(srv.address) as c:
        infos = {name: c.put(name, array) for name, array in arrays.items()}
        assert c.load("lazy", "lazy.npy").generation == 0

    # A source not read yet is left out; its own keys read it.
    group = zarr.open_consolidated(root, mode="r", storage_options=options)
    assert sorted(group.array_keys()) == sorted(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(group[name][...], array)
        assert group[name].attrs["generation"] == infos[name].generation
        assert group[name].attrs["id"] == infos[name].id.hex()
    np.testing.assert_array_equal(_open(f"{root}/lazy", options)[:],
                                  np.arange(4, dtype=np.int16))
    group = zarr.open_consolidated(root, mode="r", storage_options=options)
    assert sorted(group.array_keys()) == sorted([*arrays, "lazy"])

    metadata = json.loads(_get(f"{root}/.zmetadata", options)[2])
    assert metadata["zarr_consolidated_format"] == 1
    assert metadata["metadata"][".zgroup"] == {"zarr_format": 2}
    assert metadata["metadata"]["a/.zarray"] == json.loads(
        _get(f"{root}/a/.zarray", options)[2])
    assert json.loads(_get(f"{root}/.zgroup", options)[2]) == {"zarr_format": 2}
    assert json.loads(_get(f"{root}/.zattrs", options)[2]) == {}


def test_a_pinned_generation_is_gone_once_replaced(gateway):
    srv, root, options = gateway
    old = np.arange(12.0).reshape(3, 4)
    new = old + 100
    with matcache.Client(srv.address) as c:
        generation = c.put("m", old).generation
        pinned = _open(f"{root}/m@{generation}", options)
        current = _open(f"{root}/m", options)
        assert pinned.attrs["generation"] == generation
        np.testing.assert_array_equal(pinned[:], old)
        np.testing.assert_array_equal(current[:], old)
        replaced = c.put("m", new).generation

    for key in ("0.0", ".zarray", ".zattrs"):
        detail = _problem(f"{root}/m@{generation}/{key}", options, 404)
        assert "no longer current" in detail and str(replaced) in detail
    # zarr-python reads a chunk it cannot fetch as fill_value: the README
    # asks pinned readers to check .zattrs again after reading.
    np.testing.assert_array_equal(pinned[:], np.zeros_like(old))
    np.testing.assert_array_equal(current[:], new)
    np.testing.assert_array_equal(_open(f"{root}/m@{replaced}", options)[:], new)

    for bad in ("0", "-1", "", "x", "1.5", "+3"):
        detail = _problem(f"{root}/m@{bad}/.zarray", options, 400)
        assert "not a generation" in detail


def test_missing_keys_and_matrices_are_404(gateway):
    srv, root, options = gateway
    with matcache.Client(srv.address) as c:
        c.put("m", np.zeros((3, 4)))
    for key in ("1.0", "0.1", "0", "0.0.0", "x", "00.0", ".zgroup", "0.0/x", ""):
        assert "/zarr/m" in _problem(f"{root}/m/{key}", options, 404), key
    assert "no matrix" in _problem(f"{root}/absent/.zarray", options, 404)
    for path in ("", "/", "/m", "/.zarray"):
        _problem(f"{root}{path}", options, 404)
    with pytest.raises(zarr.errors.ArrayNotFoundError):
        _open(f"{root}/absent", options)


def test_the_view_needs_the_read_token(gateway):
    srv, root, options = gateway
    with matcache.Client(srv.address) as c:
        c.put("m", np.zeros(3))
    for path in ("/.zmetadata", "/m/.zarray", "/m/0"):
        assert _problem(f"{root}{path}", {"headers": {}}, 401)
        assert _get(f"{root}{path}", options)[0] == 200
