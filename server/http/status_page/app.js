// The matcache status page: the server's summary, the matrix table with
// heatmap thumbnails, a detail view whose heatmap zooms into a dragged
// window, and live updates from /v1/events. Talks only to this server's
// HTTP API; a read token, when the server needs one, is asked for once and
// kept for the tab (sessionStorage).
"use strict";

const TOKEN_KEY = "matcache-token";
const THUMB_SHAPE = [32, 48];       // rows, columns of a thumbnail preview
const DETAIL_SHAPE = [400, 600];    // of the detail heatmap
const STATS_PERIOD_MS = 5000;
const RECONNECT_MS = 2000;

let token = sessionStorage.getItem(TOKEN_KEY);
const matrices = new Map();   // name -> MatrixInfo JSON
const thumbnails = new Map(); // name -> {generation, url: a Promise}
let sortKey = "name";
let sortDirection = 1;
let detail = null;            // {name, info, view: [r0, r1, c0, c1]}
let colormap = null;          // 256 [r, g, b] entries (viridis)

const $ = (id) => document.getElementById(id);

class NeedsToken extends Error {}

// fetch() of one of the server's paths, with the token if there is one.
async function api(path) {
  const headers = token ? {Authorization: "Bearer " + token} : {};
  const response = await fetch(path, {headers});
  if (response.status === 401 || response.status === 403) {
    askForToken(response.status === 403 ? "that token was refused" : "");
    throw new NeedsToken();
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (e) {}
    throw new Error(`${path}: ${response.status} ${detail}`);
  }
  return response;
}

function askForToken(error) {
  $("token-form").hidden = false;
  $("token-error").textContent = error;
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token-input").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-form").hidden = true;
  start();
});

// ---- formatting

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
}

function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.round(seconds / 60) + " min";
  if (seconds < 86400) return (seconds / 3600).toFixed(1) + " h";
  return (seconds / 86400).toFixed(1) + " d";
}

function since(time) {
  return time ? duration((Date.now() - Date.parse(time)) / 1000) : "–";
}

function until(time) {
  return time ? "in " + duration((Date.parse(time) - Date.now()) / 1000) : "–";
}

// ---- summary

async function loadStats() {
  const stats = await (await api("/v1/stats")).json();
  $("version").textContent = "version " + stats.version;
  $("uptime").textContent = duration(stats.uptime_seconds);
  $("shm-dir").textContent = `${stats.shm_dir} (${stats.fs_type})`;
  $("huge-pages").textContent =
      stats.huge_pages === "never" ? "no" : `yes (${stats.huge_pages})`;
  $("matrix-count").textContent = `${stats.matrices} (${bytes(stats.matrix_bytes)})`;
  $("hits").textContent = `${stats.hits} / ${stats.misses}`;
  $("evictions").textContent = stats.evictions;
  const limit = stats.budget_bytes > 0 ? stats.budget_bytes : stats.shm_total_bytes;
  const free = stats.budget_bytes > 0 ? limit - stats.used_bytes : stats.shm_free_bytes;
  $("budget-used").style.width = (limit > 0 ? 100 * stats.used_bytes / limit : 0) + "%";
  $("budget-text").textContent = `${bytes(stats.used_bytes)} used, ${bytes(free)} free of ` +
      (stats.budget_bytes > 0 ? `a budget of ${bytes(limit)}` : `${bytes(limit)} (no budget)`);
}

// ---- the table

async function loadMatrices() {
  const listed = new Map();
  let next = "";
  do {
    const page = await (await api(
        "/v1/matrices?start_after=" + encodeURIComponent(next))).json();
    for (const info of page.matrices) listed.set(info.name, info);
    next = page.next;
  } while (next);
  matrices.clear();
  for (const [name, info] of listed) matrices.set(name, info);
  render();
}

function sortValue(info, key) {
  switch (key) {
    case "shape": return info.shape.reduce((a, b) => a * b, 1);
    case "created": case "last_access": case "expires":
      return info[key] ? Date.parse(info[key]) : Infinity;
    default: return info[key];
  }
}

