"""The performance targets matcache was built to, each checked against the
run's measurements and reported as met or NOT MET with the measured value
and its ratio to the target. Reported, never asserted: machines are noisy."""

import dataclasses

from suite import (capacity, catalogue_scale, http, peers, put_get, remote,
                   watch)
from suite.samples import number, size_label
from suite.scale import GIB


@dataclasses.dataclass
class Target:
    """`label` asks for `value` (in `unit`) to be at most `limit`, or at
    least it when `at_least`; `size` is the matrix size it was measured at
    and `meant_for` the size the target is stated for (0: any). For a ratio
    of two peers' times, `fastest` is the same ratio of their fastest runs:
    what the code can do once the machine's noise, which only ever slows a
    run, is left out (the verdict stays the medians'). `skipped` says why it
    could not be checked."""

    label: str
    limit: float
    unit: str
    at_least: bool
    meant_for: int = 0
    value: float = None
    size: int = 0
    fastest: float = None
    skipped: str = ""

    @property
    def met(self):
        if self.skipped:
            return None
        return self.value >= self.limit if self.at_least \
            else self.value <= self.limit

    @property
    def verdict(self):
        return {True: "met", False: "NOT MET", None: "skipped"}[self.met]

    @property
    def ratio(self):
        """Measured value divided by the target."""
        return self.value / self.limit

    def measured(self):
        """The value, its ratio to the target and the size it was measured
        at when that is not the size the target is meant for."""
        if self.skipped:
            return self.skipped
        unit = self.unit if self.unit == "×" else f" {self.unit}"
        text = f"{_apart_from(self.value, self.limit, number(self.value))}" \
               f"{unit} ({_apart_from(self.ratio, 1, f'{self.ratio:.2f}')}× " \
               f"the {'target' if self.at_least else 'limit'})"
        if self.meant_for and self.size and self.size < self.meant_for:
            text += f", at {size_label(self.size)}"
        if self.fastest is not None:
            text += f"; fastest runs {self.fastest:.2f}×"
        return text

    def line(self):
        """One console line: verdict, label, measurement."""
        return f"{self.verdict:<8} {self.label}: {self.measured()}"


def _apart_from(value, limit, text):
    """`text`, the rounded `value`, with as many more decimals as it takes
    not to read as `limit` when it is not (a miss must not look met)."""
    decimals = len(text.partition(".")[2])
    while float(text) == limit and value != limit and decimals < 9:
        decimals += 1
        text = f"{value:.{decimals}f}"
    return text


def _find(measurements, family, subject, size=None):
    """The measurement of `subject` in `family` (at `size`, if given), or
    None."""
    for m in measurements:
        if m.family == family and m.subject == subject and \
                (size is None or m.size == size):
            return m
    return None


def _nearest(sizes, wanted):
    return min(sizes, key=lambda size: abs(size - wanted))


def _from(target, measurement, value=None):
    """Fills `target` from `measurement` (median unless `value` given)."""
    if measurement is None:
        target.skipped = "skipped: not measured in this run"
    elif measurement.skipped:
        target.skipped = measurement.skipped
    else:
        target.value = measurement.median if value is None else value
        target.size = measurement.size
    return target


def _time_ratio(target, slower, faster):
    """Fills `target` with `slower`'s time over `faster`'s, medians (and
    fastest runs); skipped if either was not measured."""
    if slower is None or slower.skipped:
        return _from(target, slower)
    if faster is None or faster.skipped:
        return _from(target, faster)
    target.fastest = min(slower.values) / min(faster.values)
    return _from(target, slower, slower.median / faster.median)


def _put_speedup(label, limit, measurements, subject, size):
    ours = _find(measurements, put_get.FAMILY, subject, size)
    hack = _find(measurements, put_get.FAMILY, peers.HACK_PUT, size)
    target = Target(label, limit, "×", True, GIB)
    return _time_ratio(target, hack, ours)


def _put_over_np_save(measurements, size):
    """The local put's time on /dev/shm over np.save's of the same vector,
    timed among its."""
    ours = _find(measurements, put_get.FAMILY, peers.LOCAL_SHM, size)
    numpy_save = _find(measurements, put_get.FAMILY, peers.NP_SAVE, size)
    return _time_ratio(Target("local put of 1 GiB on /dev/shm ≤ 1.0× "
                              "np.save's time (same run)", 1.0, "×", False,
                              GIB), ours, numpy_save)


