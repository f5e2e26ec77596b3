"""Fixtures of the browser tests: real matcached servers (the launcher of
tests/python), headless Chromium pages, and where screenshots go."""

import os
import pathlib
import sys

import pytest

_TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_TESTS / "browser"), str(_TESTS / "python")]

from browser import Browser  # noqa: E402
from serverproc import new_server, run_cleanups  # noqa: E402


@pytest.fixture
def start_server():
    """A function starting a matcached with the given extra flags; every
    server it started is stopped and its directories removed at the end of
    the test."""
    cleanups = []

    def start(*args):
        srv = new_server(args, cleanups, prefix="b")
        srv.start()
        cleanups.append(lambda: _stopped(srv))
        return srv

    try:
        yield start
    finally:
        run_cleanups(cleanups)


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
