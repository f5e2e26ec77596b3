"""The PNG figures of a run (names in report.PLOTS): medians with min–max
bars, box plots of latencies, the load test's calls and server memory, the
capacity of one server core, and figures with few and many matrices."""

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from suite import (capacity, catalogue_scale, fresh_pass, put_get,  # noqa: E402
                   remote, round_trip, samples)
from suite.report import PLOTS  # noqa: E402
from suite.samples import size_label  # noqa: E402


def _series(measurements, family, metric=None):
    """{subject: [measurement by size]}, measured ones only."""
    series = {}
    for m in measurements:
        if m.family == family and not m.skipped and \
                (metric is None or m.metric == metric):
            series.setdefault(m.subject, []).append(m)
    return series


def _lines_by_size(axes, series, title, unit):
    """One line per subject: median against size, min–max as error bars."""
    for subject, points in series.items():
        points.sort(key=lambda m: m.size)
        sizes = [m.size / (1 << 20) for m in points]
        medians = [m.median for m in points]
        low = [m.median - min(m.values) for m in points]
        high = [max(m.values) - m.median for m in points]
        axes.errorbar(sizes, medians, yerr=[low, high], marker="o",
                      capsize=3, label=subject)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("matrix size (MiB)")
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)


def _save(figure, out_dir, key):
    figure.tight_layout()
    figure.savefig(out_dir / PLOTS[key], dpi=110)
    plt.close(figure)


def _put_get(measurements, out_dir):
    figure, (put_axes, get_axes) = plt.subplots(1, 2, figsize=(13, 5))
    _lines_by_size(put_axes, _series(measurements, put_get.FAMILY,
                                     put_get.PUT), "put", "ms")
    _lines_by_size(get_axes, _series(measurements, put_get.FAMILY,
                                     put_get.GET),
                   "get (time to a usable array)", "ms")
    _save(figure, out_dir, "put_get")


def _fresh_pass(measurements, out_dir):
    figure, axes = plt.subplots(figsize=(7, 5))
    _lines_by_size(axes, _series(measurements, fresh_pass.FAMILY),
                   "first full pass over a fresh get, new process", "ms")
    _save(figure, out_dir, "fresh_pass")


def _bars(axes, chosen, labels, unit, title):
    """One bar per measurement: median, min–max as error bars."""
    axes.bar(labels, [m.median for m in chosen], yerr=[
        [m.median - min(m.values) for m in chosen],
        [max(m.values) - m.median for m in chosen]], capsize=4)
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.grid(True, axis="y", alpha=0.3)
    axes.tick_params(axis="x", labelsize=8)


def _remote_read(measurements, out_dir):
    reads = [m for m in measurements if m.family == remote.FAMILY
             and m.unit == "GB/s" and not m.skipped]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    _bars(axes, reads, [f"{m.subject}\n{size_label(m.size)}" for m in reads],
          "GB/s", "full read over loopback TCP (median, min–max)")
    _save(figure, out_dir, "remote_read")


def _latency(measurements, out_dir):
    chosen = [m for m in measurements
              if m.family in (remote.FAMILY, round_trip.FAMILY)
              and m.unit == "ms" and not m.skipped]
    figure, axes = plt.subplots(figsize=(10, 5))
    axes.boxplot([m.values for m in chosen], whis=(1, 99), showfliers=False)
    axes.set_xticks(range(1, len(chosen) + 1),
                    [m.subject.replace(" (", "\n(") for m in chosen],
                    fontsize=7)
    axes.set_yscale("log")
    axes.set_ylabel("ms (box: quartiles, whiskers: p1–p99)")
    axes.set_title("latency: windows and previews over TCP, Info round trips")
    axes.grid(True, axis="y", which="both", alpha=0.3)
    _save(figure, out_dir, "latency")


