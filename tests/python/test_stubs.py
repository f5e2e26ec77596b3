"""The generated Python stubs import and describe the whole v1 API."""

from matcache.v1 import matcache_pb2, matcache_pb2_grpc


def test_service_has_every_v1_rpc():
    service = matcache_pb2.DESCRIPTOR.services_by_name["MatrixCache"]
    assert sorted(m.name for m in service.methods) == sorted(
        ["Create", "Commit", "Abort", "Put", "Info", "List", "Delete", "Load",
         "Pin", "Unpin", "Read", "Preview", "Stats", "Watch"])
    put = service.methods_by_name["Put"]
    read = service.methods_by_name["Read"]
    watch = service.methods_by_name["Watch"]
    assert put.client_streaming and not put.server_streaming
    assert read.server_streaming and not read.client_streaming
    assert watch.server_streaming and not watch.client_streaming


def test_dtype_enum_starts_unspecified_and_matches_core_codes():
    names = matcache_pb2.DType.keys()
    assert matcache_pb2.DType.Value("DTYPE_UNSPECIFIED") == 0
    assert names[0] == "DTYPE_UNSPECIFIED"
    assert matcache_pb2.DType.Value("DTYPE_BOOL") == 1
    assert matcache_pb2.DType.Value("DTYPE_FLOAT64") == 12
    assert matcache_pb2.DType.Value("DTYPE_COMPLEX128") == 14
    assert len(names) == 15


def test_messages_round_trip():
    info = matcache_pb2.MatrixInfo(name="prices", shape=[3, 4],
                                   dtype=matcache_pb2.DTYPE_FLOAT64,
                                   nbytes=96, generation=7, id=b"\x01" * 16)
    parsed = matcache_pb2.MatrixInfo.FromString(info.SerializeToString())
    assert parsed == info
    assert list(parsed.shape) == [3, 4]


def test_grpc_stub_exposes_the_service():
    assert hasattr(matcache_pb2_grpc, "MatrixCacheStub")
    assert hasattr(matcache_pb2_grpc, "MatrixCacheServicer")
