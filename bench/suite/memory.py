"""Resident memory of a process, read from /proc, once or sampled over time."""

import threading
import time

FIELDS = ("VmRSS", "RssAnon", "RssShmem")


def resident_mib(pid):
    """{"VmRSS", "RssAnon", "RssShmem"} of process `pid`, in MiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in FIELDS:
                fields[key] = int(value.split()[0]) / 1024
    return fields


class Sampler:
    """Samples resident_mib(pid) every `interval` seconds on a thread while
    used as a context manager. `samples` is a list of (seconds since start,
    fields); `peak(field)` the largest value of a field."""

    def __init__(self, pid, interval):
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = None
        self.samples = []

    def _sample(self):
        self.samples.append((time.monotonic() - self._start,
                             resident_mib(self._pid)))

    def _run(self):
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self):
        self._start = time.monotonic()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self._sample()

    def peak(self, field):
        return max(fields[field] for _, fields in self.samples)

    def first(self, field):
        return self.samples[0][1][field]
