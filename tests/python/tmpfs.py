"""A tmpfs mounted for one test, with the options it asks for (huge pages,
say); the test is skipped where mounting is not possible."""

import contextlib
import os
import subprocess

import pytest


@contextlib.contextmanager
def mounted_tmpfs(where, options):
    """Mounts a tmpfs with `options` (e.g. "huge=within_size,size=64m") on
    the new directory `where` for the block, unmounting it at the end
    (lazily if it is still busy); skips the test unless root may mount."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs",
                            str(where)], capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)]).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)
