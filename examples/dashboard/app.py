#!/usr/bin/python3
"""A small dashboard on matcache: Flask serves one page that draws a matrix
as a Plotly heatmap, from a preview of the whole matrix or, once zoomed, a
read of the window shown; a watch thread follows the server's changes and
the page re-renders when the matrix it shows gets a new generation.

    PYTHONPATH=build/python /usr/bin/python3 examples/dashboard/app.py \\
        --address unix:/tmp/matcache/matcached.sock --port 8050

Debian's python3-flask and python3-plotly, the stack Dash is built on; the
page loads plotly.js from this app (the copy python3-plotly ships), nothing
from elsewhere.
"""

import argparse
import json
import logging
import math
import threading

import flask
import numpy as np
from plotly.offline import get_plotlyjs

import matcache

# The most cells a heatmap gets: a preview of the whole matrix, or a window
# read with a step that keeps it about this size.
PLOT_ROWS, PLOT_COLS = 300, 400

log = logging.getLogger("dashboard")


class Generations:
    """The generation of every published matrix, as a watch of the whole
    server tells them, kept by a thread of its own. A watch that ends (the
    server restarting, a watcher that fell behind) is started again with
    its snapshot, which replaces what was known."""

    def __init__(self, client):
        self._client = client
        self._lock = threading.Lock()
        self._generations = {}
        self._changes = 0  # one more for each change seen
        threading.Thread(target=self._run, daemon=True).start()

    def state(self):
        with self._lock:
            return {"changes": self._changes,
                    "generations": dict(self._generations)}

    def _run(self):
        stop = threading.Event()
        while True:
            try:
                seen = {}
                with self._client.watch(initial=True) as events:
                    for event in events:
                        if event.kind == "put":
                            seen[event.name] = event.generation
                        elif event.kind == "delete":
                            seen.pop(event.name, None)
                        if event.kind == "snapshot_complete" or event.reason != "snapshot":
                            with self._lock:
                                self._generations = dict(seen)
                                self._changes += 1
                            log.info("watch: %s %s %s", event.kind,
                                     event.name, event.generation)
            except matcache.MatcacheError as error:
                log.warning("watch ended (%s); watching again", error)
            stop.wait(1.0)


