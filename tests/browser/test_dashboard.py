"""examples/dashboard/app.py (Flask + Plotly) in headless Chromium against a
real server: the picker lists the 2-D matrices, the heatmap renders from a
preview, a zoom reads that window from matcache, and a replace made by
another process re-renders the page with the new generation."""

import os
import pathlib
import re
import subprocess
import time

import numpy as np
import pytest

import matcache
from httpclient import requests_total
from serverproc import die_with_us, run_python

REPO = pathlib.Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "dashboard" / "app.py"
PYTHON = "/usr/bin/python3"
STARTUP_SECONDS = 30
_RUNNING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")




class Dashboard:
    """The app as a process of its own, on a port it picked; its log
    (stderr and stdout) in `log_path`."""

    def __init__(self, address, log_path):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                die_with_us([PYTHON, str(APP), "--address", address,
                             "--port", "0"]),
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + STARTUP_SECONDS
        while (match := _RUNNING.search(self.log())) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the dashboard did not start:\n{self.log()}")
            time.sleep(0.05)
        self.url = match[1]

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def dashboard(start_server, tmp_path):
    srv = start_server()
    with matcache.Client(srv.address) as client:
        rows, cols = np.mgrid[0:400, 0:600]
        client.put("waves", np.sin(rows / 40.0) * np.cos(cols / 60.0))
        client.put("ramp", np.arange(50 * 80, dtype=np.int16).reshape(50, 80))
        client.put("series", np.arange(100.0))  # 1-D: no heatmap
    app = Dashboard(srv.address, tmp_path / "dashboard.log")
    try:
        yield srv, app
    finally:
        app.stop()


def test_pick_zoom_and_follow_a_replace(dashboard, page, screenshot_path):
    srv, app = dashboard
    http = srv.http_address()
    page.navigate(app.url + "/")
    # No script from anywhere but the app.
    assert page.evaluate(
        "[...document.scripts].filter(s => s.src).map(s => s.src)") == \
        [app.url + "/plotly.js"]
    options = page.wait_for(
        "document.getElementById('matrix').options.length > 1 && "
        "[...document.getElementById('matrix').options].map(o => o.value)")
    assert options == ["", "ramp", "waves"]

    page.evaluate("""(() => { const s = document.getElementById('matrix');
        s.value = 'waves'; s.dispatchEvent(new Event('change')); })()""")
    page.wait_for("document.getElementById('plot').dataset.name === 'waves'")
    with matcache.Client(srv.address) as client:
        first = client.info("waves").generation
    assert page.evaluate("document.getElementById('plot').dataset.generation") == str(first)
    # Plotly drew a heatmap of the whole matrix's preview: 300 x 400 cells
    # (the most the app asks for) spanning rows 0..399 and columns 0..599.
    assert page.evaluate("document.querySelectorAll('#plot .main-svg').length") > 0
    assert page.evaluate("document.querySelectorAll('#plot .hm image, #plot .heatmaplayer image').length") == 1
    z_shape = page.evaluate("(() => { const z = document.getElementById('plot').data[0].z;"
                            " return [z.length, z[0].length]; })()")
    assert z_shape == [300, 400]
    origins = page.evaluate("[...new Set(performance.getEntriesByType('resource')"
                            ".map(e => new URL(e.name).origin))]")
    assert origins == [app.url]
    assert "the whole matrix" in page.evaluate("document.getElementById('info').textContent")

    # A zoom by dragging a box over the plot: the app reads that window.
    reads = requests_total(http, "grpc", "Read")
    x, y, w, h = page.box("#plot .nsewdrag")
    page.drag((x + w * 0.25, y + h * 0.25), (x + w * 0.5, y + h * 0.5), steps=10)
    info = page.wait_for("(() => { const t = document.getElementById('info').textContent;"
                         " return t.includes('rows') && t; })()")
    match = re.search(r"rows (\d+)–(\d+), columns (\d+)–(\d+)", info)
    r0, r1, c0, c1 = map(int, match.groups())
    # About the second quarter of each axis.
    assert abs(r0 - 100) <= 5 and abs(r1 - 199) <= 5, info
    assert abs(c0 - 150) <= 5 and abs(c1 - 299) <= 5, info
    assert requests_total(http, "grpc", "Read") == reads + 1
    assert re.search(rf"read waves\[{r0}:{r1 + 1}:1, {c0}:{c1 + 1}:1\]", app.log())
    # The window itself, element by element.
    z = np.array(page.evaluate("document.getElementById('plot').data[0].z"), float)
    rows, cols = np.mgrid[r0:r1 + 1, c0:c1 + 1]
    np.testing.assert_allclose(z, np.sin(rows / 40.0) * np.cos(cols / 60.0))

    page.mouse("mouseMoved", 5, 795)  # no hover label in the picture
    path = screenshot_path("dashboard.png")
    page.screenshot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A replace from another process: the page re-renders the same window
    # with the new generation, without a reload.
    page.evaluate("window.sameDocument = true")
    code = ("import numpy as np, matcache\n"
            "with matcache.Client() as c:\n"
            "    print(c.put('waves', np.full((400, 600), 7.0)).generation)\n")
    second = int(run_python(code, srv.address))
    assert second > first
    page.wait_for(f"document.getElementById('plot').dataset.generation === '{second}'",
                  timeout=5)
    z = np.array(page.evaluate("document.getElementById('plot').data[0].z"), float)
    assert z.shape == (r1 - r0 + 1, c1 - c0 + 1)
    assert (z == 7.0).all()
    assert page.evaluate("window.sameDocument") is True

    # A double-click shows the whole matrix again, from a preview.
    page.call("Input.dispatchMouseEvent", type="mousePressed", x=x + w / 2,
              y=y + h / 2, button="left", clickCount=1, buttons=1)
    page.call("Input.dispatchMouseEvent", type="mouseReleased", x=x + w / 2,
              y=y + h / 2, button="left", clickCount=1, buttons=0)
    page.call("Input.dispatchMouseEvent", type="mousePressed", x=x + w / 2,
              y=y + h / 2, button="left", clickCount=2, buttons=1)
    page.call("Input.dispatchMouseEvent", type="mouseReleased", x=x + w / 2,
              y=y + h / 2, button="left", clickCount=2, buttons=0)
    page.wait_for("document.getElementById('info').textContent.includes('the whole matrix')")


def test_the_picker_follows_new_matrices(dashboard, page):
    srv, app = dashboard
    page.navigate(app.url + "/")
    page.wait_for("document.getElementById('matrix').options.length === 3")
    run_python("import numpy as np, matcache\n"
               "with matcache.Client() as c:\n"
               "    c.put('later', np.ones((10, 10)))\n", srv.address)
    page.wait_for("[...document.getElementById('matrix').options]"
                  ".some(o => o.value === 'later')", timeout=5)
