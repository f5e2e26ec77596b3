"""Client.read and Client.preview: results, and bad input refused with an
error naming the offending part while the server stays healthy."""

import numpy as np
import pytest

import matcache

SOURCE = np.arange(3 * 4 * 5, dtype=np.float64).reshape(3, 4, 5)


@pytest.fixture
def stored(client, name):
    """`name` holding SOURCE for the duration of the test."""
    client.put(name, SOURCE)
    yield name
    client.delete(name)


def _assert_healthy(client, name):
    """A normal read still works."""
    np.testing.assert_array_equal(client.read(name, np.s_[1, ::2]),
                                  SOURCE[1, ::2])


def test_read_without_key_is_the_whole_matrix(client, stored):
    got = client.read(stored)
    np.testing.assert_array_equal(got, SOURCE)
    assert got.dtype == SOURCE.dtype
    assert not got.flags.writeable
    assert got.flags.c_contiguous


@pytest.mark.parametrize("key", [
    np.int64(-1), np.s_[np.uint8(1):], np.s_[..., 2], np.s_[1, ...],
    np.s_[...], np.s_[1, ..., -1], np.s_[::-1, 2, ::-2], np.s_[5:, :],
    np.s_[:10**30, ::-(10**30)], np.array(2),
], ids=str)
def test_key_forms(client, stored, key):
    np.testing.assert_array_equal(client.read(stored, key), SOURCE[key])
    assert client.read(stored, key).shape == SOURCE[key].shape


def test_every_index_an_integer_gives_a_0d_array(client, stored):
    got = client.read(stored, (2, -1, 3), dtype="int8")
    assert got.shape == () and got.dtype == np.int8
    assert got == SOURCE[2, -1, 3]


def test_0d_matrix(client, name):
    client.put(name, np.array(7.5))
    try:
        assert client.read(name).shape == ()
        assert client.read(name, ...) == 7.5
        with pytest.raises(matcache.InvalidArgumentError, match="too many"):
            client.read(name, 0)
    finally:
        client.delete(name)


@pytest.mark.parametrize("dtype", ["float32", np.int16, ">u2", np.dtype("c8")],
                         ids=str)
def test_dtype_spellings(client, stored, dtype):
    got = client.read(stored, np.s_[:, 1], dtype)
    want = SOURCE[:, 1].astype(dtype)
    assert got.dtype == want.dtype.newbyteorder("<")
    np.testing.assert_array_equal(got, want)


def test_multi_chunk_read(server, name):
    # 12 MiB selected out of 24 MiB: several 4 MiB messages.
    source = np.arange(3 << 20, dtype=np.int64).reshape(1 << 10, 3 << 10)
    with matcache.Client(server.address, local=False) as remote:
        remote.put(name, source)
        try:
            got = remote.read(name, np.s_[::-1, 1::2])
            cast = remote.read(name, np.s_[100:200], "float32")
        finally:
            remote.delete(name)
    np.testing.assert_array_equal(got, source[::-1, 1::2])
    np.testing.assert_array_equal(cast, source[100:200].astype(np.float32))


def test_streamed_get_uses_read(server, name):
    with matcache.Client(server.address, local=False) as remote:
        remote.put(name, SOURCE)
        try:
            got = remote.get(name)
        finally:
            remote.delete(name)
    np.testing.assert_array_equal(got, SOURCE)
    assert not got.flags.writeable


@pytest.mark.parametrize("key, part", [
    (np.s_[::0], "step is 0 in dimension 0"),
    (np.s_[:, 1:2:0], "step is 0 in dimension 1"),
    (np.s_[3], "index 3 is out of bounds for dimension 0"),
    (np.s_[:, -5], "index -5 is out of bounds for dimension 1"),
    ((0, 0, 0, 0), "too many indices"),
    ((0, 0, ..., 0, 0), "too many indices"),
], ids=str)
def test_server_refuses_bad_index(client, stored, key, part):
    with pytest.raises(matcache.InvalidArgumentError, match=part):
        client.read(stored, key)
    _assert_healthy(client, stored)


@pytest.mark.parametrize("key, part", [
    (None, "None"),
    (np.s_[:, np.newaxis], "None"),
    (True, "boolean"),
    (np.s_[np.True_, 1], "boolean"),
    ([0, 1], "advanced indexing"),
    (np.array([0, 1]), "advanced indexing"),
    ((0, [1]), "advanced indexing"),
    (1.0, r"1.0 \(float\)"),
    ("a", r"'a' \(str\)"),
    (np.s_[0.5:], "start is not an integer"),
    (np.s_[::"x"], "step is not an integer"),
    ((..., 0, ...), "single Ellipsis"),
    (2**64, "does not fit in 64 bits"),
], ids=str)
def test_client_refuses_unsupported_key_before_any_call(key, part):
    # No server listens here: reaching it would raise UnavailableError.
    with matcache.Client("unix:/nonexistent/matcache.sock") as c:
        with pytest.raises(matcache.InvalidArgumentError,
                           match=part) as raised:
            c.read("x", key)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("dtype, part", [
    ("float128", "unsupported dtype float128"),
    ("U4", "unsupported dtype"),
    ("no-such-type", "unknown dtype 'no-such-type'"),
], ids=str)
def test_bad_dtype_is_refused_before_any_call(dtype, part):
    with matcache.Client("unix:/nonexistent/matcache.sock") as c:
        with pytest.raises(matcache.InvalidArgumentError, match=part):
            c.read("x", (), dtype)


