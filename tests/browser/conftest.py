"""Fixtures of the browser tests: real matcached servers (the launcher of
tests/python), headless Chromium pages, and where screenshots go."""

import os
import pathlib
import secrets
import shutil
import sys
import tempfile

import pytest

_TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_TESTS / "browser"), str(_TESTS / "python")]

from browser import Browser  # noqa: E402
from serverproc import ServerProcess  # noqa: E402


@pytest.fixture
def start_server():
    """A function starting a matcached with the given extra flags; every
    server it started is stopped and its directories removed at the end of
    the test."""
    cleanups = []

    def start(*args):
        workdir = tempfile.mkdtemp(prefix="matcache-browser-")
        cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        shm_dir = tempfile.mkdtemp(prefix="matcache-browser-", dir="/dev/shm")
        cleanups.append(lambda: shutil.rmtree(shm_dir, ignore_errors=True))
        srv = ServerProcess(workdir, shm_dir, f"b{secrets.token_hex(4)}", args)
        cleanups.append(lambda: srv.kill() if srv.running() else None)
        srv.start()
        cleanups.append(lambda: _stopped(srv))
        return srv

    try:
        yield start
    finally:
        errors = []
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as e:  # keep cleaning up; report below
                errors.append(e)
        if errors:
            raise errors[0]


def _stopped(srv):
    """Stops a server still running and checks that it exited cleanly (a
    sanitizer report, say, would not)."""
    if srv.running():
        status = srv.stop()
        assert status == 0, f"matcached exited with {status}:\n{srv.log()}"


@pytest.fixture
def page():
    """A headless Chromium tab, 1200 x 800, closed at the end of the test."""
    with Browser(1200, 800) as browser:
        yield browser


@pytest.fixture
def screenshot_path(tmp_path):
    """Where a test writes its screenshot: docs/ with
    MATCACHE_SCREENSHOTS=docs (to refresh the README's pictures), else a
    temporary directory."""
    def path(name):
        directory = os.environ.get("MATCACHE_SCREENSHOTS")
        return pathlib.Path(directory or tmp_path) / name
    return path
