"""The HTTP gateway's matrix routes against numpy, matplotlib's colormaps
and the gRPC client: slices and dtype conversions of /data as .npy and
JSON, previews as .npy and PNG, ETags, PUT of .npy bodies of every dtype
and layout (and of broken ones, which leave nothing behind), DELETE,
tokens, HTTPS with and without client certificates, and the request and
byte counters. Real servers, real clients (http.client, curl)."""

import datetime
import http.client
import io
import json
import pathlib
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from matplotlib import colormaps
from PIL import Image

import matcache
from matcache import dtypes
from httpclient import Gateway, Response, assert_problem, npy_bytes

# The TLS test certificates of the security suite.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]
                       / "security"))
import certs  # noqa: E402

# Small, so that a too large upload is cheap to send.
MAX_MATRIX_BYTES = 4 << 20
NPY_TYPE = "application/x-npy"
# How long a test waits for the server to act on a connection it saw close.
CLOSE_SECONDS = 10


@pytest.fixture(scope="module")
def srv(start_module_server):
    return start_module_server("--max_matrix_bytes", str(MAX_MATRIX_BYTES))


@pytest.fixture(scope="module")
def gw(srv):
    """The gateway of `srv`, sending its access token."""
    return Gateway(srv.http_address(), srv.token_file.read_text().strip())


@pytest.fixture(scope="module")
def grpc(srv):
    with matcache.Client(srv.address) as client:
        yield client


def _q(**params):
    """A query string of `params`, percent-encoded."""
    return "?" + urllib.parse.urlencode(params)


def _data(gw, name, **params):
    return gw.get(f"/v1/matrices/{name}/data{_q(**params) if params else ''}")


def _preview(gw, name, **params):
    return gw.get(f"/v1/matrices/{name}/preview{_q(**params)}")


def _assert_npy(response, want):
    """Asserts a 200 .npy response holding exactly `want` (shape, dtype,
    bytes), with an exact Content-Length."""
    assert response.status == 200, response
    assert response.headers["Content-Type"] == NPY_TYPE
    assert int(response.headers["Content-Length"]) == len(response.body)
    got = response.npy()
    assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
    assert got.tobytes() == want.tobytes(), (got, want)