def _centers(n, t):
    """The centre of each of the t cells a preview splits n positions into:
    cell i covers [floor(i*n/t), floor((i+1)*n/t))."""
    edges = [i * n // t for i in range(t + 1)]
    return [(edges[i] + edges[i + 1] - 1) / 2 for i in range(t)]


def _span(text, extent):
    """"A:B" as a range clamped to [0, extent), or None for no text."""
    if not text:
        return None
    start, stop = (int(part) for part in text.split(":"))
    start, stop = max(0, start), min(extent, stop)
    if start >= stop:
        raise ValueError(f"{text} holds no position of 0:{extent}")
    return start, stop


def _json_values(z):
    """A 2-D float array as nested lists, NaN and infinities as null."""
    cells = z.astype(object)
    cells[~np.isfinite(z)] = None
    return cells.tolist()


def create_app(client):
    app = flask.Flask(__name__)
    generations = Generations(client)
    plotly_js = get_plotlyjs()

    @app.errorhandler(matcache.MatcacheError)
    def matcache_error(error):
        status = 404 if isinstance(error, matcache.NotFoundError) else 502
        return flask.jsonify(error=str(error)), status

    @app.get("/")
    def index():
        return flask.Response(PAGE, mimetype="text/html")

    @app.get("/plotly.js")
    def plotly():
        response = flask.Response(plotly_js, mimetype="application/javascript")
        response.cache_control.max_age = 86400
        return response

    @app.get("/api/matrices")
    def matrices():
        # Heatmaps are for real 2-D matrices.
        return flask.jsonify([
            {"name": info.name, "shape": list(info.shape),
             "dtype": str(info.dtype), "generation": info.generation}
            for info in client.list()
            if len(info.shape) == 2 and info.dtype.kind != "c"])

    @app.get("/api/state")
    def state():
        return flask.jsonify(generations.state())

    @app.get("/api/heatmap")
    def heatmap():
        name = flask.request.args["name"]
        try:
            info = client.info(name)
            rows, cols = info.shape
            row_span = _span(flask.request.args.get("rows"), rows)
            col_span = _span(flask.request.args.get("cols"), cols)
            if row_span is None and col_span is None:
                shape = (min(rows, PLOT_ROWS), min(cols, PLOT_COLS))
                z = client.preview(name, shape)
                y, x = _centers(rows, shape[0]), _centers(cols, shape[1])
                window = None
                log.info("preview %s %dx%d", name, *shape)
            else:
                r0, r1 = row_span or (0, rows)
                c0, c1 = col_span or (0, cols)
                row_step = max(1, math.ceil((r1 - r0) / PLOT_ROWS))
                col_step = max(1, math.ceil((c1 - c0) / PLOT_COLS))
                z = client.read(name, (slice(r0, r1, row_step),
                                       slice(c0, c1, col_step)),
                                dtype=np.float64)
                y = list(range(r0, r1, row_step))
                x = list(range(c0, c1, col_step))
                window = [r0, r1, c0, c1]
                log.info("read %s[%d:%d:%d, %d:%d:%d]", name, r0, r1,
                         row_step, c0, c1, col_step)
        except (matcache.InvalidArgumentError, ValueError) as error:
            return flask.jsonify(error=str(error)), 400
        body = {"name": name, "shape": [rows, cols], "dtype": str(info.dtype),
                "generation": info.generation, "window": window,
                "x": x, "y": y, "z": _json_values(np.asarray(z, np.float64))}
        return flask.Response(json.dumps(body, allow_nan=False),
                              mimetype="application/json")

    return app


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>matcache dashboard</title>
<script src="/plotly.js"></script>
<style>
  body { font-family: system-ui, sans-serif; margin: 1em 1.5em; color: #222; }
  header { display: flex; gap: 1.5em; align-items: baseline; }
  h1 { font-size: 1.3em; margin: 0; white-space: nowrap; }
  #info { color: #555; margin: 0.6em 0 0; }
  #plot { width: 1100px; height: 640px; }
</style>
</head>
<body>
<header>
  <h1>matcache dashboard</h1>
  <label>matrix <select id="matrix"><option value="">(pick one)</option></select></label>
  <button id="reset" type="button">whole matrix</button>
</header>
<p id="info">Drag over the heatmap to zoom; double-click for the whole matrix.</p>
<div id="plot"></div>
<script>
"use strict";
const plot = document.getElementById("plot");
const picker = document.getElementById("matrix");
let shown = null;          // {name, generation, window}
let queue = Promise.resolve();
let knownChanges = -1;

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// Renders one after another, in the order asked.
function render(name, window) {
  queue = queue.then(() => draw(name, window)).catch((error) => {
    document.getElementById("info").textContent = error.message;
  });
  return queue;
}

async function draw(name, window) {
  const query = new URLSearchParams({name});
  if (window) {
    query.set("rows", window[0] + ":" + window[1]);
    query.set("cols", window[2] + ":" + window[3]);
  }
  const h = await getJSON("/api/heatmap?" + query);
  const w = h.window || [0, h.shape[0], 0, h.shape[1]];
  shown = {name, generation: h.generation, window: h.window};
  await Plotly.react(plot, [{type: "heatmap", z: h.z, x: h.x, y: h.y,
                             colorscale: "Viridis"}], {
    margin: {t: 30, r: 20, b: 40, l: 60},
    title: {text: `${name}, generation ${h.generation}`, font: {size: 14}},
    xaxis: {range: [w[2] - 0.5, w[3] - 0.5], title: {text: "column"}},
    yaxis: {range: [w[1] - 0.5, w[0] - 0.5], title: {text: "row"}},
  }, {displaylogo: false, showTips: false});
  plot.dataset.name = name;
  plot.dataset.generation = h.generation;
  document.getElementById("info").textContent =
      `(${h.shape.join(", ")}) ${h.dtype}, generation ${h.generation}: ` +
      (h.window ? `rows ${w[0]}–${w[1] - 1}, columns ${w[2]}–${w[3] - 1}`
                : "the whole matrix (a preview)");
}

// The positions the axes show now, as [r0, r1, c0, c1].
function visibleWindow() {
  const [x0, x1] = plot.layout.xaxis.range;
  const [y0, y1] = plot.layout.yaxis.range;
  return [Math.ceil(Math.min(y0, y1) - 0.5), Math.floor(Math.max(y0, y1) + 0.5),
          Math.ceil(Math.min(x0, x1) - 0.5), Math.floor(Math.max(x0, x1) + 0.5)];
}

function onRelayout(change) {
  if (!shown) return;
  if (change["xaxis.autorange"] || change["yaxis.autorange"]) {
    render(shown.name, null);
  } else if (Object.keys(change).some((key) => key.includes("axis.range"))) {
    render(shown.name, visibleWindow());
  }
}

async function loadPicker() {
  const chosen = picker.value;
  const matrices = await getJSON("/api/matrices");
  picker.replaceChildren(new Option("(pick one)", ""), ...matrices.map((m) =>
      new Option(`${m.name} (${m.shape.join("x")} ${m.dtype})`, m.name)));
  picker.value = chosen;
}

// What the app's watch thread saw: new names, new generations.
async function follow() {
  try {
    const state = await getJSON("/api/state");
    if (state.changes !== knownChanges) {
      knownChanges = state.changes;
      await loadPicker();
    }
    const generation = shown && state.generations[shown.name];
    if (shown && generation !== undefined && generation !== shown.generation) {
      shown.generation = generation;  // asked for once
      await render(shown.name, shown.window);
    }
  } catch (error) {
    document.getElementById("info").textContent = "no answer from the app: " + error.message;
  }
  setTimeout(follow, 500);
}

picker.addEventListener("change", () => picker.value && render(picker.value, null));
document.getElementById("reset").addEventListener(
    "click", () => shown && render(shown.name, null));
Plotly.newPlot(plot, [], {margin: {t: 30}}, {displaylogo: false, showTips: false}).then(() => {
  plot.on("plotly_relayout", onRelayout);
  follow();
});
</script>
</body>
</html>
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", help="matcached's gRPC address "
                        "(default: $MATCACHE_ADDRESS or the default socket)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="where the dashboard listens (default: loopback)")
    parser.add_argument("--port", type=int, default=8050)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")
    client = matcache.Client(args.address)
    create_app(client).run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
