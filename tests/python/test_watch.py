"""Watch, wait_for, `matcache watch` and GET /v1/events against real
servers, with the changes made by other processes: order, kinds and
reasons, the initial snapshot, prefixes, the bound of a watcher that stops
reading, cancellation, the read token, the counts, and shutdown."""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import grpc
import numpy as np
import pytest

import matcache
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc
from serverproc import CLI_SCRIPT, run_python

# How long a test waits for something that should come at once, before it
# fails instead of hanging: a guard, never a measure.
HANG_GUARD_SECONDS = 60


def _started(watch):
    """Consumes the snapshot of a watch started with initial=True (which
    shows that the server registered it) and returns its events."""
    snapshot = []
    for event in watch:
        if event.kind == "snapshot_complete":
            return snapshot
        snapshot.append(event)
    raise AssertionError("the watch ended before its snapshot did")


def _in_process(address, code):
    """Runs `code` (with numpy as np, matcache and c, a Client of `address`)
    in another process; returns what it printed."""
    return run_python(
        "import numpy as np, matcache\n"
        "c = matcache.Client()\n" + code, address)


def _until_stats(client, done):
    """Asks Stats until `done(stats)` holds (the server's own state settles
    after the call that changed it returned); returns those stats."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not done(stats := client.stats()):
        assert time.monotonic() < deadline, stats
    return stats


def test_changes_from_another_process_arrive_in_commit_order(client, server, name):
    with client.watch(name, initial=True) as watch:
        assert _started(watch) == []
        _in_process(server.address, f"""
c.put("{name}.a", np.arange(3.0))
c.put("{name}.b", np.zeros((2, 2), np.int32))
c.put("{name}.a", np.arange(4.0))
c.delete("{name}.a")
c.put("elsewhere{name}", np.zeros(1))
c.put("{name}.c", np.zeros(1))
""")
        events = [next(watch) for _ in range(5)]
    assert [(e.kind, e.reason, e.name) for e in events] == [
        ("put", "put", f"{name}.a"), ("put", "put", f"{name}.b"),
        ("put", "put", f"{name}.a"), ("delete", "delete", f"{name}.a"),
        ("put", "put", f"{name}.c")]
    # The replace published a higher generation; the delete removed it.
    assert events[2].generation > events[0].generation
    assert events[3].generation == events[2].generation
    assert events[3].info is None
    assert events[2].info.shape == (4,)
    # What info() says, but for the last access, which info() moves.
    now = client.info(f"{name}.b")
    assert dataclasses.replace(events[1].info, last_access=now.last_access) == now
    sequences = [e.sequence for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == 5


def test_the_snapshot_then_its_marker_then_what_changed_after(client, name):
    a = client.put(f"{name}.a", np.arange(2))
    b = client.put(f"{name}.b", np.arange(3))
    client.put(f"{name}.b", np.arange(4))  # only the newest is in the snapshot
    client.put(f"other{name}", np.arange(5))
    with client.watch(f"{name}.", initial=True) as watch:
        snapshot = _started(watch)
        client.delete(f"{name}.a")
        deleted = next(watch)
    assert [(e.kind, e.reason, e.name) for e in snapshot] == [
        ("put", "snapshot", f"{name}.a"), ("put", "snapshot", f"{name}.b")]
    assert snapshot[0].info.id == a.id
    assert snapshot[1].generation > b.generation
    assert (deleted.kind, deleted.name, deleted.generation) == (
        "delete", f"{name}.a", a.generation)
    assert deleted.sequence > snapshot[0].sequence


def test_a_watch_without_snapshot_tells_only_matching_names(start_server):
    srv = start_server()
    with matcache.Client(srv.address) as c, c.watch("x") as watch:
        # Registered once the server counts it.
        _until_stats(c, lambda s: s.watchers == 1)
        c.put("y", np.zeros(1))
        c.put("x1", np.zeros(1))
        event = next(watch)
    assert (event.kind, event.name) == ("put", "x1")


def test_evictions_and_loads_are_told_with_their_reasons(start_server, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    np.save(data_dir / "src.npy", np.ones(128 * 1024))  # 1 MiB
    srv = start_server("--max_bytes", "2600K", "--spare_bytes", "0",
                       "--data_dir", str(data_dir))
    with matcache.Client(srv.address) as c, c.watch(initial=True) as watch:
        _started(watch)
        _in_process(srv.address, """
