"""The matcache command line, as `python3 -m matcache` and as the
installed script."""

import os
import subprocess
import sys

import numpy as np
import pytest

import matcache
from matcache import cli
from serverproc import CLI_SCRIPT


@pytest.fixture(params=["module", "script"])
def matcache_cli(request, server):
    """Runs the CLI with the given arguments against the session server and
    returns the CompletedProcess."""
    prefix = {"module": [sys.executable, "-m", "matcache"],
              "script": [str(CLI_SCRIPT)]}[request.param]

    def run(*args):
        return subprocess.run([*prefix, "--address", server.address, *args],
                              capture_output=True, text=True, timeout=60,
                              env=dict(os.environ))

    return run


def _ok(done):
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def _single_error_line(done):
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("matcache: error: ")
    return lines[0]


def test_put_ls_info_get_rm_round_trip(matcache_cli, name, tmp_path):
    array = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    source = tmp_path / "in.npy"
    np.save(source, array)

    out = _ok(matcache_cli("put", str(source), name))
    assert name in out and "2x3x4" in out

    listing = _ok(matcache_cli("ls", name)).splitlines()
    assert listing[0].split() == ["NAME", "SHAPE", "DTYPE", "SIZE", "GEN",
                                  "CREATED", "PINNED", "EXPIRES"]
    assert len(listing) == 2
    row = listing[1].split()
    assert row[:5] == [name, "2x3x4", "int32", "96", "B"]
    assert row[-2:] == ["no", "never"]

    info = dict(line.split(":", 1) for line in
                _ok(matcache_cli("info", name)).splitlines())
    assert info["name"].strip() == name
    assert info["shape"].strip() == "(2, 3, 4)"
    assert info["size"].strip() == "96 B (96 bytes)"
    assert info["path"].strip().endswith(".shm")
    assert len(info["id"].strip()) == 32

    target = tmp_path / "out.npy"
    _ok(matcache_cli("get", name, str(target)))
    loaded = np.load(target)
    assert np.array_equal(loaded, array)
    assert loaded.dtype == np.dtype("<i4")

    _ok(matcache_cli("rm", name))
    assert name not in _ok(matcache_cli("ls", name))
    line = _single_error_line(matcache_cli("rm", name))
    assert name in line


def test_sizes_are_human_readable(matcache_cli, name, tmp_path):
    source = tmp_path / "in.npy"
    np.save(source, np.zeros(3 << 18))  # 6 MiB of float64
    _ok(matcache_cli("put", str(source), name))
    row = _ok(matcache_cli("ls", name)).splitlines()[1]
    assert " 6.0 MiB " in row
    _ok(matcache_cli("rm", name))


def test_stats(matcache_cli, server):
    out = _ok(matcache_cli("stats"))
    assert str(server.shm_dir) in out
    assert out.startswith("matrices:")


def test_missing_file_is_one_line(matcache_cli, name, tmp_path):
    line = _single_error_line(
        matcache_cli("put", str(tmp_path / "absent.npy"), name))
    assert "absent.npy" in line


def test_non_npy_file_is_one_line(matcache_cli, name, tmp_path):
    bogus = tmp_path / "bogus.npy"
    bogus.write_text("not numpy")
    assert "bogus.npy" in _single_error_line(
        matcache_cli("put", str(bogus), name))


def test_a_file_that_is_not_npy_says_so(matcache_cli, name):
    line = _single_error_line(matcache_cli("put", "/etc/passwd", name))
    assert "/etc/passwd: not a .npy file" in line
    assert "pickle" not in line


# Runs `matcache put FILE NAME` in this process, with every put first
# cutting FILE to its first page, as another process rewriting it might.
_PUT_WHILE_THE_FILE_SHRINKS = """
import os, sys
import matcache
from matcache import cli
address, path, name = sys.argv[1:]
real_put = matcache.Client.put
def put(self, *args, **kwargs):
    os.truncate(path, 4096)
    return real_put(self, *args, **kwargs)
matcache.Client.put = put
sys.exit(cli.main(["--address", address, "put", path, name]))
"""


