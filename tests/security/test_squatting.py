"""Files another user plants in the shared shm directory (mode 1777, as
/dev/shm) under every name the server uses, as regular files, FIFOs and
symlinks, change nothing: the server keeps its files in a directory of its
own inside, where nobody else can create, squat or link anything. A
directory of that name made by another user before the server's first
start stops it with an error naming it."""

import base64
import hashlib
import os
import stat

import numpy as np

import matcache
from osusers import GROUP
from probe import digest


def _fingerprint(path):
    """What must not change about a planted file: its identity, owner, mode
    and, for a regular file, its content."""
    st = os.lstat(path)
    content = None
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            content = hashlib.sha256(f.read()).hexdigest()
    return (st.st_ino, st.st_uid, st.st_mode, st.st_mtime_ns, content)


def _every_name(server, name):
    """The names of every file the server makes, as they would be in
    shm_dir if it kept its files there."""
    prefix = f"{server.namespace}."
    names = [f"{prefix}{suffix}" for suffix in (
        "lock", "retention", "retention.tmp", "sources", "sources.tmp")]
    names += [f"{prefix}{n}.spare.shm" for n in range(1, 6)]
    names += [f"{prefix}{name}.{n}.staging.shm" for n in range(1, 6)]
    names += [f"{prefix}{name}.{n}.shm" for n in range(1, 6)]
    return [server.shm_dir / entry for entry in names]


def _plant(outsider, server, paths):
    """As `outsider`: FIFOs, world-writable files and symlinks to a file of
    its own at `paths`, in turn."""
    victim = server.shm_dir / "victim"
    steps = [["create", str(victim), base64.b64encode(b"mine").decode(), 0o666]]
    for i, path in enumerate(paths):
        kind = i % 3
        if kind == 0:
            steps.append(["mkfifo", str(path), 0o666])
        elif kind == 1:
            steps.append(["create", str(path),
                          base64.b64encode(b"planted").decode(), 0o666])
        else:
            steps.append(["symlink", str(victim), str(path)])
    results = outsider.run(*steps, address=server.address)
    assert all(result == {"ok": None} for result in results), results
    return [victim, *paths]


def test_planted_names_change_nothing(servers, member, outsider, name):
    server = servers.new("--group", GROUP)
    planted = _plant(outsider, server, _every_name(server, name))
    before = {path: _fingerprint(path) for path in planted}
    server.start()

    own = server.segment_dir
    assert own == server.shm_dir / server.namespace
    st = os.lstat(own)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
    assert stat.S_IMODE(st.st_mode) == 0o750

    want = np.arange(1000.0)
    with matcache.Client(server.address) as owner:
        owner.put(f"{name}-pinned", want, pin=True)  # writes the retention file
    put, got = member.run(["put", name, 1000], ["get", name, True],
                          address=server.address)
    assert "ok" in put, put
    assert os.path.dirname(put["ok"]["path"]) == str(own)
    assert got["ok"]["digest"] == digest(want)

    # Inside the server's directory nobody else creates anything.
    inside = own / f"{server.namespace}.{name}.99.shm"
    created, linked = outsider.run(
        ["create", str(inside), base64.b64encode(b"x").decode(), 0o644],
        ["symlink", str(server.shm_dir / "victim"), str(inside)],
        address=server.address)
    assert created["errno"] == "EACCES" and linked["errno"] == "EACCES", (
        created, linked)

    assert server.stop() == 0, server.run_log()
    server.start()
    with matcache.Client(server.address) as owner:
        assert sorted(m.name for m in owner.list()) == [name, f"{name}-pinned"]
        assert owner.info(f"{name}-pinned").pinned
        assert digest(owner.get(name)) == digest(want)
    assert {path: _fingerprint(path) for path in planted} == before


def test_a_directory_planted_under_the_servers_name_stops_it(servers,
                                                             outsider):
    server = servers.new()
    (made,) = outsider.run(["mkdir", str(server.segment_dir), 0o777],
                           address=server.address)
    assert made == {"ok": None}, made
    server.launch()
    assert server.wait_exit(20) == 1, server.run_log()
    assert str(server.segment_dir) in server.run_log()
    assert "remove it" in server.run_log()