c.load("src", "src.npy", eager=True)
c.put("big", np.zeros(128 * 1024))
c.put("bigger", np.zeros(128 * 1024))  # room only without src
""")
        events = [next(watch) for _ in range(4)]
        assert [(e.kind, e.reason, e.name) for e in events] == [
            ("put", "load", "src"), ("put", "put", "big"),
            ("delete", "eviction", "src"), ("put", "put", "bigger")]
        assert events[0].info.source.endswith("src.npy")
        # A lookup reads the source again, once there is room: the budget
        # holds two, and only matrices with a source may be evicted.
        c.delete("big")
        c.info("src")
        more = [next(watch) for _ in range(2)]
    assert [(e.kind, e.reason, e.name) for e in more] == [
        ("delete", "delete", "big"), ("put", "load", "src")]


def test_an_expired_matrix_is_a_delete_for_expiry(start_server):
    # Short leases make the sweeper, which also expires matrices, run often.
    srv = start_server("--lease_seconds", "2")
    with matcache.Client(srv.address) as c, c.watch(initial=True) as watch:
        _started(watch)
        _in_process(srv.address, 'c.put("brief", np.zeros(3), ttl=1)')
        put, expired = next(watch), next(watch)
    assert (put.kind, put.reason, put.name) == ("put", "put", "brief")
    assert put.info.expires is not None
    assert (expired.kind, expired.reason, expired.generation) == (
        "delete", "expiry", put.generation)


def _rss_anon_kib(pid):
    """The private (not shared-memory) resident memory of process `pid`."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/PID/status")