def _json_values(data, dtype, shape):
    """The nested lists `data` of a JSON response as an array of `dtype`
    and `shape`, null (NaN or an infinity) read as NaN and [re, im] pairs as
    complex numbers."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        pairs = np.array(data, dtype=np.float64).reshape(tuple(shape) + (2,))
        return (pairs[..., 0] + 1j * pairs[..., 1]).astype(dtype)
    if dtype.kind == "f":
        return np.array(data, dtype=np.float64).reshape(shape).astype(dtype)
    return np.array(data, dtype=dtype).reshape(shape)


def _assert_json(response, name, want):
    """Asserts a 200 JSON data response of `name` holding `want`."""
    assert response.status == 200, response
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"name", "generation", "shape", "dtype", "data"}
    assert body["name"] == name and body["generation"] > 0
    assert body["shape"] == list(want.shape)
    assert body["dtype"] == str(want.dtype)
    got = _json_values(body["data"], want.dtype, want.shape)
    expected = want.copy()
    if want.dtype.kind == "f":
        expected[~np.isfinite(want)] = np.nan
    elif want.dtype.kind == "c":
        expected.real[~np.isfinite(want.real)] = np.nan
        expected.imag[~np.isfinite(want.imag)] = np.nan
    assert np.array_equal(got, expected, equal_nan=True), (body["data"], want)
    return body


# --- slices -----------------------------------------------------------------

_STEPS = st.none() | st.sampled_from([-3, -2, -1, 0, 1, 2, 3])
# Slice bounds and steps as far as 64 bits go.
_EXTREMES = st.sampled_from([-2**63, -2**63 + 1, 2**63 - 1])
# Extents 0 to 4; 0, which empties the whole matrix, seldom. (Hypothesis
# favours the bounds of a range: the rare cases sit inside one.)
_EXTENTS = st.integers(0, 12).map(lambda n: 0 if n == 6 else n % 4 + 1)


@st.composite
def _part(draw, extent):
    """An int (out of range at times) or a slice for a dimension of
    `extent`, and its spelling."""
    if draw(st.booleans()):
        i = draw(st.integers(-extent - 1, extent))
        return i, str(i)
    bounds = st.none() | st.integers(-extent - 2, extent + 2) | _EXTREMES
    start, stop, step = draw(bounds), draw(bounds), draw(_STEPS | _EXTREMES)
    text = ":".join("" if b is None else str(b) for b in (start, stop))
    if step is not None or draw(st.booleans()):
        text += ":" + ("" if step is None else str(step))
    return slice(start, stop, step), text


@st.composite
def _cases(draw):
    """(shape, a basic index of it, the index as between Python's
    brackets): up to one part per dimension (now and then one too many),
    at most one Ellipsis, sometimes a trailing comma."""
    shape = tuple(draw(_EXTENTS) for _ in range(draw(st.integers(0, 4))))
    count = draw(st.integers(0, len(shape)))
    if draw(st.integers(0, 12)) == 6:
        count += 1  # too many indices
    ellipsis = draw(st.booleans())
    at = draw(st.integers(0, count)) if ellipsis else count
    # The Ellipsis stands for the dimensions the parts after it skip.
    dims = list(range(at)) + list(range(len(shape) - (count - at), len(shape)))
    parts = [draw(_part(shape[d] if 0 <= d < len(shape) else 1)) for d in dims]
    if ellipsis:
        parts.insert(at, (Ellipsis, "..."))
    key = tuple(part for part, _ in parts)
    text = ",".join(spelled for _, spelled in parts)
    if len(parts) == 1 and draw(st.booleans()):
        key = key[0]  # a[x], not a[x,]
    elif parts and draw(st.booleans()):
        text += ","  # a[x, y,]: the same tuple
    return shape, key, text


@pytest.fixture(scope="module")
def sliced(grpc):
    """A function returning (name, array, generation) of a float64 matrix
    of a shape, put once per shape."""
    published = {}

    def matrix(shape):
        if shape not in published:
            full = np.arange(np.prod(shape, dtype=int), dtype=np.float64)
            full = (full * 0.5 - 3).reshape(shape)
            name = "slices-" + ("x".join(map(str, shape)) or "0d")
            published[shape] = name, full, grpc.put(name, full).generation
        return published[shape]

    return matrix


# Each example is two HTTP requests against a real server; their time
# varies with the machine's load, so no deadline.
@settings(max_examples=100, deadline=None)
@given(_cases())
def test_slices_are_numpy_basic_indexing(gw, sliced, case):
    shape, key, text = case
    name, full, generation = sliced(shape)
    try:
        want = np.asarray(full[key])
    except (IndexError, ValueError):  # out of range, too many, step 0
        want = None
    # As typed into a URL, and percent-encoded.
    as_npy = gw.get(f"/v1/matrices/{name}/data?slice={text}")
    as_json = _data(gw, name, slice=text, format="json")
    if want is None:
        assert_problem(as_npy, 400, "INVALID_ARGUMENT")
        assert_problem(as_json, 400, "INVALID_ARGUMENT")
        return
    _assert_npy(as_npy, want)
    body = _assert_json(as_json, name, want)
    assert body["generation"] == generation
    assert body["data"] == want.tolist()  # the nesting too, [[], []] say


def test_a_read_streams_one_version_whatever_happens_meanwhile(gw, grpc,
                                                               name):
    want = np.arange(400_000.0)  # 3.2 MB, more than the server sends at once
    grpc.put(name, want)
    connection = gw.connect()
    try:
        connection.request("GET", f"/v1/matrices/{name}/data",
                           headers={"Authorization": f"Bearer {gw.token}"})
        response = connection.getresponse()
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == \
            len(npy_bytes(want))
        first = response.read(1000)
        grpc.put(name, np.zeros(400_000))  # a replace, then a delete
        grpc.delete(name)
        body = first + response.read()
    finally:
        connection.close()
    got = np.load(io.BytesIO(body))
    assert got.tobytes() == want.tobytes()


def test_slice_errors_name_the_problem(gw, grpc, name):
    grpc.put(name, np.zeros((3, 4)))
    assert_problem(_data(gw, name, slice="0,5"), 400, "INVALID_ARGUMENT",
                   "index 5", "out of bounds")
    assert_problem(_data(gw, name, slice="0,0,0"), 400, "INVALID_ARGUMENT",
                   "3 indices", "2-dimensional")
    assert_problem(_data(gw, name, slice="...,..."), 400, "INVALID_ARGUMENT",
                   "more than one")
    assert_problem(_data(gw, name, slice="0, 1"), 400, "INVALID_ARGUMENT",
                   "whitespace")
    assert_problem(_data(gw, name, slice="a"), 400, "INVALID_ARGUMENT",
                   '"a"', "not an integer")
    assert_problem(_data(gw, name, slice="::0"), 400, "INVALID_ARGUMENT",
                   "step is 0")
    assert_problem(_data(gw, name, slices="0"), 400, "INVALID_ARGUMENT",
                   '"slices"')
    assert_problem(_data(gw, name, format="xml"), 400, "INVALID_ARGUMENT",
                   "format=xml")
    assert_problem(_data(gw, name, dtype="float128"), 400, "INVALID_ARGUMENT",
                   "float128")
    assert_problem(_data(gw, "absent-" + name), 404, "NOT_FOUND",
                   "absent-" + name)


def test_a_query_parameter_given_twice_is_refused(gw, grpc, name):
    grpc.put(name, np.arange(4.0))
    for path in (f"/v1/matrices/{name}/data?slice=0&slice=1",
                 f"/v1/matrices?prefix={name}&prefix=x",
                 f"/v1/matrices/{name}/preview?shape=2&format=npy&shape=3"):
        assert_problem(gw.get(path), 400, "INVALID_ARGUMENT",
                       "is given more than once")
    body = npy_bytes(np.zeros(3))
    assert_problem(gw.put(f"/v1/matrices/{name}?pin=1&pin=0", body), 400,
                   "INVALID_ARGUMENT", '"pin" is given more than once')
    assert np.array_equal(grpc.get(name), np.arange(4.0))
    assert gw.get(f"/v1/matrices/{name}/data?slice=1").status == 200


# --- dtypes and JSON -------------------------------------------------------


def _cast(array, dtype):
    with warnings.catch_warnings():
        # Wrapped unsigned values overflow float16 to inf: the server must
        # do the same.
        warnings.filterwarnings("ignore", "overflow encountered in cast",
                                RuntimeWarning)
        return array.astype(dtype)


@pytest.mark.parametrize("target", dtypes.SUPPORTED, ids=str)
def test_dtype_converts_as_astype(gw, grpc, name, target):
    rng = np.random.default_rng(7)
    # Values whose casts numpy defines (as in test_read_property).
    sources = {
        "ints": rng.integers(-100, 100, (5, 6)).astype(np.int32),
        "quarters": rng.integers(-400, 400, (5, 6)) / 4,
    }
    for label, source in sources.items():
        grpc.put(f"{name}.{label}", source)
        want = _cast(source, target)
        for spelling in (str(target), target.str):  # "float32" and "<f4"
            _assert_npy(_data(gw, f"{name}.{label}", dtype=spelling), want)
        _assert_json(_data(gw, f"{name}.{label}", dtype=str(target),
                           format="json"), f"{name}.{label}", want)
        sliced = _cast(source[1:4, ::-2], target)
        _assert_npy(_data(gw, f"{name}.{label}", slice="1:4,::-2",
                          dtype=str(target)), sliced)


def test_json_spells_nan_infinities_complex_and_bool(gw, grpc, name):
    floats = np.array([1.5, np.nan, np.inf, -np.inf, 1e300, 5e-324, -2.25])
    grpc.put(f"{name}.f", floats)
    body = _data(gw, f"{name}.f", format="json").json()
    assert body["data"] == [1.5, None, None, None, 1e300, 5e-324, -2.25]
    body = _data(gw, f"{name}.f", format="json", dtype="float32").json()
    assert body["dtype"] == "float32"
    # 1e300 overflows float32, 5e-324 underflows it.
    assert body["data"] == [1.5, None, None, None, None, 0, -2.25]
    halves = _data(gw, f"{name}.f", format="json", dtype="float16").json()
    assert halves["data"] == [1.5, None, None, None, None, 0, -2.25]

    for dtype in (np.complex128, np.complex64):
        values = np.array([[1 + 2j, complex(np.nan, 1)],
                           [complex(3, -np.inf), -0.5j]], dtype=dtype)
        grpc.put(f"{name}.c", values)
        body = _data(gw, f"{name}.c", format="json").json()
        assert body["dtype"] == np.dtype(dtype).name
        assert body["data"] == [[[1, 2], [None, 1]], [[3, None], [0, -0.5]]]

    flags = np.array([[True, False, True], [False, False, True]])
    grpc.put(f"{name}.b", flags)
    body = _data(gw, f"{name}.b", format="json").json()
    assert body["data"] == flags.tolist()
    assert all(type(v) is bool for row in body["data"] for v in row)
    # astype(bool): anything but zero is true, NaN included.
    body = _data(gw, f"{name}.f", format="json", dtype="bool").json()
    assert body["dtype"] == "bool"
    assert body["data"] == [True] * 7


def test_json_integers_are_exact(gw, grpc, name):
    for dtype in (np.int64, np.uint64, np.int8, np.uint32):
        info = np.iinfo(dtype)
        values = np.array([info.min, info.max, 1, 0], dtype=dtype)
        grpc.put(name, values)
        body = _data(gw, name, format="json").json()
        assert body["data"] == [int(info.min), int(info.max), 1, 0]
        assert body["dtype"] == np.dtype(dtype).name


def test_zero_dimensional_matrices(gw, grpc, name):
    grpc.put(name, np.array(2.5))
    for text in ("", "...", "...,"):
        _assert_npy(_data(gw, name, slice=text), np.array(2.5))
    _assert_npy(_data(gw, name), np.array(2.5))
    _assert_npy(_data(gw, name, dtype="int8"), np.array(2, dtype=np.int8))
    body = _assert_json(_data(gw, name, format="json"), name, np.array(2.5))
    assert body["shape"] == [] and body["data"] == 2.5
    assert_problem(_data(gw, name, slice="0"), 400, "INVALID_ARGUMENT",
                   "0-dimensional")


def test_json_limit(start_server):
    srv = start_server("--http_json_max_elements", "10")
    gw = Gateway(srv.http_address(), srv.token_file.read_text().strip())
    full = np.arange(20.0).reshape(4, 5)
    with matcache.Client(srv.address) as c:
        c.put("m", full)
    problem = assert_problem(_data(gw, "m", format="json"), 400,
                             "INVALID_ARGUMENT", "at most 10", "20")
    assert "format=npy" in problem["detail"]
    assert_problem(gw.get("/v1/matrices/m/data?format=json",
                          headers={"If-None-Match": "*"}),
                   400, "INVALID_ARGUMENT", "at most 10", "20")
    assert_problem(_data(gw, "m", format="json", slice="0:3"), 400,
                   "INVALID_ARGUMENT", "at most 10", "15")
    _assert_json(_data(gw, "m", format="json", slice="0:2"), "m", full[0:2])
    _assert_npy(_data(gw, "m"), full)


# --- previews --------------------------------------------------------------


def _table(colormap):
    """matplotlib's 256 colours of `colormap`, rounded to 0..255."""
    if colormap == "gray":
        return np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    rgba = colormaps[colormap](np.arange(256) / 255.0)
    return np.round(rgba[:, :3] * 255).astype(np.uint8)


