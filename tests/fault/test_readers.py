"""Readers never fault and never see half a matrix, whatever happens to the
name they read; a server restart or crash leaves their arrays valid and
keeps serving the same files, zero-copy (docs/architecture.md §3, §5 rules 1-3)."""

import os
import signal
import textwrap

import numpy as np
import pytest

from faultlib import same_array
from procmaps import mapping_of

ROUNDS = 100
COLUMNS = 4096  # 32 KiB per row of float64


def _shape(value):
    """Each version's shape follows from its value, so a reader can tell
    metadata of one generation with data of another."""
    return (48 + int(value) % 17, COLUMNS)


# Rounds after which the writer pauses and every reader gets the name at
# once (a probe): absent after the round's delete, the round's last value
# after its last put. That no write runs meanwhile makes the answer certain.
PROBED_ROUNDS = (0, ROUNDS // 2, ROUNDS - 1)

_READER = """
    import json, os, select, sys, numpy as np, matcache
    from procmaps import mapping_of
    def shape(value):
        return (48 + int(value) % 17, COLUMNS)
    def fail(status, **what):
        print(json.dumps(what), file=sys.stderr, flush=True)
        sys.exit(status)
    client = matcache.Client(local=LOCAL)
    gets = missing = zero_copy = 0
    seen = set()
    held = []
    def get():
        # One get, checked: (value or None when absent, the file backing it).
        global gets, missing, zero_copy, held
        try:
            a = client.get(NAME)
        except matcache.NotFoundError:
            missing += 1
            return None, None
        gets += 1
        value = a.flat[0]
        if a.shape != shape(value) or not (a == value).all():
            fail(3, torn=[float(value), list(a.shape),
                          sorted(set(np.unique(a).tolist()))[:5]])
        perms, _, mapped = mapping_of(a)
        if not a.flags.owndata:  # a view of a mapped segment
            zero_copy += 1
            if perms != "r--s" or not mapped.startswith(SHM_DIR + "/"):
                fail(5, zero_copy_from=[perms, mapped])
        elif mapped.endswith(".shm"):
            fail(5, copy_in=mapped)
        seen.add(float(value))
        # Arrays kept across replaces and deletes stay as they were.
        held = held[-3:] + [(a, value)]
        for old, old_value in held:
            if not (old == old_value).all():
                fail(4, changed=float(old_value))
        return float(value), mapped
    value, mapped = None, None
    while value is None:
        value, mapped = get()
    print(json.dumps({"ready": mapped}), flush=True)
    requests = b""
    while not os.path.exists(STOP):
        if select.select([0], [], [], 0)[0]:
            requests += os.read(0, 4096)
        while b"\\n" in requests:
            number, requests = requests.split(b"\\n", 1)
            value, mapped = get()
            print(json.dumps({"probe": int(number), "value": value,
                              "mapped": mapped}), flush=True)
        get()
    print(json.dumps({"gets": gets, "missing": missing, "zero_copy": zero_copy,
                      "values": sorted(seen)}), flush=True)
"""


def _probe(readers, number):
    """Has every reader get the name once more now; returns {mode: its
    answer}."""
    for reader in readers.values():
        reader.send(f"{number}\n")
    answers = {}
    for mode, reader in readers.items():
        answers[mode] = reader.expect_json("probe")
        assert answers[mode]["probe"] == number, answers[mode]
    return answers


def test_readers_see_only_whole_generations(lab):
    server = lab.server()
    server.start()
    stop = os.path.join(lab.workdir, "stop-readers")
    with server.client(local=True) as local, \
            server.client(local=False) as remote:
        local.put("flicker", np.full(_shape(0), 0.0))
        readers = {}
        # local=None: zero-copy when it can, streamed when a replace wins
        # the race between Info and open (twice in a row).
        for mode in (None, False):
            code = textwrap.dedent(_READER)
            for key, value in (("COLUMNS", COLUMNS), ("LOCAL", mode),
                               ("STOP", repr(stop)), ("NAME", '"flicker"'),
                               ("SHM_DIR", repr(str(server.shm_dir)))):
                code = code.replace(key, str(value))
            readers[mode] = lab.child(code, server.address)
        for mode, reader in readers.items():
            mapped = reader.expect_json("ready")["ready"]
            if mode is None:  # the local reader maps the segment itself
                assert mapped.startswith(str(server.shm_dir)), mapped
            else:
                assert not mapped.endswith(".shm"), mapped

        put = set()
        probed = set()
        for i in range(ROUNDS):
            writer = local if i % 2 == 0 else remote
            for value in (2 * i + 1, 2 * i + 2):
                writer.put("flicker", np.full(_shape(value), float(value)))
                put.add(float(value))
                if value % 2:
                    writer.delete("flicker")
                    if i in PROBED_ROUNDS:
                        for mode, answer in _probe(readers, value).items():
                            assert answer["value"] is None, (
                                f"reader local={mode} got a deleted matrix: "
                                f"{answer}")
            if i in PROBED_ROUNDS:
                path = local.info("flicker").path
                for mode, answer in _probe(readers, value).items():
                    assert answer["value"] == value, (
                        f"reader local={mode} got another version than the "
                        f"current {value}: {answer}")
                    if mode is None:  # nothing races it: zero-copy
                        assert answer["mapped"] == path, answer
                    else:
                        assert not answer["mapped"].endswith(".shm"), answer
                probed.add(float(value))
        with open(stop, "w"):
            pass
        results = {}
        for mode, reader in readers.items():
            status = reader.wait(60)
            assert status == 0, (
                f"reader local={mode} exited with {status} "
                f"{'(signal ' + signal.Signals(-status).name + ')' if status < 0 else ''}"
                f": {reader.lines} {reader.stderr()}")
            results[mode] = reader.expect_json("gets")
        print({mode: {k: v for k, v in r.items() if k != "values"}
               for mode, r in results.items()})
        for mode, result in results.items():
            assert set(result["values"]) <= put | {0.0}, result
            # It read while the name was absent and saw the probed versions.
            assert result["missing"] >= len(PROBED_ROUNDS), result
            assert probed <= set(result["values"]), (probed, result)
        assert results[False]["zero_copy"] == 0
        assert same_array(local.get("flicker"), np.full(_shape(200), 200.0))
        state = server.dir_state()
        assert state.staging == [] and state.published == {
            "flicker": [local.info("flicker").generation]}, state
    assert server.stop() == 0, server.run_log()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_restart_keeps_zero_copy(lab, how):
    server = lab.server()
    server.start()
    data = np.random.default_rng(9).standard_normal((512, 512))
    with server.client(local=True) as client:
        info = client.put("kept", data)
        held = client.get("kept")
    perms, inode, path = mapping_of(held)
    assert (perms, path) == ("r--s", info.path)
    before = os.stat(info.path)
    assert before.st_ino == inode

    if how == "sigterm":
        assert server.stop() == 0, server.run_log()
    else:
        server.kill()
        assert server.process.returncode == -signal.SIGKILL
    assert same_array(held, data)  # valid while no server runs
    server.start()
    assert same_array(held, data)

    with server.client(local=True) as client:
        after = client.info("kept")
        assert (after.generation, after.id, after.checksum, after.path) == (
            info.generation, info.id, info.checksum, info.path)
        again = client.get("kept")
        assert same_array(again, data)
        assert mapping_of(again)[1:] == (before.st_ino, info.path)
        st = os.stat(info.path)
        assert (st.st_ino, st.st_size, st.st_mtime_ns) == (
            before.st_ino, before.st_size, before.st_mtime_ns), \
            "recovery rewrote the segment"
        # The restarted server numbers on after what it recovered.
        newer = client.put("kept", -data)
        assert newer.generation > info.generation
        assert same_array(client.get("kept"), -data)
    assert same_array(held, data) and same_array(again, data)
    assert server.stop() == 0, server.run_log()
