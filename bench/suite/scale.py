"""How big and how often: the three scales of a run."""

import dataclasses

MIB = 1 << 20
GIB = 1 << 30


@dataclasses.dataclass(frozen=True)
class Scale:
    """Sizes (bytes) and repetition counts of one run.

    sizes: matrix sizes of put, get and fresh pass (float64 vectors).
    repeat / big_repeat: timed runs per figure, for sizes below / from 2 GiB.
    map_repeat: runs of gets that only map (they take microseconds).
    remote_bytes: the matrix read whole over TCP (Python and C++).
    redis_read_bytes: the value Redis GET streams for its GB/s (within its
        limit, so it can be compared with remote_bytes).
    big_bytes: the square matrix that windows, previews and the slow reader
        read from.
    windows: 1000 x 1000 window reads timed.
    slow_ms: the slow reader's pause per 4 MiB message.
    info_calls: Info round trips timed per transport.
    metrics_matrices: matrices the server holds while /metrics is timed.
    watch_events: put → event latencies timed.
    watch_puts: puts timed per case of the watch family.
    load_*: the load test: client processes, seconds, and the shared
        matrices (load_matrices squares of load_side) and window side.
    scale_matrices: small matrices the scale family stores.
    capacity_*: the capacity family: seconds each load_gen run measures,
        the matrices List lists, and the side of the square float64 matrix
        whose windows (capacity_window square) Read and HTTP fetch.
    huge_tmpfs_bytes: size of the huge-page tmpfs mounted for the run.
    """

    name: str
    sizes: tuple
    repeat: int
    big_repeat: int
    map_repeat: int
    remote_bytes: int
    redis_read_bytes: int
    big_bytes: int
    windows: int
    slow_ms: float
    info_calls: int
    metrics_matrices: int
    watch_events: int
    watch_puts: int
    load_clients: int
    load_seconds: float
    load_matrices: int
    load_side: int
    load_window: int
    scale_matrices: int
    capacity_seconds: float
    capacity_matrices: int
    capacity_side: int
    capacity_window: int
    huge_tmpfs_bytes: int

    def repeat_for(self, size):
        """Timed runs for a matrix of `size` bytes."""
        return self.big_repeat if size >= 2 * GIB else self.repeat


FULL = Scale(
    name="full", sizes=(64 * MIB, GIB, 4 * GIB), repeat=7, big_repeat=5,
    map_repeat=500, remote_bytes=GIB, redis_read_bytes=256 * MIB,
    big_bytes=4 * GIB, windows=200, slow_ms=5.0, info_calls=5000,
    metrics_matrices=10000, watch_events=2000, watch_puts=1000,
    load_clients=16, load_seconds=30.0, load_matrices=6, load_side=3000,
    load_window=500, scale_matrices=100_000, capacity_seconds=10.0,
    capacity_matrices=100, capacity_side=4000, capacity_window=1000, huge_tmpfs_bytes=9 * GIB)

QUICK = Scale(
    name="quick", sizes=(16 * MIB, 256 * MIB, GIB), repeat=3, big_repeat=3,
    map_repeat=100, remote_bytes=256 * MIB, redis_read_bytes=256 * MIB,
    big_bytes=GIB, windows=30, slow_ms=2.0, info_calls=500,
    metrics_matrices=10000, watch_events=500, watch_puts=300,
    load_clients=16, load_seconds=10.0, load_matrices=4, load_side=2000,
    load_window=500, scale_matrices=100_000, capacity_seconds=4.0,
    capacity_matrices=100, capacity_side=2000, capacity_window=1000, huge_tmpfs_bytes=3 * GIB)

SMOKE = Scale(
    name="smoke", sizes=(MIB, 4 * MIB), repeat=2, big_repeat=2,
    map_repeat=10, remote_bytes=4 * MIB, redis_read_bytes=4 * MIB,
    big_bytes=16 * MIB, windows=3, slow_ms=1.0, info_calls=50,
    metrics_matrices=100, watch_events=30, watch_puts=30,
    load_clients=4, load_seconds=3.0, load_matrices=2, load_side=400,
    load_window=100, scale_matrices=300, capacity_seconds=0.3,
    capacity_matrices=10,
    capacity_side=200, capacity_window=100, huge_tmpfs_bytes=64 * MIB)
