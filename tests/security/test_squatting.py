"""Files that another user puts in the shm directory under the names of
future segments, before the server needs those names, neither crash it nor
get served, listed, adopted or changed, also after a restart."""

import base64
import hashlib
import os
import re

import numpy as np

import matcache
from osusers import GROUP
from probe import digest


def _fingerprint(path):
    """What must not change about a squatted file: its identity, owner,
    mode, and content (the target's, for a symlink, as the link itself
    stays)."""
    st = os.lstat(path)
    with open(path, "rb") as f:
        content = hashlib.sha256(f.read()).hexdigest()
    return (st.st_ino, st.st_uid, st.st_mode, st.st_mtime_ns, content,
            os.readlink(path) if os.path.islink(path) else None)


# Squatted numbers: more than a fresh server has used when the squatted
# matrix is first put, so that both the staging file and the published one
# have to skip names.
_STAGING_NUMBERS = range(1, 7)
_PUBLISHED_NUMBERS = range(1, 9)


def _squat(server, outsider, name, real_segment):
    """As `outsider`, takes the staging and the published file names of the
    first numbers of `name`, with garbage, copies of `real_segment` (a sealed
    segment with a valid header) and symlinks to a file of its own.
    Returns their paths."""
    prefix = server.shm_dir / f"{server.namespace}.{name}"
    victim = str(server.shm_dir / "victim")
    contents = [b"not a segment" * 1000, real_segment, None]
    files = {victim: b"the squatter's own data"}
    links = []
    names = [f"{prefix}.{n}.staging.shm" for n in _STAGING_NUMBERS]
    names += [f"{prefix}.{n}.shm" for n in _PUBLISHED_NUMBERS]
    for i, path in enumerate(names):
        content = contents[i % len(contents)]
        if content is None:
            links.append(path)
        else:
            files[path] = content
    steps = [["create", path, base64.b64encode(content).decode(), 0o644]
             for path, content in files.items()]
    steps += [["symlink", victim, path] for path in links]
    results = outsider.run(*steps, address=server.address)
    assert all(result == {"ok": None} for result in results), results
    return [*files, *links]


def test_squatted_names_are_skipped_and_never_served(servers, member,
                                                     outsider, name):
    server = servers.start("--group", GROUP)
    with matcache.Client(server.address) as owner:
        decoy = owner.put(f"{name}-decoy", np.full(1000, 7.0))
    with open(decoy.path, "rb") as f:
        squatted = _squat(server, outsider, name, f.read())
    before = {path: _fingerprint(path) for path in squatted}

    want = np.arange(1000.0)
    put, got, read = member.run(["put", name, 1000, True], ["get", name, True],
                                ["read", name], address=server.address)
    assert "ok" in put, put
    assert got == {"ok": {"digest": digest(want), "mapped": put["ok"]["path"],
                          "writeable": False}}
    assert read == {"ok": {"digest": digest(want)}}
    assert put["ok"]["path"] not in squatted
    assert re.fullmatch(rf"{re.escape(server.namespace)}\.{name}\.\d+\.shm",
                        os.path.basename(put["ok"]["path"]))

    assert server.running()
    assert {path: _fingerprint(path) for path in squatted} == before
    with matcache.Client(server.address) as owner:
        listed = {m.name: (m.generation, m.id, m.path) for m in owner.list()}
    assert set(listed) == {name, f"{name}-decoy"}
    assert listed[name][2] == put["ok"]["path"]

    assert server.stop() == 0, server.run_log()
    server.start()
    with matcache.Client(server.address) as owner:
        assert {m.name: (m.generation, m.id, m.path)
                for m in owner.list()} == listed
        assert digest(owner.get(name)) == digest(want)
    recovery_log = server.run_log()
    for path in squatted:
        if os.path.basename(path).startswith(f"{server.namespace}."):
            assert path in recovery_log, recovery_log
    assert {path: _fingerprint(path) for path in squatted} == before
