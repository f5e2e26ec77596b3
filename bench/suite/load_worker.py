"""One dashboard process of the load test: a loop of a realistic call mix
against one server until its time is up. Run by load_test in a process of
its own (spawned, so gRPC starts fresh)."""

import dataclasses
import random
import time

import numpy as np

import matcache

# Relative weights of the calls a dashboard makes: mostly gets and windows.
MIX = {"get": 50, "window": 30, "preview": 4, "info": 6, "list": 3,
       "replace": 2, "put": 3, "delete": 2}
MAX_ERROR_MESSAGES = 5
# Scratch matrices a worker keeps at most: a put beyond replaces one, so the
# data stored stays bounded however long the test runs.
MAX_SCRATCH = 3


@dataclasses.dataclass(frozen=True)
class Plan:
    """What every worker does: `address` to call, `shared` matrix names
    (squares of `side`, every element equal, replaced by any worker, never
    deleted), `window` side of window reads, `scratch_side` of the matrices
    each worker puts and deletes under its own names, and `seconds` to
    run."""

    address: str
    shared: tuple
    side: int
    window: int
    scratch_side: int
    seconds: float


class _Dashboard:
    """The calls of one worker. Each returns nothing and raises on a wrong
    answer. Every element of a version of a shared matrix is its version
    tag (0 at first, worker + 1 for a worker's replaces), so every row read
    must hold one tag throughout, the same in all the rows of one answer: a
    torn replace would mix two versions' rows or elements."""

    def __init__(self, plan, worker, client, rng):
        self.plan, self.client, self.rng = plan, client, rng
        self.prefix = f"load.scratch.{worker}."
        self.replacement = np.full((plan.side, plan.side), float(worker + 1))
        self.scratch = np.full((plan.scratch_side,) * 2, float(worker + 1))
        self.own = []

    def _shared(self):
        return self.rng.choice(self.plan.shared)

    @staticmethod
    def _check_rows(rows, what):
        """Raises unless every element of the 2-D `rows` is one version's
        tag."""
        tag = rows.flat[0]
        mixed = np.flatnonzero((rows != tag).any(axis=1))
        if mixed.size:
            row = rows[mixed[0]]
            raise AssertionError(
                f"{what} mixes versions: row {mixed[0]} of {len(rows)} holds "
                f"{sorted(set(np.unique(row).tolist()))[:3]}, row 0 {tag}")

    def get(self):
        array = self.client.get(self._shared())
        # The rows a dashboard shows: the first, the last, and one at random.
        self._check_rows(
            array[[0, self.rng.randrange(self.plan.side), -1]], "a get")

    def window(self):
        start = [self.rng.randrange(self.plan.side - self.plan.window + 1)
                 for _ in range(2)]
        window = self.client.read(self._shared(), np.s_[
            start[0]:start[0] + self.plan.window,
            start[1]:start[1] + self.plan.window])
        self._check_rows(window, "a window")

    def preview(self):
        self._check_rows(
            self.client.preview(self._shared(), (100, 100), "mean"),
            "a preview")

    def info(self):
        self.client.info(self._shared())

    def list(self):
        if len(self.client.list("load.shared.")) != len(self.plan.shared):
            raise AssertionError("list lost a shared matrix")

    def replace(self):
        self.client.put(self._shared(), self.replacement)

    def put(self):
        if len(self.own) < MAX_SCRATCH:
            name = f"{self.prefix}{len(self.own)}"
            self.client.put(name, self.scratch)
            self.own.append(name)
        else:
            self.client.put(self.rng.choice(self.own), self.scratch)

    def delete(self):
        self.client.delete(self.own.pop())

    def actual(self, call):
        """The call that `call` makes now: a delete with nothing of its own
        to delete puts instead (and is timed as a put)."""
        return "put" if call == "delete" and not self.own else call

    def clean_up(self):
        for name in self.own:
            self.client.delete(name)


def work(plan, worker, ready, go, results):
    """Prepares, puts `worker` on the queue `ready`, waits for the event
    `go`, runs the mix for plan.seconds, deletes its scratch matrices and
    puts its result dict on `results`: worker, latencies {call: [ms]},
    errors (count) and error_messages (the first few). Whatever fails, it
    reports ready and a result, so the test never waits for a dead worker."""
    rng = random.Random(worker)
    calls, weights = zip(*MIX.items())
    latencies = {call: [] for call in calls}
    errors, messages = 0, []
    reported_ready = False

    def failed(what, error):
        nonlocal errors
        errors += 1
        if len(messages) < MAX_ERROR_MESSAGES:
            messages.append(f"{what}: {type(error).__name__}: {error}")

    try:
        with matcache.Client(plan.address, timeout=60) as client:
            dashboard = _Dashboard(plan, worker, client, rng)
            client.info(plan.shared[0])  # connected before the clock starts
            ready.put(worker)
            reported_ready = True
            go.wait()
            deadline = time.monotonic() + plan.seconds
            while time.monotonic() < deadline:
                call = dashboard.actual(rng.choices(calls, weights)[0])
                start = time.perf_counter()
                try:
                    getattr(dashboard, call)()
                except Exception as e:  # every failure counts, none stops us
                    failed(call, e)
                    continue
                latencies[call].append((time.perf_counter() - start) * 1e3)
            dashboard.clean_up()
    except Exception as e:
        failed("worker", e)
    finally:
        if not reported_ready:
            ready.put(worker)
        results.put({"worker": worker, "latencies": latencies,
                     "errors": errors, "error_messages": messages})
