"""Protobuf wire encoding of the payload-carrying stream messages.

PutRequest.data and ReadResponse.data carry the matrix bytes. Going through
generated message classes would copy every chunk two or three times (into a
bytes object, into the C++ message, out again); these helpers encode a data
chunk with one copy and decode a ReadResponse into a memoryview of the
received buffer, with no copy at all.
"""

from matcache.errors import MatcacheError
from matcache.v1 import matcache_pb2 as pb

_WIRE_VARINT = 0
_WIRE_FIXED64 = 1
_WIRE_LENGTH_DELIMITED = 2
_WIRE_FIXED32 = 5

# Field numbers shared by PutRequest and ReadResponse.
_HEADER_FIELD = 1
_DATA_FIELD = 2
_DATA_KEY = bytes([(_DATA_FIELD << 3) | _WIRE_LENGTH_DELIMITED])


def _encode_varint(value):
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _decode_varint(view, pos):
    value = 0
    shift = 0
    while True:
        if pos >= len(view) or shift > 63:
            raise MatcacheError("malformed message from the server: bad varint")
        byte = view[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def encode_put_header(name, shape, dtype_code, pin=False, ttl_seconds=0,
                      original_dtype=pb.DTYPE_UNSPECIFIED):
    """Returns the serialized PutRequest carrying a PutHeader."""
    return pb.PutRequest(header=pb.PutHeader(
        name=name, shape=shape, dtype=dtype_code, pin=pin,
        ttl_seconds=ttl_seconds,
        original_dtype=original_dtype)).SerializeToString()


def encode_put_data(chunk):
    """Returns the serialized PutRequest carrying `chunk` (any bytes-like
    object) as data, copying the chunk once."""
    chunk = memoryview(chunk)
    return b"".join((_DATA_KEY, _encode_varint(chunk.nbytes), chunk))


def decode_read_response(buffer):
    """Parses a serialized ReadResponse.

    Returns (header, data): header is a ReadHeader message or None; data is a
    memoryview into `buffer` (no copy) or None. At most one is set (the
    payload is a oneof: the last field on the wire wins). Unknown fields are
    skipped. Raises MatcacheError for malformed input.
    """
    view = memoryview(buffer)
    header = None
    data = None
    pos = 0
    while pos < len(view):
        key, pos = _decode_varint(view, pos)
        field, wire_type = key >> 3, key & 7
        if wire_type == _WIRE_VARINT:
            _, pos = _decode_varint(view, pos)
        elif wire_type == _WIRE_FIXED64:
            pos += 8
        elif wire_type == _WIRE_FIXED32:
            pos += 4
        elif wire_type == _WIRE_LENGTH_DELIMITED:
            length, pos = _decode_varint(view, pos)
            end = pos + length
            if end > len(view):
                break
            if field == _HEADER_FIELD:
                if header is None:
                    header = pb.ReadHeader()
                header.MergeFromString(view[pos:end])
                data = None
            elif field == _DATA_FIELD:
                data = view[pos:end]
                header = None
            pos = end
        else:
            raise MatcacheError(
                f"malformed message from the server: wire type {wire_type}")
    if pos != len(view):
        raise MatcacheError("malformed message from the server: truncated")
    return header, data