@pytest.mark.parametrize("order, dtype", [("C", "<f8"), ("F", ">f8")])
def test_put_of_a_file_cut_short_meanwhile_stores_what_was_read(
        server, client, name, tmp_path, order, dtype):
    # Fortran order and big-endian are converted as they are written: a
    # mapping of the file would then be read past its new end (SIGBUS).
    array = np.asarray(np.arange(256 * 512).reshape(256, 512), dtype=dtype,
                       order=order)
    source = tmp_path / "shrinking.npy"
    np.save(source, array)
    done = subprocess.run(
        [sys.executable, "-c", _PUT_WHILE_THE_FILE_SHRINKS, server.address,
         str(source), name], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert source.stat().st_size == 4096
    np.testing.assert_array_equal(client.get(name), array)
    client.delete(name)


def test_a_file_cut_short_before_the_put_is_one_line(matcache_cli, name,
                                                      tmp_path):
    source = tmp_path / "short.npy"
    np.save(source, np.arange(100_000.0))
    os.truncate(source, 4096)
    line = _single_error_line(matcache_cli("put", str(source), name))
    assert "short.npy: cannot load" in line


def test_ls_cut_short_by_its_reader_exits_quietly(server, client, name):
    # More than a pipe holds, so the listing is still being written when
    # `head` exits.
    names = [f"{name}-{i:03d}-{'x' * 180}" for i in range(400)]
    for each in names:
        client.put(each, np.zeros(1))
    try:
        done = subprocess.run(
            ["bash", "-c", 'set -o pipefail; "$@" | head -1', "-",
             sys.executable, "-m", "matcache", "--address", server.address,
             "ls", name],
            capture_output=True, text=True, timeout=60)
    finally:
        for each in names:
            client.delete(each)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.split() == ["NAME", "SHAPE", "DTYPE", "SIZE", "GEN",
                                   "CREATED", "PINNED", "EXPIRES"]


def test_ls_shows_pins_expiry_and_sources_not_read_yet(start_server,
                                                       tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "lazy.npy", np.arange(3.0))
    srv = start_server("--data_dir", str(data))
    with matcache.Client(srv.address) as c:
        c.load("lazy", "lazy.npy")
        c.put("pinned", np.zeros(2), pin=True)
        c.put("brief", np.zeros(2), ttl=3600)
    done = subprocess.run(
        [sys.executable, "-m", "matcache", "--address", srv.address, "ls"],
        capture_output=True, text=True, timeout=60)
    rows = {line.split()[0]: line for line in _ok(done).splitlines()[1:]}
    assert rows["lazy"].split()[5:] == ["-", "not", "loaded", "no", "never"]
    assert "1970" not in rows["lazy"]
    assert rows["pinned"].split()[-2:] == ["yes", "never"]
    # PINNED, then EXPIRES as "YYYY-MM-DD HH:MM:SS UTC".
    assert rows["brief"].split()[-4] == "no"
    assert rows["brief"].endswith("UTC")


def test_unreachable_server_is_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "matcache", "--address",
         "unix:/nonexistent/sock", "ls"],
        capture_output=True, text=True, timeout=30)
    line = _single_error_line(done)
    assert "unix:/nonexistent/sock" in line


def test_get_slice_and_dtype(matcache_cli, client, name, tmp_path):
    array = np.arange(20 * 300, dtype=np.float64).reshape(20, 300) / 4
    client.put(name, array)
    target = tmp_path / "out.npy"
    try:
        _ok(matcache_cli("get", name, str(target), "--slice", "::10,100:-100"))
        np.testing.assert_array_equal(np.load(target), array[::10, 100:-100])

        _ok(matcache_cli("get", name, str(target), "--slice=-1, ... ",
                         "--dtype", "int16"))
        loaded = np.load(target)
        assert loaded.dtype == np.int16
        np.testing.assert_array_equal(loaded, array[-1, ...].astype(np.int16))
    finally:
        client.delete(name)


def test_preview(matcache_cli, client, name, tmp_path):
    array = np.arange(6 * 4, dtype=np.int32).reshape(6, 4)
    client.put(name, array)
    target = tmp_path / "out.npy"
    try:
        _ok(matcache_cli("preview", name, "3x2", str(target)))
        np.testing.assert_array_equal(
            np.load(target), array.reshape(3, 2, 2, 2).mean(axis=(1, 3)))
        _ok(matcache_cli("preview", name, "2", str(target), "--method", "max"))
        loaded = np.load(target)
        assert loaded.dtype == np.int32
        np.testing.assert_array_equal(loaded, array[2::3])
    finally:
        client.delete(name)


@pytest.mark.parametrize("args, part", [
    (["get", "NAME", "OUT", "--slice", "1:2:3:4"], "start:stop[:step]"),
    (["get", "NAME", "OUT", "--slice", "a:b"], "'a' is not an integer"),
    (["get", "NAME", "OUT", "--slice", "1,,2"], "an empty part"),
    (["get", "NAME", "OUT", "--slice", "__import__('os')"], "not an integer"),
    (["get", "NAME", "OUT", "--slice", "...,..."], "single Ellipsis"),
    (["get", "NAME", "OUT", "--slice", "7"], "index 7 is out of bounds"),
    (["get", "NAME", "OUT", "--dtype", "float128"], "unsupported dtype"),
    (["preview", "NAME", "2x", "OUT"], "bad shape '2x'"),
    (["preview", "NAME", "2,2", "OUT"], "bad shape '2,2'"),
    (["preview", "NAME", "0x2", "OUT"], "non-positive extent"),
], ids=str)
def test_bad_slice_shape_or_dtype_is_one_line(server, client, name,
                                              tmp_path, capsys, args, part):
    # In this process: main() is what both entry points run.
    client.put(name, np.zeros((3, 4)))
    target = tmp_path / "out.npy"
    try:
        args = [{"NAME": name, "OUT": str(target)}.get(a, a) for a in args]
        status = cli.main(["--address", server.address, *args])
    finally:
        client.delete(name)
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert err.startswith("matcache: error: ") and err.count("\n") == 1, err
    assert part in err
    assert not target.exists()