def test_a_watcher_that_never_reads_is_dropped_and_memory_stays_bounded(
        start_server, monkeypatch):
    # In the sanitizer build, ASan would keep freed memory in its quarantine
    # (256 MiB by default), which would count as growth here; other builds
    # ignore the variable.
    monkeypatch.setenv("ASAN_OPTIONS", ":".join(filter(None, [
        os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0"])))
    srv = start_server()
    # A raw channel without BDP probing: the transport then buffers at most
    # its initial flow-control window for a client that does not read, and
    # the server's queue of 1024 events fills soon after.
    channel = grpc.insecure_channel(
        srv.address, options=[("grpc.http2.bdp_probe", 0)])
    stub = pb_grpc.MatrixCacheStub(channel)
    stalled = matcache.Watch(stub.Watch(pb.WatchRequest(initial=True)),
                             srv.address)
    with matcache.Client(srv.address) as c:
        _started(stalled)  # registered; from now on it reads nothing
        _in_process(srv.address, "for i in range(200): c.put('warm', np.zeros(()))")
        before = _rss_anon_kib(srv.process.pid)
        puts = _put_until_dropped(srv.address)
        stats = c.stats()
        assert stats.dropped_watchers == 1, puts
        assert stats.watchers == 0
        assert puts > 1024
        # The server did not keep the events it could not send.
        grown = _rss_anon_kib(srv.process.pid) - before
        assert grown < 16 << 10, f"{grown} KiB more after {puts} puts"
        # What the transport held comes first, then the end: lost events.
        received = 0
        with pytest.raises(matcache.EventsLostError, match="list the matrices"):
            for _ in stalled:
                received += 1
        assert 0 < received < puts
    channel.close()
    with urllib.request.urlopen(f"http://{srv.http_address()}/metrics",
                                timeout=HANG_GUARD_SECONDS) as response:
        text = response.read().decode()
    assert "\nmatcache_watchers_dropped_total 1\n" in text
    assert "\nmatcache_watchers 0\n" in text


def _put_until_dropped(address):
    """Puts from another process until the server has dropped a watcher (a
    few thousand puts at most); returns how many it made."""
    return int(_in_process(address, """
n = 0
while c.stats().dropped_watchers == 0 and n < 50000:
    for _ in range(50):
        c.put("m", np.zeros(()))
    n += 50
print(n)
"""))


def test_an_event_stream_not_read_is_dropped_like_a_watch(start_server):
    srv = start_server()
    # A small receive buffer: the kernel holds little for a client that
    # does not read.
    with _EventStream(srv, "/v1/events?initial=true",
                      receive_buffer=4096) as stream, \
            matcache.Client(srv.address) as c:
        assert stream.next_event()[1] == "snapshot_complete"
        puts = _put_until_dropped(srv.address)
        assert c.stats().dropped_watchers == 1
        received = 0
        while (event := stream.next_event())[1] == "put":
            received += 1
        _, kind, data = event
        assert kind == "error" and data["grpc_code"] == "ABORTED"
        assert "list the matrices again" in data["detail"]
        assert 0 < received < puts, (received, puts)
        with pytest.raises(EOFError):
            stream.next_event()


def test_wait_for_returns_at_once_when_a_newer_generation_exists(client, name):
    put = client.put(name, np.arange(3))
    assert client.wait_for(name).generation == put.generation
    assert client.wait_for(name, newer_than=put.generation - 1).id == put.id


def test_wait_for_returns_the_put_another_thread_makes(start_server):
    srv = start_server()
    published = []

    def put_once_waited_for():
        with matcache.Client(srv.address) as other:
            _until_stats(other, lambda s: s.watchers == 1)
            published.append(other.put("m", np.arange(4)))

    with matcache.Client(srv.address) as c:
        first = c.put("m", np.arange(3))
        thread = threading.Thread(target=put_once_waited_for)
        thread.start()
        info = c.wait_for("m", newer_than=first.generation,
                          timeout=HANG_GUARD_SECONDS)
        thread.join()
    assert info.generation == published[0].generation
    assert info.shape == (4,)


@pytest.mark.parametrize("timeout", [0, -1, 0.001])
def test_wait_for_with_no_time_left_still_returns_the_current_version(
        server, name, timeout):
    with matcache.Client(server.address) as writer:
        put = writer.put(name, np.arange(3))
    # New clients: the snapshot comes on a connection made for the watch.
    for _ in range(20):
        with matcache.Client(server.address) as c:
            assert c.wait_for(name, timeout=timeout).id == put.id
    with matcache.Client(server.address) as c:
        with pytest.raises(matcache.DeadlineExceededError, match=name):
            c.wait_for(name, newer_than=put.generation, timeout=timeout)


def test_wait_for_times_out_with_a_timeout_error(client, name):
    put = client.put(name, np.arange(3))
    with pytest.raises(matcache.DeadlineExceededError) as raised:
        client.wait_for(name, newer_than=put.generation, timeout=0.3)
    assert isinstance(raised.value, TimeoutError)
    assert isinstance(raised.value, matcache.MatcacheError)
    assert name in str(raised.value)
    # Nor does a name that never existed turn up.
    with pytest.raises(TimeoutError):
        client.wait_for(f"{name}-absent", timeout=0.3)


def test_cancel_from_another_thread_ends_the_iterator(start_server):
    srv = start_server()
    client = matcache.Client(srv.address)
    watch = client.watch()
    seen = []
    failures = []

    def consume():
        try:
            seen.extend(watch)
        except Exception as e:  # reported below
            failures.append(e)

    thread = threading.Thread(target=consume)
    thread.start()
    _until_stats(client, lambda s: s.watchers == 1)
    watch.cancel()
    thread.join(HANG_GUARD_SECONDS)
    assert not thread.is_alive()
    assert failures == [] and seen == []
    # The server lets go of it too.
    _until_stats(client, lambda s: s.watchers == 0)
    client.close()


def test_watch_needs_the_read_token(start_server, tmp_path, monkeypatch):
    monkeypatch.delenv("MATCACHE_TOKEN", raising=False)
    tokens = {}
    for kind in ("read", "write"):
        tokens[kind] = f"{kind}-token-{os.getpid()}"
        path = tmp_path / f"{kind}.token"
        path.write_text(tokens[kind])
        path.chmod(0o600)
    srv = start_server("--read_token_file", str(tmp_path / "read.token"),
                       "--write_token_file", str(tmp_path / "write.token"))
    with matcache.Client(srv.address, token="") as anonymous:
        with pytest.raises(matcache.UnauthenticatedError):
            next(anonymous.watch())
    with matcache.Client(srv.address, token="wrong") as wrong:
        with pytest.raises(matcache.PermissionDeniedError):
            next(wrong.watch())
    with matcache.Client(srv.address, token=tokens["read"]) as reader, \
            matcache.Client(srv.address, token=tokens["write"]) as writer:
        with reader.watch(initial=True) as watch:
            _started(watch)
            writer.put("seen", np.zeros(2))
            assert next(watch).name == "seen"
    address = srv.http_address()
    assert _sse_status(address, None) == 401
    assert _sse_status(address, "wrong") == 403
    assert _sse_status(address, tokens["read"]) == 200


def test_stats_count_the_open_watchers(start_server):
    # An event stream waits without polling its connection: the server
    # sees that its client left when a heartbeat fails, here within 2 s.
    srv = start_server("--sse_heartbeat_seconds", "1")
    with matcache.Client(srv.address) as c:
        with c.watch(initial=True) as one, c.watch("a", initial=True) as two:
            _started(one)
            _started(two)
            assert c.stats().watchers == 2
            with _EventStream(srv, "/v1/events") as stream:
                assert stream.status == 200
                assert c.stats().watchers == 3
        _until_stats(c, lambda s: s.watchers == 0)
        assert c.stats().dropped_watchers == 0


def test_a_server_shutting_down_ends_its_watches_at_once(start_server):
    srv = start_server()
    c = matcache.Client(srv.address)
    watch = c.watch(initial=True)
    _started(watch)
    with _EventStream(srv, "/v1/events") as stream:
        # stop() asserts the exit comes within the promised time.
        assert srv.stop() == 0
        with pytest.raises(matcache.UnavailableError):
            next(watch)
        # The stream ends, with an error event when there was time for it.
        try:
            _, kind, data = stream.next_event()
            assert (kind, data["grpc_code"]) == ("error", "UNAVAILABLE")
        except EOFError:
            pass
    c.close()


def test_matcache_watch_prints_a_line_per_change_until_ctrl_c(client, server, name):
    cli = subprocess.Popen(
        [str(CLI_SCRIPT), "--address", server.address, "watch", "--initial",
         name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert cli.stdout.readline() == "snapshot complete\n"
        put = client.put(f"{name}.a", np.zeros((2, 3)))
        client.delete(f"{name}.a")
        assert cli.stdout.readline() == (
            f"put {name}.a generation {put.generation} (put): 2x3 float64, 48 B\n")
        assert cli.stdout.readline() == (
            f"delete {name}.a generation {put.generation} (delete)\n")
        cli.send_signal(signal.SIGINT)
        # Ctrl-C ends it like any command interrupted: 130, no traceback.
        assert cli.wait(HANG_GUARD_SECONDS) == 130
        assert cli.stderr.read() == ""
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()


class _EventStream:
    """A raw HTTP/1.1 GET of an event stream on the gateway of `srv`, with
    its access token, de-chunked and split into events; `receive_buffer`
    sets the socket's SO_RCVBUF."""

    def __init__(self, srv, path, receive_buffer=None):
        self._srv = srv
        self._path = path
        self._receive_buffer = receive_buffer  # SO_RCVBUF, if given
        self._buffer = b""  # de-chunked body not yet parsed

    def __enter__(self):
        host, port = self._srv.http_address().rsplit(":", 1)
        token = self._srv.token_file.read_text().strip()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self._receive_buffer is not None:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                  self._receive_buffer)
        self._sock.connect((host, int(port)))
        self._sock.settimeout(HANG_GUARD_SECONDS)
        self._sock.sendall(
            f"GET {self._path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode())
        self._raw = b""
        head = self._until(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v for k, _, v in
                        (line.partition(": ") for line in lines[1:])}
        return self

    def __exit__(self, *exc_info):
        self._sock.close()

    def _until(self, marker):
        """Raw bytes up to `marker`, which is consumed."""
        while marker not in self._raw:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the stream")
            self._raw += chunk
        head, _, self._raw = self._raw.partition(marker)
        return head

    def _line(self):
        """The next line of the de-chunked body."""
        while b"\n" not in self._buffer:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                raise EOFError("the stream ended")
            while len(self._raw) < size + 2:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise EOFError("the server closed the stream")
                self._raw += chunk
            self._buffer += self._raw[:size]
            self._raw = self._raw[size + 2:]
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def next_event(self):
        """(id, event type, data as JSON) of the next event; comments come
        as (None, ":", the comment)."""
        fields = {}
        while (line := self._line()) != "":
            if line.startswith(":"):
                return None, ":", line[1:].strip()
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")
        return (int(fields["id"]) if "id" in fields else None,
                fields.get("event", "message"), json.loads(fields["data"]))


def _sse_status(address, token):
    """The HTTP status of GET /v1/events with `token` (None: no header)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        s.settimeout(HANG_GUARD_SECONDS)
        auth = "" if token is None else f"Authorization: Bearer {token}\r\n"
        s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n"
                  .encode())
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split()[1])


def test_server_sent_events_over_a_raw_socket(start_server):
    srv = start_server("--sse_heartbeat_seconds", "1")
    with matcache.Client(srv.address) as c:
        old = c.put("w.old", np.arange(2))
        with _EventStream(srv, "/v1/events?prefix=w.&initial=true") as stream:
            assert stream.status == 200
            assert stream.headers["content-type"] == "text/event-stream"
            assert stream.headers["transfer-encoding"] == "chunked"
            first_id, kind, data = stream.next_event()
            assert kind == "put"
            assert data["reason"] == "snapshot"
            assert data["info"]["id"] == old.id.hex()
            marker_id, kind, data = stream.next_event()
            assert (kind, data) == ("snapshot_complete", {})
            assert marker_id == first_id
            put = c.put("w.new", np.zeros((3, 4), np.float32))
            c.put("x.elsewhere", np.zeros(1))
            c.delete("w.new")
            put_id, kind, data = stream.next_event()
            assert kind == "put" and put_id > marker_id
            assert data["name"] == "w.new"
            assert data["generation"] == put.generation
            assert data["reason"] == "put"
            assert data["info"]["shape"] == [3, 4]
            assert data["info"]["dtype"] == "float32"
            delete_id, kind, data = stream.next_event()
            assert kind == "delete" and delete_id == put_id + 2
            assert data == {"name": "w.new", "generation": put.generation,
                            "reason": "delete"}
            # Nothing more happens: a heartbeat comes, every second here.
            assert stream.next_event() == (None, ":", "heartbeat")
            assert c.stats().watchers == 1


def test_server_sent_events_refuse_unknown_parameters(start_server):
    srv = start_server()
    with _EventStream(srv, "/v1/events?prefixx=a") as stream:
        assert stream.status == 400
