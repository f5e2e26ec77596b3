"""The status page (GET / on the HTTP gateway) in headless Chromium, against
a real server with the default access token: the page asks for the token,
then shows the summary, every matrix with its thumbnail, sorts and
filters, follows puts made by other processes without a reload, and reads
the window a drag over the detail heatmap selects."""

import json
import re
import struct
import time

import numpy as np
import pytest

import matcache
from httpclient import requests_total
from serverproc import run_python

BUDGET = 64 << 20
# name -> array; every 2-D one gets a thumbnail, the 1-D one none.
MATRICES = {
    "prices": np.add.outer(np.arange(300.0), np.arange(500.0)),
    "counts": np.arange(40 * 60, dtype=np.int32).reshape(40, 60),
    "tiny": np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], np.float32),
    "sensors.temperature": np.linspace(-5, 30, 120 * 80,
                                       dtype=np.float32).reshape(120, 80),
    "weights": np.linspace(0, 1, 1000),
}
TWO_D = sorted(name for name, array in MATRICES.items() if array.ndim == 2)

ROW_NAMES = "[...document.querySelectorAll('#rows tr')].map(tr => tr.dataset.name)"




def _window_shown(page, expected):
    """The first and last row and column the detail view says it shows, each
    checked to be within one of `expected`."""
    text = page.evaluate("document.getElementById('window-info').textContent")
    match = re.fullmatch(r"rows (\d+)–(\d+), columns (\d+)–(\d+)", text)
    assert match, text
    shown = tuple(int(n) for n in match.groups())
    assert all(abs(a - b) <= 1 for a, b in zip(shown, expected)), (text, expected)
    return shown


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


class StatusPage:
    """A server holding MATRICES and a page showing its status page, the
    token given."""

    def __init__(self, srv, page):
        self.srv = srv
        self.page = page
        self.address = srv.http_address()
        self.token = srv.token_file.read_text().strip()
        self.url = f"http://{self.address}/"

    def open_with_token(self):
        page = self.page
        page.navigate(self.url)
        # Nothing can be read without the token: the page asks for it.
        page.wait_for("!document.getElementById('token-form').hidden")
        assert page.evaluate(ROW_NAMES) == []
        page.evaluate("document.getElementById('token-input').focus()")
        page.type_text(self.token)
        x, y, w, h = page.box("#token-form button")
        page.click(x + w / 2, y + h / 2)
        page.wait_for("document.getElementById('token-form').hidden")
        self.wait_for_names(sorted(MATRICES))

    def wait_for_names(self, names, timeout=10):
        expected = json.dumps(names, separators=(",", ":"))
        self.page.wait_for(
            f"JSON.stringify({ROW_NAMES}.sort()) === {json.dumps(expected)}",
            timeout)

    def wait_for_thumbnails(self, count):
        """Waits until `count` thumbnails are shown and all have loaded;
        returns [name, naturalWidth, naturalHeight] of each."""
        return self.page.wait_for(f"""(() => {{
            const images = [...document.querySelectorAll('#rows td.thumb img')];
            if (images.length !== {count} ||
                !images.every(img => img.complete && img.naturalWidth > 0)) return null;
            return images.map(img => [img.closest('tr').dataset.name,
                                      img.naturalWidth, img.naturalHeight]);
        }})()""")


@pytest.fixture
def status(start_server, page):
    srv = start_server("--max_bytes", str(BUDGET))
    with matcache.Client(srv.address) as client:
        for name, array in MATRICES.items():
            client.put(name, array,
                       pin=name == "counts",
                       ttl=3600 if name == "tiny" else None)
    status = StatusPage(srv, page)
    status.open_with_token()
    return status