function render(changed) {
  const filter = $("filter").value.trim();
  const shown = [...matrices.values()]
      .filter((info) => info.name.includes(filter))
      .sort((a, b) => {
        const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
        return (x < y ? -1 : x > y ? 1 : 0) * sortDirection;
      });
  const rows = $("rows");
  rows.replaceChildren(...shown.map((info) => row(info, info.name === changed)));
  for (const header of document.querySelectorAll("th[data-key]")) {
    header.classList.toggle("asc", header.dataset.key === sortKey && sortDirection > 0);
    header.classList.toggle("desc", header.dataset.key === sortKey && sortDirection < 0);
  }
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(info, changed) {
  const tr = document.createElement("tr");
  tr.dataset.name = info.name;
  if (changed) tr.className = "changed";
  const thumb = cell("", "thumb");
  if (info.shape.length === 2 && info.generation > 0 && info.shape.every((n) => n > 0) &&
      !info.dtype.startsWith("complex")) {
    const img = document.createElement("img");
    img.alt = "heatmap of " + info.name;
    thumb.append(img);
    showThumbnail(info, img);
  }
  const name = cell(info.name, "name");
  name.addEventListener("click", () => openDetail(info.name));
  tr.append(thumb, name,
            cell("(" + info.shape.join(", ") + ")"),
            cell(info.dtype === info.original_dtype ? info.dtype
                                                    : `${info.dtype} (put as ${info.original_dtype})`),
            cell(bytes(info.nbytes)),
            cell(info.generation || "not loaded"),
            cell(since(info.created)),
            cell(since(info.last_access)),
            cell(info.pinned ? "pinned" : ""),
            cell(until(info.expires)),
            cell(info.source || ""));
  return tr;
}

// The shape of a preview of `shape` at most `target` large.
function previewShape(shape, target) {
  return [Math.min(shape[0], target[0]), Math.min(shape[1], target[1])];
}

async function pngUrl(name, shape) {
  const response = await api(`/v1/matrices/${encodeURIComponent(name)}/preview?shape=` +
                             `${shape[0]}x${shape[1]}&format=png`);
  return URL.createObjectURL(await response.blob());
}

async function showThumbnail(info, img) {
  let thumbnail = thumbnails.get(info.name);
  if (!thumbnail || thumbnail.generation !== info.generation) {
    if (thumbnail) thumbnail.url.then(URL.revokeObjectURL, () => {});
    thumbnail = {generation: info.generation,
                 url: pngUrl(info.name, previewShape(info.shape, THUMB_SHAPE))};
    thumbnails.set(info.name, thumbnail);
  }
  try {
    img.src = await thumbnail.url;
  } catch (error) {
    img.alt = error.message;
  }
}

for (const header of document.querySelectorAll("th[data-key]")) {
  header.addEventListener("click", () => {
    sortDirection = header.dataset.key === sortKey ? -sortDirection : 1;
    sortKey = header.dataset.key;
    render();
  });
}
$("filter").addEventListener("input", () => render());

// ---- the detail view and its window reads

function describe(info) {
  return `(${info.shape.join(", ")}) ${info.dtype}, ${bytes(info.nbytes)}, ` +
         `generation ${info.generation}`;
}

async function openDetail(name) {
  const info = matrices.get(name);
  if (!info) return;
  detail = {name, info, view: [0, info.shape[0], 0, info.shape[1] || 1], zoomed: false};
  $("detail").hidden = false;
  $("detail-name").textContent = name;
  $("detail-info").textContent = describe(info);
  $("window-info").textContent = "";
  $("window-canvas").hidden = true;
  const heatmap = $("heatmap");
  heatmap.hidden = info.shape.length !== 2;
  if (info.shape.length === 2) {
    heatmap.src = await pngUrl(name, previewShape(info.shape, DETAIL_SHAPE));
  }
}

$("detail-close").addEventListener("click", () => {
  $("detail").hidden = true;
  detail = null;
});
$("detail-reset").addEventListener("click", () => detail && openDetail(detail.name));

let dragStart = null;

function framePoint(event) {
  const box = $("heatmap-frame").getBoundingClientRect();
  return [Math.min(Math.max(event.clientX - box.left, 0), box.width),
          Math.min(Math.max(event.clientY - box.top, 0), box.height), box];
}

$("heatmap-frame").addEventListener("mousedown", (event) => {
  if (!detail || detail.info.shape.length !== 2) return;
  event.preventDefault();
  dragStart = framePoint(event);
});

window.addEventListener("mousemove", (event) => {
  if (!dragStart) return;
  const [x, y] = framePoint(event);
  const selection = $("selection");
  selection.hidden = false;
  selection.style.left = Math.min(x, dragStart[0]) + "px";
  selection.style.top = Math.min(y, dragStart[1]) + "px";
  selection.style.width = Math.abs(x - dragStart[0]) + "px";
  selection.style.height = Math.abs(y - dragStart[1]) + "px";
});

window.addEventListener("mouseup", (event) => {
  if (!dragStart) return;
  const [x, y, box] = framePoint(event);
  const [x0, y0] = dragStart;
  dragStart = null;
  $("selection").hidden = true;
  // A click, or the view closed meanwhile: nothing to read.
  if (!detail || (Math.abs(x - x0) < 3 && Math.abs(y - y0) < 3)) return;
  const [r0, r1, c0, c1] = detail.view;
  const rowAt = (fraction) => r0 + Math.floor(fraction * (r1 - r0));
  const colAt = (fraction) => c0 + Math.floor(fraction * (c1 - c0));
  const rows = [rowAt(Math.min(y, y0) / box.height), rowAt(Math.max(y, y0) / box.height) + 1];
  const cols = [colAt(Math.min(x, x0) / box.width), colAt(Math.max(x, x0) / box.width) + 1];
  readWindow([Math.max(r0, rows[0]), Math.min(r1, rows[1]),
              Math.max(c0, cols[0]), Math.min(c1, cols[1])]);
});

// Reads the window [r0, r1) x [c0, c1) (with a step that keeps it about the
// size of the heatmap) and draws it in place of the heatmap.
async function readWindow(view) {
  const [r0, r1, c0, c1] = view;
  const rowStep = Math.max(1, Math.ceil((r1 - r0) / DETAIL_SHAPE[0]));
  const colStep = Math.max(1, Math.ceil((c1 - c0) / DETAIL_SHAPE[1]));
  const slice = `${r0}:${r1}:${rowStep},${c0}:${c1}:${colStep}`;
  const shown = detail;
  let window;
  try {
    window = await (await api(
        `/v1/matrices/${encodeURIComponent(shown.name)}/data?slice=${slice}` +
        `&format=json&dtype=float64`)).json();
  } catch (error) {
    if (detail === shown) $("window-info").textContent = error.message;
    return;
  }
  if (detail !== shown) return;  // closed or another one opened meanwhile
  detail.view = view;
  detail.zoomed = true;
  $("window-info").textContent =
      `rows ${r0}–${r1 - 1}, columns ${c0}–${c1 - 1}` +
      (rowStep > 1 || colStep > 1 ? ` (one row in ${rowStep}, one column in ${colStep})` : "");
  draw(window.data);
}

function draw(values) {
  const rows = values.length, cols = rows ? values[0].length : 0;
  const canvas = $("window-canvas");
  canvas.width = Math.max(cols, 1);
  canvas.height = Math.max(rows, 1);
  // A loop, not Math.min(...values): a window has up to 240,000 of them,
  // more arguments than a call takes.
  let low = Infinity, high = -Infinity;
  for (const line of values) {
    for (const value of line) {
      if (value === null) continue;
      if (value < low) low = value;
      if (value > high) high = value;
    }
  }
  const image = canvas.getContext("2d").createImageData(canvas.width, canvas.height);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const value = values[i][j];
      const at = 4 * (i * cols + j);
      if (value === null) continue;  // NaN or infinite: transparent
      const index = high > low ? Math.round((value - low) / (high - low) * 255) : 0;
      const [r, g, b] = colormap[index];
      image.data.set([r, g, b, 255], at);
    }
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
  canvas.hidden = false;
  $("heatmap").hidden = true;
}