def _heatmap(values, colormap="viridis", vmin=None, vmax=None):
    """The RGBA pixels a heatmap of the 2-D `values` must have."""
    values = values.astype(np.float64)
    finite = values[np.isfinite(values)]
    low = vmin if vmin is not None else (finite.min() if finite.size else 0.0)
    high = vmax if vmax is not None else (finite.max() if finite.size else 0.0)
    if high == low:
        index = np.zeros(values.shape, dtype=int)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            t = (values - low) / (high - low) * 255
            # Rounded half away from zero, as C's round.
            rounded = np.floor(t) + (t - np.floor(t) >= 0.5)
        index = np.clip(np.nan_to_num(rounded), 0, 255).astype(int)
    pixels = np.zeros(values.shape + (4,), dtype=np.uint8)
    pixels[..., :3] = _table(colormap)[index]
    pixels[..., 3] = 255
    pixels[np.isnan(values)] = 0
    return pixels


def _png(response):
    assert response.status == 200, response
    assert response.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.body))
    assert image.format == "PNG" and image.mode == "RGBA"
    return image


@pytest.fixture(scope="module")
def previewed(grpc):
    """(name, matrix): 40 x 30 float64 with NaN in a few places, put once."""
    rng = np.random.default_rng(11)
    matrix = rng.normal(size=(40, 30))
    matrix[3, 4] = matrix[30:, 20:] = np.nan
    grpc.put("previewed", matrix)
    return "previewed", matrix


@pytest.mark.parametrize("method", ["mean", "min", "max", "first"])
@pytest.mark.parametrize("shape", [(7, 5), (40, 30), (3,)])
def test_preview_npy_is_the_grpc_preview(gw, grpc, previewed, method, shape):
    name, _ = previewed
    want = grpc.preview(name, shape, method=method)
    got = _preview(gw, name, shape="x".join(map(str, shape)), method=method)
    _assert_npy(got, np.asarray(want))
    if method == "mean":
        _assert_npy(_preview(gw, name, shape="x".join(map(str, shape))),
                    np.asarray(want))


@pytest.mark.parametrize("method", ["mean", "min", "max", "first"])
@pytest.mark.parametrize("style", [
    {},
    {"colormap": "magma"},
    {"colormap": "gray"},
    {"colormap": "viridis", "vmin": "quartile", "vmax": "quartile"},
    {"vmin": "quartile"},
    {"colormap": "gray", "vmin": "-3", "vmax": "-3"},
], ids=lambda style: "-".join(f"{k}={v}" for k, v in style.items())
    or "default")
def test_preview_png_is_the_colour_mapped_preview(gw, previewed, method,
                                                  style):
    name, _ = previewed
    values = _preview(gw, name, shape="9x6", method=method).npy()
    style = dict(style)
    if style.get("vmin") == "quartile":
        # A range narrower than the values': both ends clamp.
        style["vmin"] = f"{np.nanquantile(values, 0.25):.4f}"
        if "vmax" in style:
            style["vmax"] = f"{np.nanquantile(values, 0.75):.4f}"
    image = _png(_preview(gw, name, shape="9x6", method=method, format="png",
                          **style))
    assert image.size == (6, 9)  # C wide, R high
    pixels = np.asarray(image)
    want = _heatmap(values, style.get("colormap", "viridis"),
                    float(style["vmin"]) if "vmin" in style else None,
                    float(style["vmax"]) if "vmax" in style else None)
    assert np.isnan(values).any() and not np.isnan(values).all()
    assert (pixels[np.isnan(values)] == 0).all()  # transparent
    assert (pixels[~np.isnan(values)][:, 3] == 255).all()
    assert np.array_equal(pixels, want), (pixels - want.astype(int))
    if "vmin" in style and style["vmin"] != "-3":
        # Some values below vmin, and above vmax, are in the end colours.
        table = _table(style.get("colormap", "viridis"))
        low = values < float(style["vmin"])
        assert low.any() and (pixels[low][:, :3] == table[0]).all()
        high = values > float(style.get("vmax", np.nanmax(values) - 1e-9))
        assert high.any() and (pixels[high][:, :3] == table[255]).all()


def test_png_of_infinities_and_integers(gw, grpc, name):
    matrix = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]],
                      dtype=np.float64)
    matrix[0, 0], matrix[2, 3] = -np.inf, np.inf
    grpc.put(name, matrix)
    image = _png(_preview(gw, name, shape="3x4", format="png"))
    want = _heatmap(matrix)
    assert np.array_equal(np.asarray(image), want)
    assert (want[0, 0, :3] == _table("viridis")[0]).all()
    assert (want[2, 3, :3] == _table("viridis")[255]).all()
    grpc.put(name, np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000)
    image = _png(_preview(gw, name, shape="3x4", method="first",
                          format="png", colormap="magma"))
    want = _heatmap(np.arange(12.0).reshape(3, 4) * 1000, "magma")
    assert np.array_equal(np.asarray(image), want)