def _local_get(measurements):
    """Worst local get p50 over sizes and shm directories."""
    target = Target("local get (Info + map) p50 ≤ 0.5 ms at any size", 0.5,
                    "ms", False)
    gets = [m for m in measurements
            if m.family == put_get.FAMILY and m.metric == put_get.GET
            and m.subject in (peers.LOCAL_SHM, peers.LOCAL_HUGE)
            and not m.skipped]
    return _from(target, max(gets, key=lambda m: m.median, default=None))


def _server_load(label, limit, measurements, subject, size,
                 meant_for=GIB):
    """eager Load's time over np.load's of the same file, timed among its."""
    ours = _find(measurements, put_get.FAMILY, subject, size)
    numpy_load = _find(measurements, put_get.FAMILY, peers.NP_LOAD_SOURCE,
                       size)
    return _time_ratio(Target(label, limit, "×", False, meant_for), ours,
                       numpy_load)


def _slowest_preview(measurements):
    previews = [m for m in measurements
                if m.family == remote.FAMILY and m.metric == "preview"]
    return max(previews, key=lambda m: m.median, default=None)


def _http_over_grpc(measurements):
    """The HTTP read into Python over the gRPC one, measured alternately."""
    over_http = _find(measurements, http.FAMILY, http.PYTHON_HTTP)
    over_grpc = _find(measurements, http.FAMILY, http.PYTHON_GRPC)
    target = Target("full read into Python over HTTP ≥ 1.5× the gRPC read "
                    "(same run)", 1.5, "×", True, GIB)
    if over_http is None or over_http.skipped:
        return _from(target, over_http)
    return _from(target, over_http, over_http.median / over_grpc.median)


def _metrics_scrape(measurements):
    scrapes = [m for m in measurements if m.family == http.FAMILY
               and m.subject.startswith(http.METRICS)]
    target = Target("/metrics with 10,000 matrices p50 ≤ 20 ms", 20.0, "ms",
                    False)
    target = _from(target, scrapes[0] if scrapes else None)
    if scrapes and not target.skipped and "10000 matrices" not in \
            scrapes[0].subject:
        target.skipped = f"skipped: measured as \"{scrapes[0].subject}\" " \
            f"({number(target.value)} ms)"
    return target


def _watch_latency(measurements):
    return _from(Target("put → event for a watcher in another process p50 "
                        "≤ 1 ms (from the put's return)", 1.0, "ms", False),
                 _find(measurements, watch.FAMILY, watch.LATENCY))


def _idle_watchers(measurements):
    """Puts with 100 idle watchers over puts with none, medians."""
    idle = _find(measurements, watch.FAMILY, watch.IDLE_WATCHERS)
    none = _find(measurements, watch.FAMILY, watch.NO_WATCHERS)
    target = Target("put with 100 idle watchers ≤ 5% slower than with none",
                    1.05, "×", False)
    if idle is None or idle.skipped:
        return _from(target, idle)
    return _from(target, idle, idle.median / none.median)


def _info_capacity(measurements):
    rates = [m for m in measurements if m.family == capacity.FAMILY
             and m.subject == capacity.INFO and m.metric == capacity.RATE]
    return _from(Target("Info/s on the server's one core ≥ 20,000", 20000.0,
                        "calls/s", True), rates[0] if rates else None)