def test_the_page_asks_for_the_token_once_then_shows_the_server(status):
    page = status.page
    thumbnails = status.wait_for_thumbnails(len(TWO_D))
    assert sorted(name for name, _, _ in thumbnails) == TWO_D
    sizes = {name: (w, h) for name, w, h in thumbnails}
    # Previews at most 48 x 32 (columns x rows), smaller matrices whole.
    assert sizes["prices"] == (48, 32)
    assert sizes["tiny"] == (4, 3)
    # Everything from the server itself: no CDN, no fonts from elsewhere.
    origins = page.evaluate("[...new Set(performance.getEntriesByType('resource')"
                            ".map(e => new URL(e.name).origin))]")
    assert set(origins) <= {f"http://{status.address}"}, origins
    # The 1-D matrix has a row but no heatmap.
    assert page.evaluate(
        "document.querySelector('#rows tr[data-name=\"weights\"] td.thumb img')") is None

    with matcache.Client(status.srv.address) as client:
        stats = client.stats()
        counts_generation = client.info("counts").generation
    assert page.evaluate("document.getElementById('version').textContent") == \
        f"version {stats.version}"
    assert page.evaluate("document.getElementById('shm-dir').textContent") \
        .startswith(str(status.srv.shm_dir))
    # The budget bar: its used part as wide as used / budget.
    used_fraction = page.evaluate("""(() => {
        const bar = document.querySelector('.bar').getBoundingClientRect();
        const used = document.getElementById('budget-used').getBoundingClientRect();
        return used.width / bar.width; })()""")
    assert used_fraction == pytest.approx(stats.used_bytes / BUDGET, abs=0.01)
    assert 0 < used_fraction < 1
    assert "free of a budget of 64.0 MiB" in page.evaluate(
        "document.getElementById('budget-text').textContent")
    assert re.fullmatch(r"\d+ / \d+", page.evaluate(
        "document.getElementById('hits').textContent"))

    # The columns of one row.
    cells = page.evaluate(
        "[...document.querySelectorAll('#rows tr[data-name=\"counts\"] td')]"
        ".map(td => td.textContent)")
    assert cells[1:6] == ["counts", "(40, 60)", "int32", "9.38 KiB",
                          str(counts_generation)]
    assert cells[8] == "pinned"
    tiny = page.evaluate(
        "[...document.querySelectorAll('#rows tr[data-name=\"tiny\"] td')]"
        ".map(td => td.textContent)")
    assert tiny[9] in ("in 59 min", "in 60 min", "in 1.0 h"), tiny

    # Kept for the tab: a reload shows everything without asking again.
    page.navigate(status.url)
    status.wait_for_names(sorted(MATRICES))
    assert page.evaluate("document.getElementById('token-form').hidden")


def test_a_wrong_token_is_refused_and_asked_for_again(start_server, page):
    srv = start_server()
    page.navigate(f"http://{srv.http_address()}/")
    page.wait_for("!document.getElementById('token-form').hidden")
    page.evaluate("document.getElementById('token-input').focus()")
    page.type_text("not-the-token")
    page.evaluate("document.querySelector('#token-form button').click()")
    page.wait_for("document.getElementById('token-error').textContent"
                  " === 'that token was refused'")
    assert not page.evaluate("document.getElementById('token-form').hidden")


def test_the_table_sorts_and_filters(status):
    page = status.page

    def click_header(key):
        x, y, w, h = page.box(f"th[data-key={key}]")
        page.click(x + w / 2, y + h / 2)

    by_size = sorted(MATRICES, key=lambda n: MATRICES[n].nbytes)
    click_header("nbytes")
    assert page.evaluate(ROW_NAMES) == by_size
    click_header("nbytes")
    assert page.evaluate(ROW_NAMES) == by_size[::-1]
    assert page.evaluate("document.querySelector('th[data-key=nbytes]').className") == "desc"
    click_header("name")
    assert page.evaluate(ROW_NAMES) == sorted(MATRICES)

    page.evaluate("document.getElementById('filter').focus()")
    page.type_text("s.t")
    assert page.evaluate(ROW_NAMES) == ["sensors.temperature"]
    page.evaluate("""(() => { const f = document.getElementById('filter');
        f.value = 'i'; f.dispatchEvent(new Event('input')); })()""")
    assert page.evaluate(ROW_NAMES) == sorted(n for n in MATRICES if "i" in n)
    page.evaluate("""(() => { const f = document.getElementById('filter');
        f.value = ''; f.dispatchEvent(new Event('input')); })()""")
    assert page.evaluate(ROW_NAMES) == sorted(MATRICES)