def test_png_of_constant_and_nan_previews(gw, grpc, name):
    grpc.put(name, np.full((4, 6), 3.25))
    image = _png(_preview(gw, name, shape="2x3", format="png"))
    assert image.size == (3, 2)
    # vmin == vmax: every finite value takes the first colour.
    want = np.zeros((2, 3, 4), dtype=np.uint8)
    want[..., :3], want[..., 3] = _table("viridis")[0], 255
    assert np.array_equal(np.asarray(image), want)
    assert np.array_equal(np.asarray(image), _heatmap(np.full((2, 3), 3.25)))
    grpc.put(name, np.full((4, 6), np.nan))
    image = _png(_preview(gw, name, shape="4x6", format="png"))
    assert not np.asarray(image).any()  # all transparent black


def test_a_bound_beyond_every_value_paints_one_colour(gw, grpc, name):
    grpc.put(name, np.arange(4.0).reshape(2, 2))
    first = np.zeros((2, 2, 4), dtype=np.uint8)
    first[..., :3], first[..., 3] = _table("viridis")[0], 255
    for bound in ({"vmin": "10"}, {"vmax": "-10"}):
        image = _png(_preview(gw, name, shape="2x2", format="png", **bound))
        assert np.array_equal(np.asarray(image), first), bound


def test_a_png_with_an_empty_side_is_refused_whatever_it_matches(gw, grpc,
                                                                 name):
    grpc.put(name, np.zeros((5, 0)))
    path = f"/v1/matrices/{name}/preview?shape=5&format=png"
    for headers in ({}, {"If-None-Match": "*"}):
        assert_problem(gw.get(path, headers=headers), 400, "INVALID_ARGUMENT",
                       "5x0 pixels")


def test_preview_refusals(gw, grpc, name):
    grpc.put(f"{name}.3d", np.zeros((6, 5, 4)))
    for shape in ("2x2x2", "2x2"):  # both give 3-D previews
        assert_problem(_preview(gw, f"{name}.3d", shape=shape, format="png"),
                       400, "INVALID_ARGUMENT", "png", "3 dimensions")
    grpc.put(f"{name}.1d", np.zeros(10))
    assert_problem(_preview(gw, f"{name}.1d", shape="5", format="png"), 400,
                   "INVALID_ARGUMENT", "png", "1 dimensions")
    grpc.put(f"{name}.c", np.zeros((4, 4), dtype=np.complex64))
    assert_problem(_preview(gw, f"{name}.c", shape="2x2", format="png"), 400,
                   "INVALID_ARGUMENT", "png", "complex")
    grpc.put(name, np.zeros((4, 4)))
    assert_problem(gw.get(f"/v1/matrices/{name}/preview"), 400,
                   "INVALID_ARGUMENT", "shape")
    assert_problem(_preview(gw, name, method="first"), 400,
                   "INVALID_ARGUMENT", "shape")
    assert_problem(_preview(gw, name, shape="2x"), 400, "INVALID_ARGUMENT",
                   "shape")
    assert_problem(_preview(gw, name, shape="5x5"), 400, "INVALID_ARGUMENT")
    assert_problem(_preview(gw, name, shape="2x2", method="median"), 400,
                   "INVALID_ARGUMENT", "median")
    assert_problem(_preview(gw, name, shape="2x2", format="gif"), 400,
                   "INVALID_ARGUMENT", "format=gif")
    assert_problem(_preview(gw, name, shape="2x2", format="png",
                            colormap="jet"), 400, "INVALID_ARGUMENT", "jet")
    assert_problem(_preview(gw, name, shape="2x2", format="png", vmin="nan"),
                   400, "INVALID_ARGUMENT", "vmin")
    assert_problem(_preview(gw, name, shape="2x2", format="png", vmin="2",
                            vmax="1"), 400, "INVALID_ARGUMENT")
    assert_problem(_preview(gw, name, shape="2x2", colour="red"), 400,
                   "INVALID_ARGUMENT", '"colour"')
    # colormap, vmin and vmax belong to png previews.
    assert_problem(_preview(gw, name, shape="2x2", colormap="gray"), 400,
                   "INVALID_ARGUMENT", '"colormap"')


# --- ETags -----------------------------------------------------------------


@pytest.mark.parametrize("view, query", [
    ("data", "slice=1:,::2"),
    ("data", "format=json"),
    ("preview", "shape=2x2&method=max"),
    ("preview", "shape=2x2&format=png"),
])
def test_etags_and_304(gw, grpc, name, view, query):
    grpc.put(name, np.arange(12.0).reshape(3, 4))
    path = f"/v1/matrices/{name}/{view}?{query}"
    first = gw.get(path)
    assert first.status == 200, first
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert gw.get(path).headers["ETag"] == etag  # stable
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = gw.get(path, headers={"If-None-Match": sent})
        assert again.status == 304 and again.body == b"", (sent, again)
        assert again.headers["ETag"] == etag
    other = gw.get(path, headers={"If-None-Match": '"other"'})
    assert other.status == 200 and other.body == first.body
    # Another query of the same version has another ETag.
    assert gw.get(path + "&dtype=float32").headers["ETag"] != etag

    grpc.put(name, np.arange(12.0)[::-1].reshape(3, 4))  # a replace
    replaced = gw.get(path, headers={"If-None-Match": etag})
    assert replaced.status == 200 and replaced.body != first.body
    assert replaced.body == gw.get(path).body
    assert replaced.headers["ETag"] != etag
    # And a replace over HTTP too.
    newer = replaced.headers["ETag"]
    assert gw.put(f"/v1/matrices/{name}",
                  npy_bytes(np.ones((3, 4)))).status == 200
    assert gw.get(path, headers={"If-None-Match": newer}).status == 200


@pytest.mark.parametrize("view, query, named", [
    ("data", "colour=red", '"colour"'),
    ("data", "slice=9", "9"),
    ("data", "format=csv", "csv"),
    ("data", "dtype=float7", "float7"),
    ("preview", "", "shape="),
    ("preview", "shape=9x9", "9"),
    ("preview", "shape=2x2&method=median", "median"),
    ("preview", "shape=2x2&format=png&vmin=low", "vmin"),
    ("preview", "shape=2x2&format=png", "2-dimensional"),
    ("preview", "shape=2x2&format=png&vmin=5&vmax=1", "vmin=5 is above vmax=1"),
])
def test_a_bad_query_is_refused_whatever_it_matches(gw, grpc, name, view,
                                                    query, named):
    """A request that fails without If-None-Match fails with it too: a
    precondition is only evaluated for a request that would succeed."""
    grpc.put(name, np.arange(24.0).reshape(2, 3, 4))
    path = f"/v1/matrices/{name}/{view}?{query}"
    refused = assert_problem(gw.get(path), 400, "INVALID_ARGUMENT", named)
    for sent in ("*", '"other", *'):
        again = gw.get(path, headers={"If-None-Match": sent})
        assert again.status == 400, (sent, again)
        assert "ETag" not in again.headers
        assert again.json() == refused
    valid = f"/v1/matrices/{name}/{view}?" + (
        "slice=1:" if view == "data" else "shape=2x2")
    assert gw.get(valid, headers={"If-None-Match": "*"}).status == 304


# --- PUT -------------------------------------------------------------------


@pytest.mark.parametrize("header, value", [
    ("If-None-Match", "*"), ("If-Match", "*"), ("If-Match", '"x"')])
