"""Run as a member of the group matcache: puts a matrix through the socket
ADDRESS, maps it back and prints, as JSON, its sum, whether the array is
writeable and whether it is a mapping of a segment in SHM_DIR (zero copy).

usage: member_client.py ADDRESS SHM_DIR"""

import json
import sys

import numpy as np

import matcache

address, shm_dir = sys.argv[1], sys.argv[2]
with matcache.Client(address) as c:
    c.put("shared", np.arange(1 << 20, dtype=np.float64))
    a = c.get("shared")
    info = c.info("shared")
maps = open("/proc/self/maps").read()
print(json.dumps({"sum": float(a.sum()), "writeable": a.flags.writeable,
                  "mapped": info.path in maps and info.path.startswith(shm_dir)}))
