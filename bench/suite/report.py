"""report.md: every figure of a run as Markdown tables, with the targets
first and the plots embedded (PNG files beside it, from suite.plots)."""

import collections

from suite import (capacity, catalogue_scale, fresh_pass, http, put_get,
                   remote, round_trip, watch)
from suite.samples import (LOAD_AVERAGE, MACHINE_STATE, MEMORY_RETURNED,
                           number, size_label)

FLAT_MIB = 32
PLOTS = {"put_get": "put_get.png", "fresh_pass": "fresh_pass.png",
         "remote_read": "remote_read.png", "latency": "latency.png",
         "load": "load.png", "capacity": "capacity.png", "scale": "scale.png"}


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def _table(header, rows):
    return [_row(header), _row(["---"] * len(header))] + \
        [_row(row) for row in rows]


def _by_size(measurements, family, metric_title):
    """A table of one family: a row per (metric, subject), a column per
    size, "median (min–max)" in each cell."""
    chosen = [m for m in measurements if m.family == family]
    if not chosen:
        return []
    sizes = sorted({m.size for m in chosen})
    cells = collections.defaultdict(dict)
    for m in chosen:
        cells[m.metric, m.subject][m.size] = m
    metrics = list(dict.fromkeys(metric for metric, _ in cells))
    table = _table([""] + [size_label(size) for size in sizes], [])
    for metric in metrics:
        if len(metrics) > 1:
            table.append(_row([f"**{metric_title.get(metric, metric)}**"]
                              + [""] * len(sizes)))
        for (row_metric, subject), row in cells.items():
            if row_metric == metric:
                table.append(_row([subject] + [
                    row[size].summary() if size in row else "–"
                    for size in sizes]))
    return table


def _latencies(measurements):
    rows = []
    for m in measurements:
        if m.family not in (remote.FAMILY, round_trip.FAMILY) or \
                m.unit != "ms":
            continue
        size = size_label(m.size) if m.size else "–"
        if m.skipped:
            rows.append([m.subject, size, m.skipped, "", "", ""])
            continue
        rows.append([m.subject, size, str(len(m.values)),
                     number(m.percentile(50)), number(m.percentile(90)),
                     number(m.percentile(99))])
    return _table(["ms", "matrix", "calls", "p50", "p90", "p99"], rows)


def _full_reads(measurements):
    rows = [[m.subject, size_label(m.size), m.summary()]
            for m in measurements
            if m.family == remote.FAMILY and m.unit in ("GB/s", "MiB")]
    return _table(["", "size", "median (min–max)"], rows)


def _summaries(measurements, family):
    """A row per measurement of `family`: median (min–max), and p99 for
    latencies."""
    rows = []
    for m in measurements:
        if m.family != family:
            continue
        size = size_label(m.size) if m.size else "–"
        p99 = number(m.percentile(99)) if m.unit == "ms" and m.values else ""
        rows.append([m.subject, size, m.summary(), p99])
    return _table(["", "matrix", "median (min–max)", "p99"], rows)


def _capacity(measurements):
    """A row per kind of call, a column per figure (median and range of
    the runs), and the load average before and after."""
    chosen = [m for m in measurements if m.family == capacity.FAMILY]
    figures = {(m.subject, m.metric): m for m in chosen}

    def cell(m):
        if len(m.values) == 1:
            return number(m.median)
        return (f"{number(m.median)} ({number(min(m.values))}–"
                f"{number(max(m.values))})")
    rows = [[subject] + [cell(figures[subject, metric])
                         for metric in capacity.METRICS]
            for subject in dict.fromkeys(m.subject for m in chosen)]
    return _table(["call", *capacity.METRICS], rows)


def _machine_load(loads, returned):
    """A row per family: the load average at its start and its end, and the
    GiB of memory returned to the host between them if that was measured."""
    by_family = collections.defaultdict(dict)
    for m in loads:
        by_family[m.family][m.metric] = number(m.median)
    header = ["family", "start", "end"]
    if returned:
        header.append("returned to the host (GiB)")
        counted = collections.defaultdict(dict)
        for m in returned:
            counted[m.family][m.metric] = m.median
        for family, moments in counted.items():
            if "start" in moments and "end" in moments:
                by_family[family]["returned"] = number(
                    (moments["end"] - moments["start"]) / (1 << 20))
    return _table(header, [
        [family, moments.get("start", ""), moments.get("end", "")] +
        ([moments.get("returned", "")] if returned else [])
        for family, moments in by_family.items()])


def load_lines(load):
    """The load test's verdict lines (also printed on the console)."""
    memory = load["memory"]
    first, last = memory[0][1], memory[-1][1]
    peak = max(fields["VmRSS"] for _, fields in memory)
    return [
        f"{'met' if load['errors'] == 0 else 'NOT MET':<8} zero errors: "
        f"{load['errors']} errors in "
        f"{sum(len(m.values) for m in load['calls'].values())} calls",
        f"{'met' if load['anon_growth_mib'] <= FLAT_MIB else 'NOT MET':<8} "
        f"server memory flat (peak anonymous memory of the second half of "
        f"the run ≤ {FLAT_MIB} MiB above the first half's): "
        f"{load['anon_growth_mib']:+.1f} MiB; VmRSS, with the segments it "
        f"maps, {first['VmRSS']:.0f} → {last['VmRSS']:.0f} MiB, peak "
        f"{peak:.0f} MiB",
        f"{'met' if not load['leaked'] else 'NOT MET':<8} no segment left "
        f"after the last delete: {len(load['leaked'])} left",
    ]


