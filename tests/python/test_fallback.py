"""A client that cannot open the segment files (another user, host or
container) streams instead, transparently unless local=True demands
mapping."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import matcache
from publiccopy import public_copy

NOBODY = 65534

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="running a client as another user needs root")


@pytest.fixture
def client_dir():
    """A copy of the client that the user nobody can import, wherever the
    checkout lives (removed at the end)."""
    path = public_copy()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_client_without_access_to_segments_streams(start_server, client_dir):
    srv = start_server()
    # The socket becomes reachable for everybody; shm_dir stays private
    # (mode 0700), so the segments cannot be opened.
    os.chmod(srv.workdir, 0o755)
    os.chmod(srv.workdir / "m.sock", 0o777)
    assert os.stat(srv.shm_dir).st_mode & 0o077 == 0
    with matcache.Client(srv.address) as owner:
        owner.put("shared", np.arange(10.0))

    code = textwrap.dedent("""
        import numpy as np, matcache
        c = matcache.Client()
        a = c.get("shared")
        assert np.array_equal(a, np.arange(10.0)) and not a.flags.writeable
        c.put("written", np.arange(6).reshape(2, 3))
        try:
            matcache.Client(local=True).get("shared")
        except matcache.NotLocalError as e:
            print("refused:", e)
    """)
    # setpriv, not user=: that makes Python fork() rather than vfork(), and
    # gRPC's fork handlers can deadlock this process while channels are busy.
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
         "--clear-groups", "--", sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, cwd="/",
        env=dict(os.environ, MATCACHE_ADDRESS=srv.address,
                 PYTHONPATH=str(client_dir)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: cannot open segment")

    with matcache.Client(srv.address) as owner:
        assert np.array_equal(owner.get("written"),
                              np.arange(6).reshape(2, 3))
        assert owner.stats().staging_count == 0
    assert srv.staging_files() == []
