"""Runs steps as whichever OS user starts it and prints what happened.

    python3 probe.py STEP_JSON...

Each STEP_JSON is a JSON list [operation, arguments...]; stdout is one JSON
list holding, per step, {"ok": result} or {"error": exception class name,
"errno": errno name or null, "message": text}. A failed step does not stop
the following ones. Client steps talk to $MATCACHE_ADDRESS with
$MATCACHE_TOKEN, like any client. Only the standard library, numpy, grpc,
the matcache package, procmaps and stagingfd are used: the tests copy them
to a directory every user can read.
"""

import base64
import errno
import hashlib
import json
import os
import sys

import grpc
import numpy as np

import matcache
import stagingfd
from matcache import segment
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc
from procmaps import mapping_of


def digest(array):
    """(shape, dtype, sha256 of the C-ordered bytes) of an array."""
    array = np.asarray(array)
    return [list(array.shape), str(array.dtype),
            hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()]


def get(name, local=None):
    array = matcache.Client(local=local).get(name)
    return {"digest": digest(array), "mapped": mapping_of(array)[2] or None,
            "writeable": bool(array.flags.writeable)}


def read(name):
    return {"digest": digest(matcache.Client().read(name))}


def put(name, count, local=None):
    """Puts np.arange(count, dtype=float64); returns the generation and
    path of the new version."""
    info = matcache.Client(local=local).put(name, np.arange(count, dtype="f8"))
    return {"generation": info.generation, "path": info.path}


def info(name):
    found = matcache.Client().info(name)
    return {"generation": found.generation, "path": found.path}


def listing():
    return [found.name for found in matcache.Client().list()]


def delete(name):
    matcache.Client().delete(name)


def open_file(path, flags):
    """Opens `path` with "r" (O_RDONLY) or "rw" (O_RDWR), then closes it."""
    os.close(os.open(path, {"r": os.O_RDONLY, "rw": os.O_RDWR}[flags]))


def _stub():
    channel = grpc.insecure_channel(os.environ["MATCACHE_ADDRESS"])
    return pb_grpc.MatrixCacheStub(channel)


def create_staging(name, count):
    """Create for count float64 elements, left staging (no Abort): the
    response's fields."""
    created = _stub().Create(pb.CreateRequest(
        name=name, shape=[count], dtype=pb.DTYPE_FLOAT64), timeout=30)
    return {"lease": created.lease, "path": created.path,
            "fd_socket": created.fd_socket,
            "data_offset": created.data_offset, "nbytes": created.nbytes}


def fd_request(fd_socket, lease):
    """One request on the fd socket: the reply line and whether a
    descriptor came with it (closed at once)."""
    line, fd = stagingfd.request(fd_socket, lease)
    if fd is not None:
        os.close(fd)
    return {"reply": line, "fd": fd is not None}


def fill_and_commit(created, value):
    """Gets the staging file of `created` (create_staging's result), fills
    it with `value` and commits it; the published generation."""
    line, fd = stagingfd.request(created["fd_socket"], created["lease"])
    assert line == "OK" and fd is not None, line
    try:
        data = np.full(created["nbytes"] // 8, value, dtype="<f8")
        os.pwrite(fd, data.tobytes(), created["data_offset"])
    finally:
        os.close(fd)
    info = _stub().Commit(pb.CommitRequest(lease=created["lease"]),
                          timeout=30)
    return info.generation


def truncate(path, size):
    os.truncate(path, size)


def fallocate(path, size):
    """posix_fallocate of `size` bytes, through a descriptor opened here."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)


def _sample(kind):
    """(array to put, store_dtype) of each kind the put path converts."""
    base = np.arange(3 * 4 * 5, dtype="f8").reshape(3, 4, 5) * 0.5
    return {"contiguous": (base, None),
            "cast": (base, "float32"),
            "strided": (base.transpose(2, 0, 1)[:, ::-1, 1:], None),
            "byteswapped": (base.astype(">f8"), None),
            "strided cast": (np.asfortranarray(base)[::2], "float16")}[kind]


def _staging_mappings():
    """Lines of /proc/self/maps that map a staging segment or map any file
    shared and writable."""
    with open("/proc/self/maps") as maps:
        return [line.strip() for line in maps
                if ".staging.shm" in line or line.split()[1][1::2] == "ws"]


def put_watched(name, kind):
    """Puts _sample(kind) locally, checking /proc/self/maps at every pwrite
    and after the put; returns what the checks saw and the digest of what
    the server then serves."""
    array, store_dtype = _sample(kind)
    seen = {"pwrites": 0, "staging": set(), "mapped": set()}
    real_pwrite = os.pwrite

    def pwrite(fd, data, offset):
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.endswith(".staging.shm"):
            seen["pwrites"] += 1
            seen["staging"].add(target)
        seen["mapped"].update(_staging_mappings())
        return real_pwrite(fd, data, offset)

    # The module the put path writes through.
    segment.os.pwrite = pwrite
    try:
        matcache.Client(local=True).put(name, array, store_dtype=store_dtype)
    finally:
        segment.os.pwrite = real_pwrite
    still_open = [target for target in
                  (os.readlink(f"/proc/self/fd/{fd}")
                   for fd in os.listdir("/proc/self/fd")
                   if os.path.exists(f"/proc/self/fd/{fd}"))
                  if target.endswith(".staging.shm")]
    want = array.astype(store_dtype or array.dtype.newbyteorder("<"))
    return {"pwrites": seen["pwrites"], "staging": sorted(seen["staging"]),
            "mapped during": sorted(seen["mapped"]),
            "mapped after": _staging_mappings(), "open after": still_open,
            "want": digest(want),
            "got": digest(matcache.Client().get(name))}


def create(path, content_b64, mode):
    """Creates `path` exclusively with the given content and mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, base64.b64decode(content_b64))
    finally:
        os.close(fd)


OPERATIONS = {
    "get": get,
    "read": read,
    "put": put,
    "info": info,
    "list": listing,
    "delete": delete,
    "open": open_file,
    "rename": os.rename,
    "unlink": os.unlink,
    "create": create,
    "symlink": os.symlink,
    "mkfifo": os.mkfifo,
    "mkdir": os.mkdir,
    "link": os.link,
    "truncate": truncate,
    "fallocate": fallocate,
    "create_staging": create_staging,
    "fd_request": fd_request,
    "fill_and_commit": fill_and_commit,
    "put_watched": put_watched,
}


def run(step):
    operation, *arguments = step
    try:
        return {"ok": OPERATIONS[operation](*arguments)}
    except Exception as e:  # reported to the test, which asserts on it
        code = getattr(e, "errno", None)
        return {"error": type(e).__name__,
                "errno": errno.errorcode.get(code) if code else None,
                "message": str(e)}


if __name__ == "__main__":
    print(json.dumps([run(json.loads(step)) for step in sys.argv[1:]]))
