"""Runs steps as whichever OS user starts it and prints what happened.

    python3 probe.py STEP_JSON...

Each STEP_JSON is a JSON list [operation, arguments...]; stdout is one JSON
list holding, per step, {"ok": result} or {"error": exception class name,
"errno": errno name or null, "message": text}. A failed step does not stop
the following ones. Client steps talk to $MATCACHE_ADDRESS with
$MATCACHE_TOKEN, like any client. Only the standard library, numpy, the
matcache package and procmaps are used: the tests copy them to a directory
every user can read.
"""

import base64
import errno
import hashlib
import json
import os
import sys

import numpy as np

import matcache
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