@pytest.mark.parametrize("shape, part", [
    ((2, 0), "non-positive extent in dimension 1"),
    ((1, 1, 1, 1), "more dimensions than the matrix"),
    ((4,), "larger than the matrix .* in dimension 0"),
    ((3, 4, 6), "larger than the matrix .* in dimension 2"),
    ((), "preview shape is empty"),
], ids=str)
def test_server_refuses_bad_preview_shape(client, stored, shape, part):
    with pytest.raises(matcache.InvalidArgumentError, match=part):
        client.preview(stored, shape)
    _assert_healthy(client, stored)


@pytest.mark.parametrize("method", ["min", "max"])
def test_min_max_of_complex_is_refused(client, name, method):
    client.put(name, np.ones((4, 4), np.complex64))
    try:
        with pytest.raises(matcache.InvalidArgumentError, match="complex"):
            client.preview(name, (2, 2), method)
        assert client.preview(name, (2, 2), "first").dtype == np.complex64
    finally:
        client.delete(name)


@pytest.mark.parametrize("shape, method, part", [
    ((2, 2), "median", "unknown preview method 'median'"),
    ((2, 2), "MEAN", "unknown preview method"),
    ("2x2", "mean", "bad preview shape '2x2'"),
    (2, "mean", "bad preview shape 2"),
    ((2.0, 2), "mean", "bad preview shape"),
    ((True, 2), "mean", "bad preview shape"),
], ids=str)
def test_client_refuses_bad_preview_arguments_before_any_call(shape, method,
                                                               part):
    with matcache.Client("unix:/nonexistent/matcache.sock") as c:
        with pytest.raises(matcache.InvalidArgumentError, match=part):
            c.preview("x", shape, method)


@pytest.mark.parametrize("call", ["read", "preview"])
@pytest.mark.parametrize("local", [None, False])
def test_missing_name_is_not_found(server, name, call, local):
    with matcache.Client(server.address, local=local) as c:
        with pytest.raises(matcache.NotFoundError, match=name):
            if call == "read":
                c.read(name, np.s_[1:])
            else:
                c.preview(name, (1,))


def test_missing_name_with_inner_ellipsis_is_not_found(client, name):
    with pytest.raises(matcache.NotFoundError, match=name):
        client.read(name, np.s_[..., 1])


def test_inner_ellipsis_follows_a_replace_that_changes_ndim(client, name,
                                                            monkeypatch):
    # The key is expanded with the ndim of the version Info returned; a
    # replace right after that Info (here: by a 2-d matrix) must not make the
    # read apply a 3-d expansion to the new version.
    client.put(name, SOURCE)
    replacement = np.arange(12.0).reshape(4, 3)
    real_info = matcache.Client._info
    infos = []

    def info_then_replace(self, matrix):
        infos.append(real_info(self, matrix))
        if len(infos) == 1:
            client.put(name, replacement)
        return infos[-1]

    monkeypatch.setattr(matcache.Client, "_info", info_then_replace)
    try:
        got = client.read(name, np.s_[1, ..., -1])
    finally:
        monkeypatch.undo()
        client.delete(name)
    assert [len(i.shape) for i in infos] == [3, 2]
    np.testing.assert_array_equal(got, replacement[1, ..., -1])


def _replacing_after_each_info(client, name, monkeypatch, replaces):
    """Makes each of the first `replaces` Info calls of matcache.Client be
    followed by a replace of `name` (by `client`): the version Info named
    is gone before it can be read. Returns the list of Infos and the list
    of the arrays put."""
    real_info = matcache.Client._info
    infos, puts = [], []

    def info_then_replace(self, matrix):
        infos.append(real_info(self, matrix))
        if len(infos) <= replaces:
            puts.append(np.full((2, 3, 4), float(len(infos))))
            real_put(client, name, puts[-1])
        return infos[-1]

    real_put = matcache.Client.put
    monkeypatch.setattr(matcache.Client, "_info", info_then_replace)
    return infos, puts


def test_inner_ellipsis_tries_the_versions_replaces_make_until_one_stays(
        client, name, monkeypatch):
    client.put(name, SOURCE)
    infos, puts = _replacing_after_each_info(client, name, monkeypatch, 5)
    try:
        got = client.read(name, np.s_[..., ::2])
    finally:
        monkeypatch.undo()
        client.delete(name)
    # Five versions were gone by the time they were read; the sixth stayed.
    assert len(infos) == 6
    assert [i.generation for i in infos] == sorted(
        {i.generation for i in infos})
    np.testing.assert_array_equal(got, puts[-1][..., ::2])


def test_inner_ellipsis_gives_up_after_eight_raced_versions(client, name,
                                                            monkeypatch):
    client.put(name, SOURCE)
    infos, _ = _replacing_after_each_info(client, name, monkeypatch, 100)
    try:
        with pytest.raises(matcache.FailedPreconditionError) as raised:
            client.read(name, np.s_[..., ::2])
    finally:
        monkeypatch.undo()
        client.delete(name)
    assert len(infos) == 8
    assert str(infos[-1].generation) in str(raised.value)