// ---- live updates: server-sent events read with fetch, so that the
// token can be sent

function live(on) {
  $("live").classList.toggle("off", !on);
}

let statsSoon = null;

function onEvent(kind, data) {
  const change = JSON.parse(data);
  if (kind === "put") {
    matrices.set(change.name, change.info);
  } else if (kind === "delete") {
    matrices.delete(change.name);
  } else {
    return;
  }
  render(change.name);
  if (detail && detail.name === change.name) {
    if (kind === "delete") {
      $("detail-info").textContent = "deleted";
    } else if (detail.zoomed && change.info.shape.length === 2) {
      // The same window of the new version, as far as it still goes.
      const [r0, r1, c0, c1] = detail.view;
      const [rows, cols] = change.info.shape;
      detail.info = change.info;
      $("detail-info").textContent = describe(change.info);
      if (r0 < rows && c0 < cols) {
        readWindow([r0, Math.min(r1, rows), c0, Math.min(c1, cols)]);
      } else {
        openDetail(change.name);
      }
    } else {
      openDetail(change.name);
    }
  }
  // The summary too, once a burst of changes is over.
  clearTimeout(statsSoon);
  statsSoon = setTimeout(() => loadStats().catch(() => {}), 300);
}

let watching = false;

async function watchEvents() {
  if (watching) return;
  watching = true;
  for (;;) {
    let response = null;
    try {
      response = await api("/v1/events");
      live(true);
      // Watching from here on: the list read now misses nothing that the
      // events do not bring after it.
      await loadMatrices();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      response = null;  // the reader's now
      let buffer = "", kind = "message", data = [];
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, end).replace(/\r$/, "");
          buffer = buffer.slice(end + 1);
          if (line === "") {
            if (data.length) onEvent(kind, data.join("\n"));
            kind = "message";
            data = [];
          } else if (line.startsWith("event:")) {
            kind = line.slice(6).trim();
          } else if (line.startsWith("data:")) {
            data.push(line.slice(5).trimStart());
          }
        }
      }
    } catch (error) {
      if (response) response.body.cancel().catch(() => {});
      if (error instanceof NeedsToken) break;
      // No events for now: the table as it is, at least.
      try { await loadMatrices(); } catch (error) {}
    }
    live(false);
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
  live(false);
  watching = false;
}

// ---- start

let statsTimer = null;

async function start() {
  try {
    await loadStats();
    colormap = colormap || await (await api("/status/viridis.json")).json();
  } catch (error) {
    if (!(error instanceof NeedsToken)) $("token-error").textContent = error.message;
    return;
  }
  if (statsTimer === null) {
    statsTimer = setInterval(() => loadStats().catch(() => {}), STATS_PERIOD_MS);
  }
  watchEvents();  // lists the matrices once it watches their changes
}

start();
