"""Segments corrupted while the server is down: recovery quarantines what
does not validate (renamed to <file>.quarantined, logged, counted in Stats)
and never serves it; data that no longer matches its checksum is caught
only with --verify_on_recover, which is off by default (docs/architecture.md §5 rule 4)."""

import os

import numpy as np
import pytest

import matcache

from faultlib import same_array

HEADER = 4096


def _rewrite(path, change):
    """Applies `change(file)` to a published (mode 0400) file, keeping its
    mode."""
    mode = os.stat(path).st_mode & 0o7777
    os.chmod(path, 0o600)
    try:
        with open(path, "r+b") as f:
            change(f)
    finally:
        os.chmod(path, mode)


def _flip(offset):
    def change(f):
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x10]))
    return change


def _overwrite(offset, data):
    def change(f):
        f.seek(offset)
        f.write(data)
    return change


def _truncate(size):
    return lambda f: f.truncate(size)


# name -> how its file is damaged. Every one of these must be quarantined.
HEADER_DAMAGE = {
    # A flipped bit in a field only the header checksum protects...
    "flip.created": _flip(64),
    # ...in fields that are also checked on their own...
    "flip.version": _flip(8),
    "flip.state": _flip(12),
    "flip.dtype": _flip(40),
    "flip.shape": _flip(96),
    "flip.name": _flip(608),
    # ...in the header checksum itself, and in the zero padding.
    "flip.checksum": _flip(80),
    "flip.padding": _flip(4000),
    "magic": _overwrite(0, b"NOTMATCH"),
    "truncated.data": _truncate(HEADER + 4096),
    "truncated.header": _truncate(100),
    "empty": _truncate(0),
}
DATA_DAMAGE = "data.changed"
DATA_BYTE = 5000  # the data byte changed


def _publish(server):
    rng = np.random.default_rng(8)
    arrays = {}
    with server.client() as client:
        for name in [*HEADER_DAMAGE, DATA_DAMAGE, "clean"]:
            arrays[name] = rng.standard_normal((32, 64))  # 16 KiB of data
            arrays[name] = (arrays[name], client.put(name, arrays[name]))
    return arrays


def _assert_quarantined(server, client, name, info):
    quarantined = info.path + ".quarantined"
    assert not os.path.exists(info.path), name
    assert os.path.exists(quarantined), name
    assert os.path.basename(info.path) in server.run_log(), name
    with pytest.raises(matcache.NotFoundError):
        client.info(name)
    with pytest.raises(matcache.NotFoundError):
        client.get(name)
    assert name not in {m.name for m in client.list()}


def test_corrupt_segments_are_quarantined(lab):
    server = lab.server()
    server.start()
    published = _publish(server)
    assert server.stop() == 0, server.run_log()

    for name, damage in HEADER_DAMAGE.items():
        _rewrite(published[name][1].path, damage)
    changed = np.array(published[DATA_DAMAGE][0])
    changed_bytes = changed.reshape(-1).view(np.uint8)
    changed_bytes[DATA_BYTE] ^= 0x01
    _rewrite(published[DATA_DAMAGE][1].path,
             _overwrite(HEADER + DATA_BYTE,
                        changed_bytes[DATA_BYTE:DATA_BYTE + 1].tobytes()))

    # Files that are not the store's: left alone by every start below.
    foreign = {"notes.txt": b"operator notes",
               f"x{server.namespace}.alpha.1.shm": b"another namespace",
               f"{server.namespace}.bad name.3.shm": b"not a valid name"}
    for file_name, content in foreign.items():
        (server.shm_dir / file_name).write_bytes(content)

    # Default start: the header damage is caught, the data damage is not.
    server.start()
    with server.client() as client, server.client(local=False) as remote:
        for name in HEADER_DAMAGE:
            _assert_quarantined(server, client, name, published[name][1])
        stats = client.stats()
        assert stats.quarantined_count == len(HEADER_DAMAGE)
        assert stats.matrix_count == 2
        info = client.info(DATA_DAMAGE)
        old = published[DATA_DAMAGE][1]
        assert (info.generation, info.id, info.checksum) == (
            old.generation, old.id, old.checksum)
        assert same_array(client.get(DATA_DAMAGE), changed)
        assert same_array(remote.get(DATA_DAMAGE), changed)
        assert not same_array(client.get(DATA_DAMAGE),
                              published[DATA_DAMAGE][0])
        assert same_array(client.get("clean"), published["clean"][0])
        assert client.info("clean").checksum == published["clean"][1].checksum
    state = server.dir_state()
    assert sorted(state.published) == ["clean", DATA_DAMAGE], state
    assert len(state.quarantined) == len(HEADER_DAMAGE), state
    assert server.stop() == 0, server.run_log()

    # --verify_on_recover re-hashes the data and catches it.
    server.start("--verify_on_recover")
    with server.client() as client:
        _assert_quarantined(server, client, DATA_DAMAGE,
                            published[DATA_DAMAGE][1])
        assert client.stats().quarantined_count == 1
        assert same_array(client.get("clean"), published["clean"][0])
        # The names can be published again.
        for name in [*HEADER_DAMAGE, DATA_DAMAGE]:
            client.put(name, published[name][0])
            assert same_array(client.get(name), published[name][0])
    assert len(server.dir_state().quarantined) == len(HEADER_DAMAGE) + 1
    assert server.stop() == 0, server.run_log()

    # Quarantined files stay aside, untouched, across later starts.
    files = sorted(os.listdir(server.shm_dir))
    server.start()
    with server.client() as client:
        assert client.stats().quarantined_count == 0
        assert len(client.list()) == len(HEADER_DAMAGE) + 2
    assert sorted(os.listdir(server.shm_dir)) == files
    for file_name, content in foreign.items():
        assert (server.shm_dir / file_name).read_bytes() == content


def test_verify_on_recover_accepts_intact_data(lab):
    server = lab.server()
    server.start()
    published = _publish(server)
    assert server.stop() == 0, server.run_log()
    server.start("--verify_on_recover")
    with server.client() as client:
        assert client.stats().quarantined_count == 0
        for name, (array, info) in published.items():
            assert client.info(name).id == info.id
            assert same_array(client.get(name), array)