def test_conditional_puts_and_deletes_are_refused_and_change_nothing(
        gw, grpc, name, header, value):
    kept = grpc.put(name, np.arange(5.0))
    path = f"/v1/matrices/{name}"
    refused = gw.put(path, npy_bytes(np.ones(3)), headers={header: value})
    assert_problem(refused, 501, "UNIMPLEMENTED", "PUT", "nothing was changed")
    refused = gw.request("DELETE", path, headers={header: value})
    assert_problem(refused, 501, "UNIMPLEMENTED", "DELETE")
    info = grpc.info(name)
    assert (info.generation, info.id) == (kept.generation, kept.id)
    np.testing.assert_array_equal(grpc.get(name), np.arange(5.0))
    # Without the header, both go ahead.
    assert gw.put(path, npy_bytes(np.ones(3))).status == 200
    assert gw.delete(path).status == 204


def _random(rng, dtype, shape):
    """Random values over the whole range of `dtype` (NaN and infinities
    among the floating-point ones)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.asarray(rng.integers(info.min, info.max, shape,
                                       dtype=dtype, endpoint=True))
    values = np.asarray(rng.normal(scale=100, size=shape))
    if dtype.kind == "c":
        values = values + 1j * rng.normal(scale=100, size=shape)
    flat = values.reshape(-1)
    for i, special in zip(range(0, flat.size, 7), (np.nan, np.inf, -np.inf)):
        flat[i] = special
    return np.asarray(values.astype(dtype))


_LAYOUTS = {
    "C": ((3, 4, 5), np.ascontiguousarray),
    "F": ((3, 4, 5), np.asfortranarray),
    "F-2d": ((7, 2), np.asfortranarray),
    "0d": ((), np.asarray),
    "empty": ((0,), np.asarray),
    "F-empty": ((2, 0, 3), np.asfortranarray),
    "1d": ((9,), np.asarray),
}


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("dtype", dtypes.SUPPORTED, ids=str)
def test_put_round_trips(gw, grpc, name, dtype, order):
    rng = np.random.default_rng([dtypes.SUPPORTED.index(dtype), ord(order)])
    for layout, (shape, arrange) in _LAYOUTS.items():
        want = _random(rng, dtype, shape)
        sent = arrange(want.astype(want.dtype.newbyteorder(order)))
        body = npy_bytes(sent)
        if layout == "F-empty":
            # Empty arrays are C-contiguous too, so np.save says C order;
            # say what a Fortran writer would (as numpy's ast-based
            # reader, white space before a comma is fine).
            body = body.replace(b"'fortran_order': False,",
                                b"'fortran_order': True ,")
        if layout.startswith("F"):
            assert b"'fortran_order': True" in body
        if order == ">" and dtype.itemsize > 1:
            assert b"'descr': '>" in body
        matrix = f"{name}.{layout}"
        put = gw.put(f"/v1/matrices/{matrix}", body)
        assert put.status == 201, (layout, put)
        assert put.headers["Content-Type"] == "application/json"
        info = put.json()
        assert info["name"] == matrix and info["shape"] == list(shape)
        assert info["dtype"] == info["original_dtype"] == dtype.name
        assert info["nbytes"] == want.nbytes
        assert info["pinned"] is False and info["expires"] is None
        got = grpc.get(matrix)
        assert got.dtype == dtype and got.shape == shape, layout
        assert got.tobytes() == want.tobytes(), (layout, got, want)
        described = grpc.info(matrix)
        assert described.generation == info["generation"]
        assert described.id.hex() == info["id"]
        # Whether hashed as it arrived or at Commit, the checksum is the
        # one the gRPC put of the same values gets.
        grpc.put(f"{matrix}.grpc", want)
        assert described.checksum == grpc.info(f"{matrix}.grpc").checksum, layout
        _assert_npy(_data(gw, matrix), want)


def test_put_in_small_chunks_and_npy_versions(gw, grpc, name):
    values = np.arange(60).reshape(3, 4, 5) * (1 + 0.5j)
    sent = np.asfortranarray(values.astype(">c16"))
    body = npy_bytes(sent)
    # Chunks of 7 bytes: the header and the 16-byte elements split across
    # pieces.
    response = gw.chunked("PUT", f"/v1/matrices/{name}",
                          [body[i:i + 7] for i in range(0, len(body), 7)])
    assert response.status == 201, response
    assert grpc.get(name).tobytes() == values.astype("<c16").tobytes()
    for version in ((1, 0), (2, 0), (3, 0)):
        out = io.BytesIO()
        np.lib.format.write_array(out, values.real.astype(">i2"),
                                  version=version)
        assert out.getvalue()[6] == version[0]
        response = gw.put(f"/v1/matrices/{name}.v", out.getvalue())
        assert response.status in (200, 201), (version, response)
        got = grpc.get(f"{name}.v")
        assert got.dtype == np.int16
        assert np.array_equal(got, values.real.astype(np.int16)), version
    # Byte order, memory order and a stored dtype at once.
    ints = np.asfortranarray(np.arange(-30, 30).reshape(3, 4, 5).astype(">i8"))
    response = gw.put(f"/v1/matrices/{name}.f16?store_dtype=float16",
                      npy_bytes(ints))
    assert response.status == 201, response
    assert response.json()["original_dtype"] == "int64"
    got = grpc.get(f"{name}.f16")
    assert got.dtype == np.float16
    assert got.tobytes() == ints.astype("<f2").tobytes()


def test_put_of_several_checksum_blocks_in_odd_pieces(start_server, name):
    # Over two 16 MiB checksum blocks, in pieces that end inside elements
    # and across block boundaries, hashed as the pieces arrive.
    server = start_server()
    gateway = Gateway(server.http_address(), server.token_file.read_text().strip())
    values = np.random.default_rng(5).standard_normal((2 * 2**21 + 1001,))
    body = npy_bytes(values)
    piece = (3 << 20) + 5
    response = gateway.chunked(
        "PUT", f"/v1/matrices/{name}",
        [body[i:i + piece] for i in range(0, len(body), piece)])
    assert response.status == 201, response
    with matcache.Client(server.address) as client:
        assert client.get(name).tobytes() == values.tobytes()
        client.put(f"{name}.grpc", values)
        assert client.info(name).checksum == client.info(f"{name}.grpc").checksum


def test_put_answers_201_for_new_and_200_for_replaced(gw, grpc, name):
    first = gw.put(f"/v1/matrices/{name}", npy_bytes(np.arange(3)))
    assert first.status == 201, first
    second = gw.put(f"/v1/matrices/{name}", npy_bytes(np.arange(4.0)))
    assert second.status == 200, second
    assert second.json()["generation"] > first.json()["generation"]
    assert second.json()["shape"] == [4]
    assert grpc.info(name).generation == second.json()["generation"]
    assert np.array_equal(grpc.get(name), np.arange(4.0))


def test_put_retention_replaces_the_previous_versions(gw, grpc, name):
    # As with the Python put: each put says its own pin and expiry.
    path = f"/v1/matrices/{name}"
    first = gw.put(f"{path}?pin=1&ttl=100", npy_bytes(np.ones(2))).json()
    assert first["pinned"] is True and first["expires"] is not None
    replaced = gw.put(path, npy_bytes(np.ones(2)))
    assert replaced.status == 200
    assert replaced.json()["pinned"] is False
    assert replaced.json()["expires"] is None
    assert grpc.info(name).pinned is False and grpc.info(name).expires is None
    again = gw.put(f"{path}?pin=true&ttl=0", npy_bytes(np.ones(2))).json()
    assert again["pinned"] is True and again["expires"] is None


def test_put_pin_ttl_and_store_dtype(gw, grpc, name):
    before = datetime.datetime.now(datetime.timezone.utc)
    put = gw.put(f"/v1/matrices/{name}?pin=1&ttl=60", npy_bytes(np.ones(5)))
    assert put.status == 201, put
    info = put.json()
    assert info["pinned"] is True
    expires = datetime.datetime.fromisoformat(
        info["expires"].replace("Z", "+00:00"))
    assert before + datetime.timedelta(seconds=59) <= expires
    assert expires <= before + datetime.timedelta(seconds=62)
    described = grpc.info(name)
    assert described.pinned is True
    assert abs((described.expires - expires).total_seconds()) < 1

    values = np.random.default_rng(3).normal(size=(4, 6))
    put = gw.put(f"/v1/matrices/{name}.f32?store_dtype=float32",
                 npy_bytes(values))
    assert put.status == 201, put
    assert put.json()["dtype"] == "float32"
    assert put.json()["original_dtype"] == "float64"
    assert put.json()["pinned"] is False and put.json()["expires"] is None
    described = grpc.info(f"{name}.f32")
    assert described.dtype == np.float32
    assert described.original_dtype == np.float64
    stored = grpc.get(f"{name}.f32")
    assert stored.dtype == np.float32
    assert stored.tobytes() == values.astype(np.float32).tobytes()

    for query, word in (("pin=yes", "pin"), ("ttl=-1", "ttl"),
                        ("store_dtype=float128", "float128"),
                        ("pin=1&tll=5", '"tll"')):
        assert_problem(gw.put(f"/v1/matrices/{name}.bad?{query}",
                              npy_bytes(np.ones(2))),
                       400, "INVALID_ARGUMENT", word)
        with pytest.raises(matcache.NotFoundError):
            grpc.info(f"{name}.bad")


def _npy_header(shape, descr="<f8"):
    """An .npy version 1.0 header for `shape` of `descr`."""
    text = (f"{{'descr': '{descr}', 'fortran_order': False, "
            f"'shape': {tuple(shape)!r}, }}")
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    return (b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little")
            + text.encode())


def _bad_bodies():
    """(label, how it is sent, body) of uploads that must be refused: sent
    whole with a Content-Length of their size, chunked (no
    Content-Length), or with the Content-Length given as `how`, and only
    as many bytes."""
    good = npy_bytes(np.arange(50.0).reshape(5, 10))
    structured = io.BytesIO()
    np.save(structured, np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]))
    pickled = io.BytesIO()
    np.save(pickled, np.array([1, "x", None], dtype=object), allow_pickle=True)
    strings = npy_bytes(np.array(["ab", "cd"]))
    return [
        ("not npy", "whole", b"this is not an .npy file at all, sorry" * 3),
        ("structured dtype", "whole", structured.getvalue()),
        ("object dtype", "whole", pickled.getvalue()),
        ("unicode dtype", "whole", strings),
        ("truncated", "whole", good[:-8]),
        ("truncated", "chunked", good[:-8]),
        ("header cut short", "chunked", good[:40]),
        ("longer", "whole", good + b"\0" * 8),
        ("longer", "chunked", good + b"\0" * 8),
        ("empty", "whole", b""),
        ("empty", "chunked", b""),
        ("bad magic", "whole", b"\x93NUMPZ" + good[6:]),
        ("Content-Length short of the body", len(good) - 8, good),
        ("Content-Length short of the header", 20, good),
        ("huge header size", "chunked", good[:8] + b"\xff\xff" + good[10:]),
    ]


def _assert_nothing_changed(srv, grpc, existing, original, new_name):
    assert np.array_equal(grpc.get(existing), original)
    with pytest.raises(matcache.NotFoundError):
        grpc.info(new_name)
    assert srv.staging_files() == []
    assert grpc.stats().staging_count == 0


def test_bad_bodies_publish_nothing_and_leave_no_file(srv, gw, grpc, name):
    original = np.arange(6.0)
    grpc.put(name, original)
    generation = grpc.info(name).generation
    for label, how, body in _bad_bodies():
        for target in (name, f"{name}.new"):
            path = f"/v1/matrices/{target}"
            if how == "whole":
                response = gw.put(path, body)
            elif isinstance(how, int):  # a Content-Length that lies
                response = gw.put(path, body[:how],
                                  headers={"Content-Length": str(how)})
            else:
                response = gw.chunked("PUT", path, [
                    body[i:i + 100] for i in range(0, len(body), 100)])
            problem = assert_problem(response, 400, "INVALID_ARGUMENT")
            assert problem["detail"], (label, how)
            _assert_nothing_changed(srv, grpc, name, original, f"{name}.new")
    assert grpc.info(name).generation == generation


def test_bad_body_problems_say_what_is_wrong(gw, grpc, name):
    good = npy_bytes(np.arange(50.0).reshape(5, 10))  # 400 data bytes
    header = len(good) - 400
    path = f"/v1/matrices/{name}"
    assert_problem(gw.put(path, good[:-8]), 400, "INVALID_ARGUMENT",
                   "Content-Length", str(len(good) - 8), str(len(good)))
    assert_problem(gw.put(path, good + b"\0" * 8), 400, "INVALID_ARGUMENT",
                   "Content-Length", str(len(good) + 8))
    assert_problem(gw.chunked("PUT", path, [good[:-8]]), 400,
                   "INVALID_ARGUMENT", "ended", "392 of the 400")
    assert_problem(gw.chunked("PUT", path, [good, b"\0" * 8]), 400,
                   "INVALID_ARGUMENT", "longer", "400")
    assert_problem(gw.put(path, b""), 400, "INVALID_ARGUMENT", "ended",
                   "header")
    assert_problem(gw.chunked("PUT", path, [good[:header - 1]]), 400,
                   "INVALID_ARGUMENT", "header")
    with pytest.raises(matcache.NotFoundError):
        grpc.info(name)


def test_too_large_upload_is_507(srv, gw, grpc, name):
    elements = MAX_MATRIX_BYTES // 8 + 1
    body = _npy_header((elements,)) + bytes(elements * 8)
    assert_problem(gw.put(f"/v1/matrices/{name}", body), 507,
                   "RESOURCE_EXHAUSTED", str(MAX_MATRIX_BYTES))
    with pytest.raises(matcache.NotFoundError):
        grpc.info(name)
    assert srv.staging_files() == []


def _wait_until(condition, what):
    deadline = time.monotonic() + CLOSE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"still not {what}"
        time.sleep(0.005)


def test_uploads_cut_off_by_the_client_are_aborted(srv, gw, grpc, name):
    good = npy_bytes(np.arange(100_000.0))
    aborted = ('matcache_requests_total{code="aborted",method="put",'
               'transport="http"}')
    before = _samples(gw).get(aborted, 0)
    attempts = 5  # the end of the stream may come before the last bytes
    for attempt in range(attempts):
        connection = gw.connect()
        try:
            connection.putrequest("PUT", f"/v1/matrices/{name}")
            connection.putheader("Authorization", f"Bearer {gw.token}")
            connection.putheader("Content-Length", str(len(good)))
            connection.endheaders()
            connection.send(good[:4096])
            # The header was read: the write began, and the server waits
            # for more of the body.
            _wait_until(srv.staging_files, "a staging file")
            # A few more bytes and the end of the stream, close together.
            connection.send(good[4096:8192])
            connection.sock.shutdown(socket.SHUT_WR)
            _wait_until(lambda: not srv.staging_files(), "aborted")
        finally:
            connection.close()
        with pytest.raises(matcache.NotFoundError):
            grpc.info(name)
    assert grpc.stats().staging_count == 0
    assert _samples(gw)[aborted] == before + attempts


def test_curl_uploads_and_downloads(srv, gw, grpc, name, tmp_path):
    # Over 1 MiB: curl asks "Expect: 100-continue" first.
    values = np.random.default_rng(5).normal(size=(400, 400)).astype(">f8")
    np.save(tmp_path / "up.npy", np.asfortranarray(values))
    url = f"http://{gw.address}/v1/matrices/{name}"
    auth = f"Authorization: Bearer {gw.token}"
    done = subprocess.run(
        ["curl", "-sS", "-T", str(tmp_path / "up.npy"), "-H", auth,
         "-o", str(tmp_path / "put.json"), "-w", "%{http_code}", url],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "201", done
    info = json.loads((tmp_path / "put.json").read_text())
    assert info["name"] == name and info["shape"] == [400, 400]
    assert grpc.get(name).tobytes() == values.astype("<f8").tobytes()
    done = subprocess.run(
        ["curl", "-sS", "-f", "-H", auth, "-o", str(tmp_path / "down.npy"),
         f"{url}/data?slice=::-3,5"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    got = np.load(tmp_path / "down.npy")
    assert got.dtype == np.float64
    assert got.tobytes() == values[::-3, 5].astype("<f8").tobytes()


# --- DELETE and routes -----------------------------------------------------


def test_delete(gw, grpc, name):
    grpc.put(name, np.zeros(3))
    deleted = gw.delete(f"/v1/matrices/{name}")
    assert deleted.status == 204 and deleted.body == b""
    assert_problem(gw.get(f"/v1/matrices/{name}"), 404, "NOT_FOUND", name)
    assert_problem(_data(gw, name), 404, "NOT_FOUND", name)
    with pytest.raises(matcache.NotFoundError):
        grpc.info(name)
    assert_problem(gw.delete(f"/v1/matrices/{name}"), 404, "NOT_FOUND", name)


def test_routes_and_methods(gw, grpc, name):
    grpc.put(name, np.zeros(3))
    assert_problem(gw.get(f"/v1/matrices/{name}/other"), 404, "NOT_FOUND",
                   "other")
    assert_problem(gw.get("/v2/matrices"), 404, "NOT_FOUND", "/v2/matrices")
    for view in ("data", "preview"):
        refused = gw.request("POST", f"/v1/matrices/{name}/{view}", b"")
        assert_problem(refused, 405, "UNIMPLEMENTED", "POST")
        assert refused.headers["Allow"] == "GET, HEAD"
    refused = gw.request("PATCH", f"/v1/matrices/{name}", b"")
    assert_problem(refused, 405, "UNIMPLEMENTED", "PATCH")
    assert refused.headers["Allow"] == "GET, HEAD, PUT, DELETE"
    assert_problem(gw.put("/v1/matrices/.hidden", npy_bytes(np.ones(1))), 400,
                   "INVALID_ARGUMENT")
    head = gw.request("HEAD", f"/v1/matrices/{name}/data")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["Content-Length"]) == len(_data(gw, name).body)


def _on_one_connection(gw, requests):
    """Sends `requests` ((method, path, body, headers) each) one after the
    other on one connection; returns their Responses, asserting that the
    server kept the connection open throughout."""
    connection = gw.connect()
    auth = {} if gw.token is None else {"Authorization": f"Bearer {gw.token}"}
    responses, local = [], None
    try:
        for method, path, body, headers in requests:
            connection.request(method, path, body=body,
                               headers={**auth, **headers})
            if local is None:
                local = connection.sock.getsockname()
            assert connection.sock.getsockname() == local, (method, path)
            response = connection.getresponse()
            responses.append(Response(response.status, response.headers,
                                      response.read()))
            assert response.getheader("Connection") != "close", (method, path)
            assert not response.will_close, (method, path)
    finally:
        connection.close()
    return responses


def test_clients_can_reuse_a_connection(gw, grpc, name):
    grpc.put(name, np.arange(100_000.0))
    data = f"/v1/matrices/{name}/data"
    first, *rest = _on_one_connection(gw, [
        ("GET", data, None, {}),
        ("GET", f"{data}?slice=:3&format=json", None, {}),
        ("HEAD", data, None, {}),
        ("GET", f"/v1/matrices/{name}/preview?shape=2&format=npy", None, {}),
        ("GET", "/v1/matrices/absent", None, {}),
        ("PUT", f"/v1/matrices/{name}.new", npy_bytes(np.ones(3)), {}),
        ("PUT", f"/v1/matrices/{name}.new", b"not npy", {}),
        ("DELETE", f"/v1/matrices/{name}.new", None, {}),
        ("GET", "/healthz", None, {}),
        ("GET", "/metrics", None, {}),
    ])
    _assert_npy(first, np.arange(100_000.0))
    assert [r.status for r in rest] == [200, 200, 200, 404, 201, 400, 204,
                                        200, 200]
    assert rest[0].json()["data"] == [0, 1, 2]
    etag = first.headers["ETag"]
    (again,) = _on_one_connection(gw, [("GET", data, None,
                                        {"If-None-Match": etag})])
    assert again.status == 304


# --- tokens ----------------------------------------------------------------


def _token_file(directory, filename, token):
    path = pathlib.Path(directory) / filename
    path.write_text(f"{token}\n")
    path.chmod(0o600)
    return path


def test_the_generated_access_token_guards_every_matrix_route(srv, gw, grpc,
                                                              name):
    grpc.put(name, np.zeros((2, 2)))
    anonymous, wrong = gw.with_token(None), gw.with_token("x" * 64)
    for method, path, body in (
            ("GET", f"/v1/matrices/{name}/data", None),
            ("GET", f"/v1/matrices/{name}/data?format=json", None),
            ("GET", f"/v1/matrices/{name}/preview?shape=1x1", None),
            ("PUT", f"/v1/matrices/{name}", npy_bytes(np.ones(3))),
            ("DELETE", f"/v1/matrices/{name}", None)):
        problem = assert_problem(anonymous.request(method, path, body), 401,
                                 "UNAUTHENTICATED")
        assert str(srv.token_file) in problem["detail"]
        assert_problem(wrong.request(method, path, body), 403,
                       "PERMISSION_DENIED")
    assert np.array_equal(grpc.get(name), np.zeros((2, 2)))
    assert srv.staging_files() == []


def test_read_and_write_tokens(start_server, tmp_path):
    write_token, read_token = "w-" + "a1" * 20, "r-" + "b2" * 20
    srv = start_server(
        "--write_token_file", str(_token_file(tmp_path, "w", write_token)),
        "--read_token_file", str(_token_file(tmp_path, "r", read_token)))
    address = srv.http_address()
    anonymous = Gateway(address)
    reader = Gateway(address, read_token)
    writer = Gateway(address, write_token)
    wrong = Gateway(address, "x" + write_token)
    body = npy_bytes(np.arange(6.0).reshape(2, 3))

    for client, status, code in ((anonymous, 401, "UNAUTHENTICATED"),
                                 (wrong, 403, "PERMISSION_DENIED"),
                                 (reader, 403, "PERMISSION_DENIED")):
        assert_problem(client.put("/v1/matrices/m", body), status, code)
        assert srv.staging_files() == []
    assert writer.put("/v1/matrices/m", body).status == 201

    reads = ["/v1/matrices/m", "/v1/matrices/m/data",
             "/v1/matrices/m/data?format=json",
             "/v1/matrices/m/preview?shape=1", "/v1/matrices"]
    for path in reads:
        assert reader.get(path).status == 200, path
        assert writer.get(path).status == 200, path
        assert_problem(anonymous.get(path), 401, "UNAUTHENTICATED")
        assert_problem(wrong.get(path), 403, "PERMISSION_DENIED")
    _assert_npy(reader.get("/v1/matrices/m/data"),
                np.arange(6.0).reshape(2, 3))
    assert anonymous.get("/healthz").status == 200

    for client, status, code in ((anonymous, 401, "UNAUTHENTICATED"),
                                 (reader, 403, "PERMISSION_DENIED")):
        assert_problem(client.delete("/v1/matrices/m"), status, code)
    assert reader.get("/v1/matrices/m").status == 200
    assert writer.delete("/v1/matrices/m").status == 204
    assert reader.get("/v1/matrices/m").status == 404


# --- HTTPS -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return certs.TestCertificates(tmp_path_factory.mktemp("certs"))


def _context(tls, client=None):
    context = ssl.create_default_context(cafile=str(tls.ca[0]))
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    return context


def test_https(start_server, tls):
    srv = start_server("--tls_cert", str(tls.server[0]),
                       "--tls_key", str(tls.server[1]))
    with matcache.Client(srv.address) as c:  # the unix socket: plaintext
        c.put("m", np.arange(8.0))
    token = srv.token_file.read_text().strip()
    address = srv.http_address()
    plain = Gateway(address, token)
    # No HTTP answer: the server expects a TLS handshake.
    with pytest.raises((ConnectionError, http.client.BadStatusLine)):
        plain.get("/healthz")
    with pytest.raises(ssl.SSLCertVerificationError):
        Gateway(address, token, ssl.create_default_context(
            cafile=str(tls.other_ca[0]))).get("/healthz")
    secure = Gateway(address, token, _context(tls))
    health = secure.get("/healthz")
    assert health.status == 200 and health.body == b"ok\n"
    _assert_npy(secure.get("/v1/matrices/m/data?slice=::2"),
                np.arange(0.0, 8, 2))
    statuses = [r.status for r in _on_one_connection(secure, [
        ("GET", "/v1/matrices/m/data", None, {}),
        ("GET", "/v1/matrices/m", None, {}),
        ("PUT", "/v1/matrices/n", npy_bytes(np.ones(2)), {})])]
    assert statuses == [200, 200, 201]
    # Without client certificates, HTTPS still needs the access token.
    assert_problem(secure.with_token(None).get("/v1/matrices/m/data"), 401,
                   "UNAUTHENTICATED")


def test_https_with_client_certificates(start_server, tls):
    srv = start_server("--tls_cert", str(tls.server[0]),
                       "--tls_key", str(tls.server[1]),
                       "--tls_client_ca", str(tls.ca[0]))
    assert not srv.token_file.exists()  # mutual TLS needs no access token
    with matcache.Client(srv.address) as c:
        c.put("m", np.arange(8.0))
    address = srv.http_address()
    path = "/v1/matrices/m/data"
    # The handshake succeeds without a certificate, or with one of another
    # CA; the requests that need access are then refused.
    for client in (None, tls.stranger):
        untrusted = Gateway(address, None, _context(tls, client))
        assert untrusted.get("/healthz").status == 200
        assert_problem(untrusted.get(path), 401, "UNAUTHENTICATED",
                       "client certificate")
        assert_problem(untrusted.put("/v1/matrices/n", npy_bytes(np.ones(2))),
                       401, "UNAUTHENTICATED", "client certificate")
        assert_problem(untrusted.delete("/v1/matrices/m"), 401,
                       "UNAUTHENTICATED")
        # A token does not replace the certificate.
        assert_problem(untrusted.with_token("x" * 64).get(path), 401,
                       "UNAUTHENTICATED")
    assert srv.staging_files() == []
    trusted = Gateway(address, None, _context(tls, tls.client))
    _assert_npy(trusted.get(path), np.arange(8.0))
    assert trusted.put("/v1/matrices/n", npy_bytes(np.ones(2))).status == 201
    with matcache.Client(srv.address) as c:
        assert np.array_equal(c.get("n"), np.ones(2))
    assert trusted.delete("/v1/matrices/m").status == 204


# --- metrics ---------------------------------------------------------------


def _samples(gw):
    response = gw.get("/metrics")
    assert response.status == 200
    samples = {}
    for line in response.body.decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


def test_metrics_count_http_requests_and_bytes(gw, grpc, name):
    grpc.put(name, np.arange(400_000.0))  # 3.2 MB, streamed in many blocks
    requests = ('matcache_requests_total{code="200",method="data",'
                'transport="http"}')
    sent = 'matcache_sent_bytes_total{transport="http"}'
    before = _samples(gw)
    received = 0
    full = np.arange(400_000.0)
    for query, want in (("", full),
                        ("?slice=::-3", full[::-3]),
                        ("?slice=:1000&format=json", None),
                        ("?dtype=float32", full.astype(np.float32))):
        response = gw.get(f"/v1/matrices/{name}/data{query}")
        if want is None:
            assert response.json()["data"] == list(range(1000))
        else:
            _assert_npy(response, want)
        received += len(response.body)
    after = _samples(gw)
    assert after[requests] - before.get(requests, 0) == 4
    assert after[sent] - before[sent] >= received
    assert received > 5_000_000
