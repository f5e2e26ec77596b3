"""Measurements: repeated values of one quantity, and how to take them."""

import dataclasses
import os
import statistics
import time

import numpy as np


# The subject of the machine's 1-minute load average, taken at the start
# and the end of each family (metric "start", "end").
LOAD_AVERAGE = "load average (1 min)"


# The subject of the free memory this virtual machine's kernel has handed
# back to its host so far (virtio free page reporting), in KiB, taken with
# the load average where the kernel tells it: memory handed back is
# faulted in again from the host by whatever allocates it next, at many
# times the cost of a page the guest kept.
MEMORY_RETURNED = "memory returned to the host (KiB)"
REPORTED_KIB = "/sys/module/page_reporting/parameters/reported_kib"

# Subjects that describe the machine during a family, not what it measured.
MACHINE_STATE = (LOAD_AVERAGE, MEMORY_RETURNED)


def load_average(family, moment):
    """The Measurement of the load average now, at `moment` of `family`."""
    return Measurement(family, LOAD_AVERAGE, moment, "",
                       values=[os.getloadavg()[0]])


def memory_returned(family, moment):
    """The Measurement of MEMORY_RETURNED now, at `moment` of `family`;
    None if this kernel does not count it."""
    try:
        with open(REPORTED_KIB) as counter:
            kib = int(counter.read())
    except (OSError, ValueError):
        return None
    return Measurement(family, MEMORY_RETURNED, moment, "KiB", values=[kib])


@dataclasses.dataclass
class Measurement:
    """Repeated values of `metric` (in `unit`) for `subject`, e.g. the put
    time in ms of "matcache local (/dev/shm)" at `size` bytes (0 when the
    quantity has no size). When it could not be measured, `values` is empty
    and `skipped` says why in words a reader of the report understands."""

    family: str
    subject: str
    metric: str
    unit: str
    size: int = 0
    values: list = dataclasses.field(default_factory=list)
    skipped: str = ""

    @property
    def median(self):
        return statistics.median(self.values)

    def percentile(self, q):
        """The q-th percentile (0-100) of the values, linear interpolation."""
        return float(np.percentile(self.values, q))

    def summary(self):
        """"median (min-max)" with digits that fit the magnitude, or the
        reason it was skipped."""
        if self.skipped:
            return self.skipped
        if len(self.values) == 1:
            return f"{number(self.median)} {self.unit}"
        return (f"{number(self.median)} {self.unit} "
                f"({number(min(self.values))}–{number(max(self.values))})")


def number(value):
    """`value` with about three significant digits, no exponent."""
    magnitude = abs(value)
    if magnitude >= 100 or magnitude == 0:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def size_label(nbytes):
    """"64 MiB", "1 GiB", "1.5 GiB", "16 MiB" for 15.997 MiB, "1 GiB" for
    1023.9 MiB."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        value = nbytes / (1 << shift)
        if value >= 0.995:
            return f"{value:.3g} {unit}"
    return f"{nbytes} B"


def turn_order(items, round_):
    """The order of `items` in round `round_` (from 0) of runs taken in
    turn: A B C, then C B A, and so on. Each item then follows a different
    neighbour from one round to the next, so what a run leaves behind
    (memory the machine must back again, a cache, background work) does not
    always fall on the same item, and a drift over the rounds weighs on
    every item alike."""
    items = list(items)
    return items if round_ % 2 == 0 else items[::-1]


def time_ms(action):
    """Runs `action()` once; returns (wall time in ms, its result)."""
    start = time.perf_counter()
    result = action()
    return (time.perf_counter() - start) * 1e3, result


def repeat_ms(action, count):
    """Wall times in ms of `count` calls of `action()`."""
    return [time_ms(action)[0] for _ in range(count)]
