"""Conversion between numpy dtypes and the v1 DType enum.

Stored data is always little-endian; these helpers name the little-endian
numpy dtype of every supported element type.
"""

import numpy as np

from matcache.errors import InvalidArgumentError, MatcacheError
from matcache.v1 import matcache_pb2 as pb

# (numpy kind, item size) -> DType value.
_TO_PROTO = {
    ("b", 1): pb.DTYPE_BOOL,
    ("i", 1): pb.DTYPE_INT8,
    ("i", 2): pb.DTYPE_INT16,
    ("i", 4): pb.DTYPE_INT32,
    ("i", 8): pb.DTYPE_INT64,
    ("u", 1): pb.DTYPE_UINT8,
    ("u", 2): pb.DTYPE_UINT16,
    ("u", 4): pb.DTYPE_UINT32,
    ("u", 8): pb.DTYPE_UINT64,
    ("f", 2): pb.DTYPE_FLOAT16,
    ("f", 4): pb.DTYPE_FLOAT32,
    ("f", 8): pb.DTYPE_FLOAT64,
    ("c", 8): pb.DTYPE_COMPLEX64,
    ("c", 16): pb.DTYPE_COMPLEX128,
}

_FROM_PROTO = {
    code: np.dtype(f"<{kind}{size}")
    for (kind, size), code in _TO_PROTO.items()
}

SUPPORTED = tuple(_FROM_PROTO.values())
"""The little-endian numpy dtypes matcache stores, in DType order."""


def to_proto(dtype):
    """Returns the DType value for a numpy dtype of any byte order.

    `dtype` is anything np.dtype accepts. Raises InvalidArgumentError,
    naming the dtype, for what np.dtype does not understand and for anything
    that is not bool, a signed or unsigned integer of 1-8 bytes,
    float16/32/64 or complex64/128 (objects, strings, structured, datetimes,
    float128, ...).
    """
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise InvalidArgumentError(
            f"unknown dtype {dtype!r}: numpy does not understand it") from None
    code = None
    if dtype.fields is None and dtype.subdtype is None:
        code = _TO_PROTO.get((dtype.kind, dtype.itemsize))
    if code is None:
        spelled = str(dtype) if str(dtype) == dtype.str else f"{dtype} ({dtype.str})"
        raise InvalidArgumentError(
            f"unsupported dtype {spelled}: matcache stores bool, int8-64, "
            "uint8-64, float16/32/64 and complex64/128")
    return code


def from_proto(code):
    """Returns the little-endian numpy dtype of a DType value.

    Raises MatcacheError for DTYPE_UNSPECIFIED or a value this client does
    not know (a server newer than the client).
    """
    try:
        return _FROM_PROTO[code]
    except KeyError:
        raise MatcacheError(f"the server sent unknown DType value {code}") from None
