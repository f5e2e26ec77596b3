"""The hand-written payload codec agrees with protobuf (no server needed)."""

import pytest
from hypothesis import given, strategies as st

import matcache
from matcache import wire
from matcache.v1 import matcache_pb2 as pb

def _varint(value):
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


_headers = st.builds(
    pb.ReadHeader,
    shape=st.lists(st.integers(0, 2**62), max_size=32),
    dtype=st.integers(0, 14),
    generation=st.integers(0, 2**64 - 1),
    nbytes=st.integers(0, 2**62))


@given(st.binary(max_size=5000))
def test_put_data_parses_as_put_request(data):
    parsed = pb.PutRequest.FromString(wire.encode_put_data(memoryview(data)))
    assert parsed.WhichOneof("payload") == "data"
    assert parsed.data == data


def test_put_header_parses_as_put_request():
    parsed = pb.PutRequest.FromString(
        wire.encode_put_header("prices", (3, 0, 2), pb.DTYPE_INT16))
    assert parsed.header == pb.PutHeader(name="prices", shape=[3, 0, 2],
                                         dtype=pb.DTYPE_INT16)


@given(st.binary(max_size=70000))
def test_read_data_is_a_view_of_the_buffer(data):
    buffer = pb.ReadResponse(data=data).SerializeToString()
    header, chunk = wire.decode_read_response(buffer)
    assert header is None
    assert isinstance(chunk, memoryview) and chunk.obj is buffer
    assert chunk.tobytes() == data


@given(_headers)
def test_read_header_decodes(expected):
    header, chunk = wire.decode_read_response(
        pb.ReadResponse(header=expected).SerializeToString())
    assert chunk is None
    assert header == expected


@given(st.binary(max_size=100), _headers, st.integers(0, 2**64 - 1))
def test_unknown_fields_are_skipped_and_last_payload_wins(data, hdr, number):
    # Field 7 as a varint, field 8 as fixed64, field 9 as fixed32, field 10
    # as bytes: none exists in ReadResponse.
    unknown = (bytes([7 << 3]) + _varint(number)
               + bytes([(8 << 3) | 1]) + bytes(8)
               + bytes([(9 << 3) | 5]) + bytes(4)
               + bytes([(10 << 3) | 2, 1, 0]))
    message = (pb.ReadResponse(header=hdr).SerializeToString() + unknown
               + pb.ReadResponse(data=data).SerializeToString())
    assert pb.ReadResponse.FromString(message).data == data
    header, chunk = wire.decode_read_response(message)
    assert header is None and chunk.tobytes() == data


@pytest.mark.parametrize("malformed", [
    b"\x12\x05abc",     # declared length runs past the end
    b"\x12",            # length missing
    b"\x12\x80",        # unterminated varint
    b"\x0b",            # wire type 3 (groups) is not used by proto3
    b"\x39\x00\x00",    # fixed64 cut short
])
def test_malformed_input_is_an_error(malformed):
    with pytest.raises(matcache.MatcacheError):
        wire.decode_read_response(malformed)
