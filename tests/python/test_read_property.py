"""Client.read agrees with numpy: random shapes, random basic indices and
casts between every pair of dtypes, through a local and a streaming-only
client (seeded random cases, 1120 in all)."""

import random
import warnings

import numpy as np
import pytest

import matcache
from matcache import dtypes

MATRICES_PER_DTYPE = 4
READS_PER_MATRIX = 10  # per client
STEPS = [-4, -3, -2, -1, 1, 2, 3, 4]


def _values(rng, dtype, shape):
    """Values whose cast to any dtype numpy defines: integers in
    [-100, 100] (wrapped into unsigned types), quarters in that range for
    floating point, 0/1 for bool."""
    count = int(np.prod(shape))
    if dtype.kind == "b":
        return np.array([rng.random() < 0.5 for _ in range(count)],
                        dtype=dtype).reshape(shape)
    if dtype.kind in "iu":
        return np.array([rng.randint(-100, 100) for _ in range(count)]
                        ).astype(dtype).reshape(shape)
    quarters = np.array([rng.randint(-400, 400) / 4 for _ in range(count)])
    if dtype.kind == "c":
        quarters = quarters + 1j * np.array(
            [rng.randint(-400, 400) / 4 for _ in range(count)])
    return quarters.astype(dtype).reshape(shape)


def _random_shape(rng):
    # Mostly non-empty: a zero extent empties the whole matrix.
    return tuple(0 if rng.random() < 0.08 else rng.randint(1, 6)
                 for _ in range(rng.randint(1, 4)))


def _bound(rng, extent):
    return None if rng.random() < 0.5 else rng.randint(-extent - 1, extent + 1)


def _random_slice(rng, extent):
    step = None if rng.random() < 0.3 else rng.choice(STEPS)
    return slice(_bound(rng, extent), _bound(rng, extent), step)


def _random_part(rng, extent):
    if extent > 0 and rng.random() < 0.25:
        return rng.randint(-extent, extent - 1)
    # Prefer slices that select something; empty ones still come up.
    for _ in range(2):
        part = _random_slice(rng, extent)
        if len(range(*part.indices(extent))):
            break
    return part


def _random_key(rng, shape):
    """A basic index numpy accepts for `shape`: up to one part per
    dimension, sometimes with an Ellipsis somewhere, sometimes not a
    tuple."""
    count = rng.randint(0, len(shape))
    with_ellipsis = rng.random() < 0.3
    if with_ellipsis:
        # The Ellipsis stands for the dimensions the parts after it skip.
        at = rng.randint(0, count)
        skipped = len(shape) - count
        dims = list(range(at)) + list(range(at + skipped, len(shape)))
        parts = [_random_part(rng, shape[d]) for d in dims]
        parts.insert(at, Ellipsis)
    else:
        parts = [_random_part(rng, shape[d]) for d in range(count)]
    if len(parts) == 1 and rng.random() < 0.5:
        return parts[0]
    return tuple(parts)


def _expected(full, key, target):
    selected = np.asarray(full[key])
    if target is None:
        return selected
    with warnings.catch_warnings():
        # Complex to real drops the imaginary part, and wrapped unsigned
        # values overflow float16 to inf: both are what read must do too.
        warnings.simplefilter("ignore", np.ComplexWarning)
        warnings.filterwarnings("ignore", "overflow encountered in cast",
                                RuntimeWarning)
        return selected.astype(target)


@pytest.mark.parametrize("source", dtypes.SUPPORTED, ids=str)
def test_read_matches_numpy(server, name, source):
    rng = random.Random(f"read-property-{source}")
    published = []
    cases = 0
    with matcache.Client(server.address) as local, \
            matcache.Client(server.address, local=False) as remote:
        try:
            for i in range(MATRICES_PER_DTYPE):
                full = _values(rng, source, _random_shape(rng))
                published.append(local.put(f"{name}.{i}", full).name)
                for reader in (local, remote):
                    for _ in range(READS_PER_MATRIX):
                        key = _random_key(rng, full.shape)
                        target = (None if rng.random() < 0.5
                                  else rng.choice(dtypes.SUPPORTED))
                        want = _expected(full, key, target)
                        got = reader.read(published[-1], key, target)
                        case = (f"{source}{list(full.shape)}[{key!r}]"
                                f" as {target} (local={reader.local})")
                        assert got.shape == want.shape, case
                        assert got.dtype == want.dtype, case
                        assert got.tobytes() == want.tobytes(), (
                            f"{case}: got {got!r}, want {want!r}")
                        assert not got.flags.writeable, case
                        cases += 1
        finally:
            for matrix in published:
                local.delete(matrix)
    assert cases == MATRICES_PER_DTYPE * READS_PER_MATRIX * 2
