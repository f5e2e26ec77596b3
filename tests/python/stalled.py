"""A Put stream that stalls, to keep a server busy while a test watches
what happens meanwhile (a shutdown's grace period, readiness)."""

import threading
import time

import grpc

from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc


def stalled_put(server):
    """Starts a Put stream to `server` (a ServerProcess) that sends its
    header and one chunk, then nothing, and returns once the server has
    begun it (its staging file exists): from then on the server's shutdown
    gives it the whole grace period."""
    def requests():
        yield pb.PutRequest(header=pb.PutHeader(
            name="stalled", shape=[1 << 20], dtype=pb.DTYPE_UINT8))
        yield pb.PutRequest(data=bytes(1000))
        threading.Event().wait(60)

    def put():
        with grpc.insecure_channel(server.address) as channel:
            try:
                pb_grpc.MatrixCacheStub(channel).Put(requests(), timeout=60)
            except grpc.RpcError:
                pass  # cancelled by the shutdown, as it should be
    threading.Thread(target=put, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.staging_files():
        assert time.monotonic() < deadline, "the server never began the put"
        time.sleep(0.01)