def check(measurements, sizes):
    """Every target, checked against `measurements` of a run whose
    put/get sizes were `sizes`."""
    one_gib = _nearest(sizes, GIB)
    return [
        _local_get(measurements),
        _put_speedup("local put of 1 GiB ≥ 1.5× faster than the hack's, "
                     "/dev/shm", 1.5, measurements, peers.LOCAL_SHM,
                     one_gib),
        _put_speedup("local put of 1 GiB ≥ 4× faster than the hack's, "
                     "huge-page tmpfs", 4.0, measurements,
                     peers.LOCAL_HUGE, one_gib),
        _from(Target("remote full read of 1 GiB into Python ≥ 1.0 GB/s", 1.0,
                     "GB/s", True, GIB),
              _find(measurements, remote.FAMILY, remote.PYTHON)),
        _from(Target("remote full read of 1 GiB into C++ ≥ 2.0 GB/s", 2.0,
                     "GB/s", True, GIB),
              _find(measurements, remote.FAMILY, remote.CPP)),
        _from(Target("1000×1000 window of a ≥ 4 GiB matrix p50 ≤ 20 ms", 20.0,
                     "ms", False, 4 * GIB),
              _find(measurements, remote.FAMILY, remote.WINDOW)),
        _from(Target("preview of a ≥ 4 GiB matrix to 1000×1000 ≤ 1 s "
                     "(slowest method)", 1000.0, "ms", False, 4 * GIB),
              _slowest_preview(measurements)),
        _from(Target("server RSS growth streaming 4 GiB to a slow reader "
                     "≤ 64 MiB", 64.0, "MiB", False, 4 * GIB),
              _find(measurements, remote.FAMILY, remote.RSS_GROWTH)),
        _put_over_np_save(measurements, one_gib),
        _server_load("eager Load of a 1 GiB .npy ≤ 1.2× np.load's time, "
                     "/dev/shm", 1.2, measurements, peers.LOAD_SHM, one_gib),
        _server_load("eager Load of a 1 GiB .npy ≤ 1.0× np.load's time, "
                     "huge-page tmpfs", 1.0, measurements, peers.LOAD_HUGE,
                     one_gib),
        _server_load("eager Load of a 4 GiB .npy ≤ 1.2× np.load's time, "
                     "/dev/shm", 1.2, measurements, peers.LOAD_SHM, 4 * GIB,
                     4 * GIB),
        _server_load("eager Load of a 4 GiB .npy ≤ 1.0× np.load's time, "
                     "huge-page tmpfs", 1.0, measurements, peers.LOAD_HUGE,
                     4 * GIB, 4 * GIB),
        _from(Target("full read of 1 GiB into Python over HTTP ≥ 2.0 GB/s",
                     2.0, "GB/s", True, GIB),
              _find(measurements, http.FAMILY, http.PYTHON_HTTP)),
        _http_over_grpc(measurements),
        _from(Target("1000×1000 window over HTTP of a ≥ 4 GiB matrix p50 "
                     "≤ 20 ms", 20.0, "ms", False, 4 * GIB),
              _find(measurements, http.FAMILY, http.WINDOW)),
        _from(Target("preview.png of a ≥ 4 GiB matrix to 1000×1000 ≤ 1 s",
                     1000.0, "ms", False, 4 * GIB),
              _find(measurements, http.FAMILY, http.PREVIEW_PNG)),
        _metrics_scrape(measurements),
        _watch_latency(measurements),
        _idle_watchers(measurements),
        _info_capacity(measurements),
        *_scale(measurements),
    ]


def _scale(measurements):
    """The scale family's targets, stated for 100,000 matrices: ratios to
    the same figure with a few matrices, and absolute limits."""
    many = [m for m in measurements if m.family == catalogue_scale.FAMILY
            and m.subject.endswith(" matrices")
            and not m.subject.endswith(catalogue_scale.held(catalogue_scale.FEW))]
    count = int(many[0].subject.rsplit(", ", 1)[1].split()[0]) if many else 0
    held = catalogue_scale.held(count)
    few = catalogue_scale.held(catalogue_scale.FEW)

    def find(subject):
        return _find(measurements, catalogue_scale.FAMILY, subject)

    def label(text):
        shown = f"{count:,}" if count else "100,000"
        return text.format(held=f"{shown} matrices")

    def against_few(text, figure):
        target = Target(label(text), 1.2, "×", False)
        ours = find(f"{figure}, {held}")
        if ours is None or ours.skipped:
            return _from(target, ours)
        return _from(target, ours, ours.median / find(f"{figure}, {few}").median)

    return [
        against_few("Info p50 with {held} ≤ 1.2× its value with 10",
                    catalogue_scale.INFO),
        against_few("put with {held} ≤ 1.2× its time with 10",
                    catalogue_scale.PUT),
        _from(Target(label("server memory per matrix with {held} ≤ 2 KiB"),
                     2048.0, "B", False), find(catalogue_scale.PER_MATRIX)),
        _from(Target(label("restart recovering {held} ≤ 5 s"), 5.0, "s",
                     False), find(f"{catalogue_scale.RESTART}, {held}")),
        _from(Target(label("/metrics with {held} p50 ≤ 20 ms"), 20.0, "ms",
                     False), find(f"{catalogue_scale.METRICS}, {held}")),
    ]