def _capacity(measurements, out_dir):
    def chosen(metric):
        return [m for m in measurements if m.family == capacity.FAMILY
                and m.metric == metric and not m.skipped]

    figure, (rate_axes, cpu_axes) = plt.subplots(1, 2, figsize=(13, 4.5))
    def labels(chosen):
        return [textwrap.fill(m.subject, 20) for m in chosen]

    # Log scales: the calls differ by a factor of several hundred.
    rates = chosen(capacity.RATE)
    _bars(rate_axes, rates, labels(rates), "calls/s (log scale)",
          "calls/s, server on one CPU (median, min–max)")
    rate_axes.set_yscale("log")
    cpu = chosen(capacity.SERVER_CPU)
    _bars(cpu_axes, cpu, labels(cpu), "µs (log scale)", "server CPU per call")
    cpu_axes.set_yscale("log")
    _save(figure, out_dir, "capacity")


def _scale(measurements, out_dir):
    """Each figure taken with few and with many matrices, side by side."""
    figures = (catalogue_scale.INFO, catalogue_scale.PUT,
               catalogue_scale.METRICS)
    chosen = {m.subject: m for m in measurements
              if m.family == catalogue_scale.FAMILY and not m.skipped}
    figure, all_axes = plt.subplots(1, len(figures), figsize=(13, 4.5))
    for axes, name in zip(all_axes, figures):
        held = [m for subject, m in chosen.items()
                if subject.startswith(f"{name}, ")]
        held.sort(key=lambda m: int(m.subject.rsplit(", ", 1)[1].split()[0]))
        _bars(axes, held, [m.subject.rsplit(", ", 1)[1] for m in held],
              held[0].unit if held else "", name)
    _save(figure, out_dir, "scale")


def _load(load, out_dir):
    figure, (calls_axes, memory_axes) = plt.subplots(1, 2, figsize=(13, 5))
    calls = [(call, m) for call, m in load["calls"].items() if not m.skipped]
    positions = range(len(calls))
    calls_axes.bar([p - 0.2 for p in positions],
                   [m.percentile(50) for _, m in calls], 0.4, label="p50")
    calls_axes.bar([p + 0.2 for p in positions],
                   [m.percentile(99) for _, m in calls], 0.4, label="p99")
    calls_axes.set_xticks(list(positions),
                          [f"{call}\n{len(m.values)} calls"
                           for call, m in calls], fontsize=8)
    calls_axes.set_yscale("log")
    calls_axes.set_ylabel("ms")
    calls_axes.set_title(f"{load['clients']} clients, {load['seconds']:g} s: "
                         f"{load['throughput']:.0f} calls/s, "
                         f"{load['errors']} errors")
    calls_axes.legend()
    calls_axes.grid(True, axis="y", which="both", alpha=0.3)
    times = [t for t, _ in load["memory"]]
    for field in ("VmRSS", "RssAnon"):
        memory_axes.plot(times, [fields[field] for _, fields in load["memory"]],
                         label=field)
    memory_axes.set_xlabel("s")
    memory_axes.set_ylabel("MiB")
    memory_axes.set_ylim(bottom=0)
    memory_axes.set_title("server memory during the load test")
    memory_axes.legend()
    memory_axes.grid(True, alpha=0.3)
    _save(figure, out_dir, "load")


def write(out_dir, measurements, load):
    """Writes every figure the run has data for into `out_dir`."""
    measurements = [m for m in measurements
                    if m.subject not in samples.MACHINE_STATE]
    if any(m.family == put_get.FAMILY for m in measurements):
        _put_get(measurements, out_dir)
    if any(m.family == fresh_pass.FAMILY for m in measurements):
        _fresh_pass(measurements, out_dir)
    if any(m.family == remote.FAMILY and m.unit == "GB/s"
           for m in measurements):
        _remote_read(measurements, out_dir)
    if any(m.family in (remote.FAMILY, round_trip.FAMILY) and m.unit == "ms"
           for m in measurements):
        _latency(measurements, out_dir)
    if any(m.family == capacity.FAMILY for m in measurements):
        _capacity(measurements, out_dir)
    if any(m.family == catalogue_scale.FAMILY for m in measurements):
        _scale(measurements, out_dir)
    if load is not None:
        _load(load, out_dir)
