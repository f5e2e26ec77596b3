"""numpy dtype <-> DType enum mapping (no server needed)."""

import numpy as np
import pytest

import matcache
from matcache import dtypes
from matcache.v1 import matcache_pb2 as pb

EXPECTED = {
    "bool": pb.DTYPE_BOOL, "int8": pb.DTYPE_INT8, "int16": pb.DTYPE_INT16,
    "int32": pb.DTYPE_INT32, "int64": pb.DTYPE_INT64, "uint8": pb.DTYPE_UINT8,
    "uint16": pb.DTYPE_UINT16, "uint32": pb.DTYPE_UINT32,
    "uint64": pb.DTYPE_UINT64, "float16": pb.DTYPE_FLOAT16,
    "float32": pb.DTYPE_FLOAT32, "float64": pb.DTYPE_FLOAT64,
    "complex64": pb.DTYPE_COMPLEX64, "complex128": pb.DTYPE_COMPLEX128,
}


@pytest.mark.parametrize("numpy_name", sorted(EXPECTED))
def test_each_supported_dtype_maps_both_ways(numpy_name):
    code = dtypes.to_proto(np.dtype(numpy_name))
    assert code == EXPECTED[numpy_name]
    back = dtypes.from_proto(code)
    assert back == np.dtype(numpy_name)
    assert back.byteorder in ("=", "|", "<")


def test_supported_covers_every_enum_value():
    assert sorted(dtypes.to_proto(d) for d in dtypes.SUPPORTED) == list(
        range(1, 15))
    assert len(pb.DType.keys()) == 15


@pytest.mark.parametrize("spelling", [">f8", "<f8", "=f8"])
def test_byte_order_does_not_change_the_code(spelling):
    assert dtypes.to_proto(spelling) == pb.DTYPE_FLOAT64
    assert dtypes.from_proto(dtypes.to_proto(spelling)).str == "<f8"


@pytest.mark.parametrize("dtype", ["O", "U3", "S3", "V8", "M8[s]", "m8[s]",
                                   "g", "G", [("a", "i4")], ("f8", (2,))])
def test_unsupported_dtypes_are_invalid_arguments(dtype):
    with pytest.raises(matcache.InvalidArgumentError, match="unsupported dtype"):
        dtypes.to_proto(dtype)


@pytest.mark.parametrize("code", [pb.DTYPE_UNSPECIFIED, 15, 99])
def test_unknown_codes_are_refused(code):
    with pytest.raises(matcache.MatcacheError):
        dtypes.from_proto(code)