def _load_section(load):
    rows = []
    for call, m in load["calls"].items():
        if m.skipped:
            rows.append([call, "0", "", "", ""])
            continue
        rows.append([call, str(len(m.values)),
                     number(len(m.values) / load["seconds"]),
                     number(m.percentile(50)), number(m.percentile(99))])
    lines = [
        f"{load['clients']} client processes for {load['seconds']:g} s "
        f"against one server pinned to CPUs {load['cpus']} (the clients "
        f"share the same cores): **{number(load['throughput'])} calls/s**.",
        "",
    ] + _table(["call", "calls", "calls/s", "p50 ms", "p99 ms"], rows) + [""]
    lines += [f"- {line}" for line in load_lines(load)]
    if load["error_messages"]:
        lines += ["", "First errors:", ""] + \
            [f"- `{message}`" for message in load["error_messages"]]
    return lines + ["", f"![load test]({PLOTS['load']})"]


def write(path, command, machine, scale, measurements, targets, load):
    """Writes report.md to `path`. `load` may be None (not run)."""
    loads = [m for m in measurements if m.subject == LOAD_AVERAGE]
    returned = [m for m in measurements if m.subject == MEMORY_RETURNED]
    measurements = [m for m in measurements
                    if m.subject not in MACHINE_STATE]
    lines = [
        "# matcache benchmark report", "",
        f"`{command}` ({scale.name} scale) on {machine}.", "",
        "Medians and (min–max) over repeated runs of the same process. "
        "Figures vary between runs on a shared machine; compare figures of "
        "one run with each other.", "",
        "## Targets", "",
    ] + _table(["target", "measured", "verdict"],
               [[t.label, t.measured(), f"**{t.verdict}**"
                 if t.met is False else t.verdict] for t in targets])
    if loads:
        lines += ["", "## Machine load", "",
                  "The 1-minute load average as each family began and "
                  "ended: above the number of CPUs, something else ran "
                  "too and the family's figures are suspect.", ""]
        if returned:
            lines += ["The free memory this VM's kernel handed back to its "
                      "host meanwhile (virtio free page reporting): "
                      "whatever allocates memory after it has been handed "
                      "back waits for the host to fault it in again, at "
                      "many times the cost, so the figures of a family "
                      "that returned much vary the most.", ""]
        lines += _machine_load(loads, returned)
    put_get_table = _by_size(measurements, put_get.FAMILY, {
        put_get.PUT: "put (ms)", put_get.GET: "get, to a usable array (ms)"})
    if put_get_table:
        lines += ["", "## Put and get", "",
                  "float64 vectors; every peer in the same run.", ""] + \
            put_get_table + ["", f"![put and get]({PLOTS['put_get']})"]
    pass_table = _by_size(measurements, fresh_pass.FAMILY, {})
    if pass_table:
        lines += ["", "## First full pass over a fresh get, in a new process",
                  "", "ms to sum every element once.", ""] + pass_table + \
            ["", f"![fresh pass]({PLOTS['fresh_pass']})"]
    if any(m.family == remote.FAMILY for m in measurements):
        lines += ["", "## Remote reads over loopback TCP", ""] + \
            _full_reads(measurements) + \
            ["", f"![remote reads]({PLOTS['remote_read']})"]
    if any(m.family in (remote.FAMILY, round_trip.FAMILY) and m.unit == "ms"
           for m in measurements):
        lines += ["", "## Latencies", ""] + _latencies(measurements) + \
            ["", f"![latencies]({PLOTS['latency']})"]
    if any(m.family == http.FAMILY for m in measurements):
        lines += ["", "## HTTP gateway", "",
                  "Over loopback, in the same run as the gRPC read it is "
                  "compared with.", ""] + _summaries(measurements, http.FAMILY)
    if any(m.family == watch.FAMILY for m in measurements):
        lines += ["", "## Watch", "",
                  "Each put waits for its event before the next; the puts "
                  "with watchers are timed in the same run as those "
                  "without, on a server of their own.", ""] + \
            _summaries(measurements, watch.FAMILY)
    if any(m.family == capacity.FAMILY for m in measurements):
        lines += ["", "## Capacity", "",
                  "bench/load_gen against a server pinned to one CPU, from "
                  "the other; medians (min–max) of the runs.", ""] + \
            _capacity(measurements) + \
            ["", f"![capacity]({PLOTS['capacity']})"]
    if any(m.family == catalogue_scale.FAMILY for m in measurements):
        lines += ["", "## Scale", "",
                  f"A server holding {catalogue_scale.FEW} small matrices "
                  "and one holding many, measured in turn "
                  f"({catalogue_scale.ROUNDS} rounds); the restart "
                  "recovers them all.",
                  ""] + \
            _summaries(measurements, catalogue_scale.FAMILY) + \
            ["", f"![scale]({PLOTS['scale']})"]
    if load is not None:
        lines += ["", "## Load test", ""] + _load_section(load)
    path.write_text("\n".join(lines) + "\n")