def test_changes_from_another_process_appear_without_a_reload(status):
    page = status.page
    status.wait_for_thumbnails(len(TWO_D))
    page.wait_for("document.getElementById('live').className === 'live'")
    page.evaluate("window.loadedOnce = 'yes'")
    code = ("import numpy as np, matcache\n"
            "with matcache.Client() as c:\n"
            "    c.put('arrivals', np.arange(600.0).reshape(20, 30))\n")
    run_python(code, status.srv.address)
    put_done = time.monotonic()
    status.wait_for_names(sorted([*MATRICES, "arrivals"]), timeout=2)
    assert time.monotonic() - put_done < 2
    status.wait_for_thumbnails(len(TWO_D) + 1)

    # A replace updates the row's generation and its thumbnail.
    with matcache.Client(status.srv.address) as client:
        old = client.info("tiny").generation
        new = client.put("tiny", np.zeros((6, 2), np.float32)).generation
        assert new > old
        page.wait_for(
            "document.querySelector('#rows tr[data-name=\"tiny\"] td:nth-child(3)')"
            ".textContent === '(6, 2)'", timeout=2)
        thumbnails = dict((n, (w, h)) for n, w, h in
                          status.wait_for_thumbnails(len(TWO_D) + 1))
        assert thumbnails["tiny"] == (2, 6)
        client.delete("counts")
    status.wait_for_names(sorted({*MATRICES, "arrivals"} - {"counts"}), timeout=2)

    # The same document all along.
    assert page.evaluate("window.loadedOnce") == "yes"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_dragging_over_the_detail_heatmap_reads_that_window(status):
    page = status.page
    x, y, w, h = page.box("#rows tr[data-name=prices] td.name")
    page.click(x + w / 2, y + h / 2)
    page.wait_for("!document.getElementById('detail').hidden && "
                  "document.getElementById('heatmap').naturalWidth > 0")
    # The detail preview: at most 600 x 400, the whole of 500 x 300 here.
    assert page.evaluate("[document.getElementById('heatmap').naturalWidth,"
                         " document.getElementById('heatmap').naturalHeight]") == [500, 300]
    reads = requests_total(status.address, "http", "data")

    # The heatmap is drawn 600 x 400: a drag from (100, 50) to (300, 200)
    # covers rows 37 to 150 and columns 83 to 250 of the 300 x 500 matrix.
    fx, fy, fw, fh = page.box("#heatmap-frame")
    assert (fw, fh) == (600, 400)
    page.drag((fx + 100, fy + 50), (fx + 300, fy + 200))
    page.wait_for("!document.getElementById('window-canvas').hidden")
    # (A pixel either way: the mouse lands on whole pixels.)
    r0, r1, c0, c1 = _window_shown(page, (37, 150, 83, 250))
    assert requests_total(status.address, "http", "data") == reads + 1
    assert page.evaluate("document.getElementById('heatmap').hidden")
    # The canvas holds the window itself: one pixel per element.
    assert page.evaluate("[document.getElementById('window-canvas').width,"
                         " document.getElementById('window-canvas').height]") == \
        [c1 - c0 + 1, r1 - r0 + 1]
    # prices[i, j] = i + j: the corners are the window's smallest and largest
    # values, so the first and last colours of the colormap.
    colormap = page.evaluate("fetch('/status/viridis.json').then(r => r.json())")
    corners = page.evaluate("""(() => {
        const c = document.getElementById('window-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const at = (i, j) => [...d.slice(4 * (i * c.width + j), 4 * (i * c.width + j) + 3)];
        return [at(0, 0), at(c.height - 1, c.width - 1)]; })()""")
    assert corners == [colormap[0], colormap[255]]

    # A drag over the window zooms further into it.
    info = page.evaluate("document.getElementById('window-info').textContent")
    page.drag((fx + 0, fy + 0), (fx + 299, fy + 199))
    page.wait_for("document.getElementById('window-info').textContent"
                  f" !== {json.dumps(info)}")
    rows, cols = r1 - r0 + 1, c1 - c0 + 1
    _window_shown(page, (r0, r0 + 199 * rows // 400, c0, c0 + 299 * cols // 600))
    assert requests_total(status.address, "http", "data") == reads + 2

    # A click without a drag reads nothing.
    page.click(fx + 10, fy + 10)
    assert requests_total(status.address, "http", "data") == reads + 2

    # The whole matrix again.
    page.evaluate("document.getElementById('detail-reset').click()")
    page.wait_for("!document.getElementById('heatmap').hidden && "
                  "document.getElementById('window-canvas').hidden")


def _open_detail(page, name):
    x, y, w, h = page.box(f"#rows tr[data-name=\"{name}\"] td.name")
    page.click(x + w / 2, y + h / 2)
    page.wait_for(f"document.getElementById('detail-name').textContent === '{name}' && "
                  "document.getElementById('heatmap').complete && "
                  "document.getElementById('heatmap').naturalWidth > 0")
    return page.box("#heatmap-frame")


def test_a_window_larger_than_the_heatmap_is_read_with_a_step(
        status, screenshot_path):
    page = status.page
    rows, cols = np.mgrid[0:1200, 0:1800]
    big = (np.sin(rows / 150.0) * np.cos(cols / 200.0)).astype(np.float32)
    with matcache.Client(status.srv.address) as client:
        client.put("big", big)
    status.wait_for_names(sorted([*MATRICES, "big"]))
    fx, fy, fw, fh = _open_detail(page, "big")
    # The whole heatmap: 1200 x 1800 read as one row and column in 3.
    page.drag((fx + 1, fy + 1), (fx + fw + 10, fy + fh + 10))
    page.wait_for("!document.getElementById('window-canvas').hidden")
    text = page.evaluate("document.getElementById('window-info').textContent")
    match = re.fullmatch(r"rows (\d+)–1199, columns (\d+)–1799 "
                         r"\(one row in 3, one column in 3\)", text)
    assert match and int(match[1]) <= 6 and int(match[2]) <= 6, text
    r0, c0 = int(match[1]), int(match[2])
    assert page.evaluate("[document.getElementById('window-canvas').width,"
                         " document.getElementById('window-canvas').height]") == \
        [-(-(1800 - c0) // 3), -(-(1200 - r0) // 3)]
    assert not [line for line in page.console if line.startswith("exception")]

    # Then a window in the middle, one element per pixel, for the README.
    page.drag((fx + 200, fy + 150), (fx + 350, fy + 250))
    page.wait_for("!/one row in/.test(document.getElementById('window-info').textContent)")
    # The whole page: the table and the detail view.
    height = page.evaluate("document.documentElement.scrollHeight")
    assert 800 < height < 1300
    page.call("Emulation.setDeviceMetricsOverride", width=1200, height=height,
              deviceScaleFactor=1, mobile=False)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for("document.querySelectorAll('tr.changed').length === 0 || "
                  "document.getAnimations().length === 0")
    path = screenshot_path("status-page.png")
    page.screenshot(path)
    assert _png_size(path) == (1200, height)


def test_a_zoomed_window_follows_a_replace(status):
    page = status.page
    fx, fy, fw, fh = _open_detail(page, "prices")
    page.drag((fx + 100, fy + 50), (fx + 300, fy + 200))
    page.wait_for("!document.getElementById('window-canvas').hidden")
    shown = _window_shown(page, (37, 150, 83, 250))
    reads = requests_total(status.address, "http", "data")
    with matcache.Client(status.srv.address) as client:
        generation = client.put("prices", -MATRICES["prices"]).generation
    page.wait_for("document.getElementById('detail-info').textContent"
                  f".endsWith('generation {generation}')", timeout=2)
    # The same window, read again from the new version: its colours
    # reversed, the largest value now at the top left.
    colormap = page.evaluate("fetch('/status/viridis.json').then(r => r.json())")
    page.wait_for(f"""(() => {{
        const c = document.getElementById('window-canvas');
        const d = c.getContext('2d').getImageData(0, 0, 1, 1).data;
        return JSON.stringify([...d.slice(0, 3)]) === '{json.dumps(colormap[255], separators=(",", ":"))}';
    }})()""", timeout=2)
    assert _window_shown(page, shown) == shown
    assert requests_total(status.address, "http", "data") == reads + 1
