"""Hostile HTTP clients against the gateway: idle connections by the
hundred, request lines and headers too long for a connection's memory,
lying Content-Lengths, slow-loris clients, uploads cut half-way, a slow
reader of a 1 GiB matrix and fifty concurrent downloads. After each the
server answers /healthz and data reads, and every matrix put before is
unchanged (same generation, id and data)."""

import io
import os
import select
import socket
import threading
import time

import numpy as np
import pytest

import matcache

# --http_timeout_seconds of the servers that wait for something to time out.
TIMEOUT = 2
# How long a test waits for what the server is meant to do before failing.
PATIENCE = 20


def _request(path, method="GET", token=None, headers=(), body=b""):
    """The bytes of one HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: matcache"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _npy(array):
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _read_head(sock):
    """(status, lower-cased headers, body bytes already read) of the
    response arriving on `sock`; AssertionError if the server closes the
    connection before its head is complete."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1 << 16)
        assert chunk, f"the server closed the connection after {data[:200]!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, rest


def _read_response(sock):
    """(status, lower-cased headers, body) of one response on `sock`."""
    status, headers, body = _read_head(sock)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(1 << 20)
        assert chunk, f"the body ended after {len(body)} of {length} bytes"
        body += chunk
    return status, headers, body[:length]


def _read_npy_header(sock, body):
    """((shape, fortran_order, dtype), its length in bytes, the body read
    so far) of the .npy body that begins with `body` on `sock`."""
    while len(body) < 12:
        chunk = sock.recv(1 << 16)
        assert chunk, f"the body ended after {len(body)} bytes"
        body += chunk
    header = io.BytesIO(body)
    version = np.lib.format.read_magic(header)
    size_bytes = 2 if version == (1, 0) else 4
    length = 8 + size_bytes + int.from_bytes(body[8:8 + size_bytes], "little")
    while len(body) < length:
        chunk = sock.recv(1 << 16)
        assert chunk, f"the body ended after {len(body)} bytes, in its header"
        body += chunk
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    described = read(header)
    assert header.tell() == length
    return described, length, body


def _wait_closed(sock, within=PATIENCE):
    """Waits until the server closes `sock` (end of stream or reset) and
    returns the bytes it sent before; AssertionError if it is still open
    after `within` seconds."""
    deadline = time.monotonic() + within
    received = b""
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"the server kept the connection open; sent {received[:200]!r}"
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            continue
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def _closed(sock):
    """Whether the server has closed `sock`, without waiting (it sent
    nothing else)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except ConnectionResetError:
        return True


def _wait_for(predicate, what, within=PATIENCE):
    """Polls `predicate` until it holds; AssertionError naming `what` if it
    does not within `within` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


def _anonymous_bytes(pid):
    """The process's resident anonymous memory (RssAnon), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no RssAnon")


def _http_connections(pid, port):
    """How many TCP connections to `port` the process has accepted (holds a
    descriptor of): those queued in the listen backlog do not count."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] != "0A":  # 0A: LISTEN
                    inodes.add(fields[9])
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue  # closed meanwhile
        if link.startswith("socket:[") and link[8:-1] in inodes:
            count += 1
    return count


class Target:
    """A started ServerProcess with two matrices put: `kept` maps each
    name to (MatrixInfo, array)."""

    def __init__(self, srv, **matrices):
        self.srv = srv
        self.address = srv.http_address()
        host, port = self.address.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.token = srv.token_file.read_text().strip()
        self.kept = {}
        with matcache.Client(srv.address) as c:
            for name, array in matrices.items():
                self.kept[name] = (c.put(name, array), array)

    def connect(self, source="127.0.0.1", rcvbuf=None, sndbuf=None):
        """A TCP connection to the gateway from the address `source`."""
        sock = socket.socket()
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        sock.bind((source, 0))
        sock.connect((self.host, self.port))
        sock.settimeout(PATIENCE)
        return sock

    def get(self, path, source="127.0.0.1", token=None):
        """(status, headers, body) of a GET on a fresh connection."""
        with self.connect(source) as sock:
            sock.sendall(_request(path, token=token))
            return _read_response(sock)

    def assert_healthy(self, source="127.0.0.1"):
        """/healthz answers, a data read over HTTP works, and every kept
        matrix is the version put, with its data."""
        assert self.get("/healthz", source)[::2] == (200, b"ok\n")
        with matcache.Client(self.srv.address) as c:
            for name, (put, array) in self.kept.items():
                info = c.info(name)
                assert (info.generation, info.id) == (put.generation, put.id), name
                np.testing.assert_array_equal(c.get(name), array)
        for name, (_, array) in self.kept.items():
            status, headers, body = self.get(f"/v1/matrices/{name}/data",
                                             source, self.token)
            assert status == 200, body
            assert headers["content-type"] == "application/x-npy"
            read = np.load(io.BytesIO(body))
            assert read.dtype == array.dtype
            np.testing.assert_array_equal(read, array)
        assert self.srv.staging_files() == []
        assert self.srv.running()


def _target(start_server, *flags):
    return Target(start_server(*flags),
                  small=np.arange(12, dtype=np.float32).reshape(3, 4),
                  large=np.arange(1 << 20, dtype=np.int64))  # 8 MiB


@pytest.fixture
def target(start_server):
    """A server that closes connections after TIMEOUT seconds, with the
    matrices "small" and "large"."""
    return _target(start_server, "--http_timeout_seconds", str(TIMEOUT))


def test_idle_connections_past_the_per_address_limit_are_closed_at_once(
        start_server):
    # Long enough a timeout that the connections the server keeps are
    # still open while the test looks at them.
    target = _target(start_server, "--http_timeout_seconds", "5")
    held = [target.connect() for _ in range(300)]
    # --http_connections_per_ip (64) are kept; the others are closed at once.
    _wait_for(lambda: sum(map(_closed, held)) >= 300 - 64,
              "the server closed the idle connections past 64")
    kept = [sock for sock in held if not _closed(sock)]
    assert len(kept) == 64
    # A 65th client from that address is turned away without an answer...
    with target.connect() as extra:
        try:
            extra.sendall(_request("/healthz"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed before the request was even sent
        assert _wait_closed(extra) == b""
    # ... while one from another address is served.
    target.assert_healthy(source="127.0.0.2")
    assert not any(map(_closed, kept))
    # The idle ones are closed by the server once they time out, without
    # an answer, freeing the address (once it has let go of their sockets:
    # it sends the end of stream a moment before).
    for sock in kept:
        assert _wait_closed(sock) == b""
    pid = target.srv.process.pid
    _wait_for(lambda: _http_connections(pid, target.port) == 0,
              "the server let go of every connection")
    target.assert_healthy()
    for sock in held:
        sock.close()


def test_connections_past_the_total_limit_wait_until_idle_ones_time_out(
        start_server):
    # A timeout long enough to see the server at its limit.
    target = _target(start_server, "--http_timeout_seconds", "3")
    pid = target.srv.process.pid
    # 300 idle connections from five addresses, 60 each, within the limit
    # per address but past --http_connections (256).
    held = [target.connect(f"127.0.0.{2 + i // 60}") for i in range(300)]
    _wait_for(lambda: _http_connections(pid, target.port) == 256,
              "the server took 256 connections")
    # A new client waits in the listen backlog until idle connections time
    # out, and is served then; meanwhile the server never holds more than
    # its limit.
    fresh = target.connect("127.0.0.7")
    fresh.sendall(_request("/healthz"))
    most = 0
    while not select.select([fresh], [], [], 0.02)[0]:
        most = max(most, _http_connections(pid, target.port))
    assert _read_response(fresh)[::2] == (200, b"ok\n")
    fresh.close()
    assert most <= 256
    assert any(map(_closed, held)), "served before any connection was freed"
    # Every idle connection is closed in the end, those accepted from the
    # backlog after the first ones timed out too.
    for sock in held:
        assert _wait_closed(sock) == b""
        sock.close()
    target.assert_healthy()


def test_a_100_kb_request_line_is_414_and_closed(target):
    with target.connect(sndbuf=4 << 20) as sock:
        sock.sendall(_request("/healthz?x=" + "A" * 100_000))
        status, headers, _ = _read_response(sock)
        assert status == 414 and headers["connection"] == "close"
        assert _wait_closed(sock) == b""
    target.assert_healthy()


def test_a_200_kb_header_is_431_and_closed(target):
    with target.connect(sndbuf=4 << 20) as sock:
        sock.sendall(_request("/healthz", headers=["X-Big: " + "B" * 200_000]))
        status, headers, _ = _read_response(sock)
        assert status == 431 and headers["connection"] == "close"
        assert _wait_closed(sock) == b""
    target.assert_healthy()


def test_absurd_slices_are_refused(target):
    path = "/v1/matrices/large/data?slice="
    # 100 KB of slice: past the connection's memory, refused before parsing.
    with target.connect(sndbuf=4 << 20) as sock:
        sock.sendall(_request(path + "0," * 50_000, token=target.token))
        status, headers, _ = _read_response(sock)
        assert status == 414 and headers["connection"] == "close"
        assert _wait_closed(sock) == b""
    # 30 KB fits in it and is refused by the slice parser.
    status, headers, body = target.get(path + "0," * 15_000, token=target.token)
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert b"slice has 30000 characters; at most 4096" in body
    target.assert_healthy()


def _put_head(target, name, length):
    return _request(f"/v1/matrices/{name}", "PUT", target.token,
                    [f"Content-Length: {length}"])


def test_a_put_whose_content_length_lies_is_cut_off_after_the_timeout(target):
    body = _npy(np.full(1 << 20, 7, dtype=np.int64))
    with target.connect() as sock:
        # The whole .npy header and 1 MiB of the 8 MiB announced, then
        # silence with the connection open.
        sock.sendall(_put_head(target, "large", len(body)) + body[:1 << 20])
        _wait_for(lambda: target.srv.staging_files() != [],
                  "the server began the staging write")
        assert _wait_closed(sock) == b""  # timed out, no answer
    _wait_for(lambda: target.srv.staging_files() == [],
              "the staging file was removed")
    target.assert_healthy()


def test_a_content_length_shorter_than_the_body_is_refused(target):
    # Small enough to sit in the socket buffers whatever the server reads.
    body = _npy(np.full(1000, 7, dtype=np.int64))
    for length, detail in ((len(body) - 1000, b"Content-Length is 7128"),
                           (50, b"the body ended after 50 bytes, inside its .npy header")):
        with target.connect() as sock:
            sock.sendall(_put_head(target, "large", length) + body)
            status, headers, answer = _read_response(sock)
            assert status == 400, answer
            assert headers["content-type"] == "application/problem+json"
            assert detail in answer and b"nothing published" in answer
            assert target.srv.staging_files() == []
            # The bytes past Content-Length are no request: they get no
            # answer, and the connection is closed.
            assert _wait_closed(sock) == b""
    target.assert_healthy()


def test_a_put_cut_half_way_publishes_nothing(target):
    body = _npy(np.full(1 << 20, 7, dtype=np.int64))
    with target.connect() as sock:
        sock.sendall(_put_head(target, "large", len(body)) + body[:len(body) // 2])
        _wait_for(lambda: target.srv.staging_files() != [],
                  "the server began the staging write")
    # Closed by the client: the server aborts the write.
    _wait_for(lambda: target.srv.staging_files() == [],
              "the staging file was removed")
    target.assert_healthy()


def test_slow_loris_clients_are_closed_after_the_timeout(target):
    lorises = [target.connect() for _ in range(8)]
    # One trickles its second request: a completed request gives the next
    # one's headers the same time to arrive.
    first = lorises[0]
    small = _npy(np.zeros(1))
    first.sendall(_put_head(target, "loris", len(small)) + small)
    status, headers, _ = _read_response(first)
    assert status == 201 and "close" not in headers.get("connection", "")
    trickle = _request("/healthz", headers=["X-Loris: " + "a" * 1000])[:-4]
    started = time.monotonic()
    sent = 0
    open_ = set(lorises)
    while open_:
        assert time.monotonic() - started < PATIENCE, (
            f"{len(open_)} slow-loris connections still open after "
            f"{PATIENCE} s, each sending a byte at least every 0.5 s")
        for sock in list(open_):
            try:
                sock.send(trickle[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                open_.discard(sock)
        sent += 1
        # Others are served meanwhile.
        assert target.get("/healthz")[::2] == (200, b"ok\n")
        # A byte every half second at most, much less than the idle timeout.
        readable, _, _ = select.select(list(open_), [], [], 0.5)
        for sock in readable:
            if _closed(sock):
                open_.discard(sock)
            else:
                pytest.fail(f"a slow-loris got an answer: {sock.recv(200)!r}")
    assert sent < len(trickle)
    for sock in lorises:
        sock.close()
    with matcache.Client(target.srv.address) as c:
        c.delete("loris")
    target.assert_healthy()


def test_a_slow_reader_of_1_gib_costs_no_anonymous_memory(start_server):
    target = Target(start_server(), small=np.arange(5.0))
    pid = target.srv.process.pid
    # big[i, j] == i + j, put from a 190 KiB buffer.
    rows, columns = 16384, 8192
    base = np.arange(rows + columns - 1, dtype=np.float64)
    big = np.lib.stride_tricks.as_strided(base, shape=(rows, columns),
                                          strides=(8, 8), writeable=False)
    with matcache.Client(target.srv.address) as c:
        put = c.put("big", big)
    assert put.nbytes == 1 << 30
    before = _anonymous_bytes(pid)
    samples = []
    with target.connect(rcvbuf=64 << 10) as sock:
        # Closed after the body: nothing may follow it.
        sock.sendall(_request("/v1/matrices/big/data", token=target.token,
                              headers=["Connection: close"]))
        status, headers, body = _read_head(sock)
        assert status == 200, body
        length = int(headers["content-length"])
        described, header_bytes, body = _read_npy_header(sock, body)
        assert described == ((rows, columns), False, np.dtype(np.float64))
        assert length == header_bytes + (1 << 30)
        received = len(body)
        pending = body[header_bytes:]
        checked = 0  # elements

        def check(data):
            nonlocal pending, checked
            pending += data
            whole = len(pending) // 8
            values = np.frombuffer(pending, np.float64, whole)
            k = np.arange(checked, checked + whole)
            np.testing.assert_array_equal(values, k // columns + k % columns)
            checked += whole
            pending = pending[whole * 8:]

        check(b"")
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)

        def read(limit):
            nonlocal received
            n = sock.recv_into(view[:min(limit, length - received)])
            assert n, f"the body ended after {received} of {length} bytes"
            received += n
            check(view[:n])
            return n

        # Slowly: 1 MiB, a pause, over and over, for 4 seconds.
        slow_until = time.monotonic() + 4
        while time.monotonic() < slow_until:
            got = 0
            while got < 1 << 20:
                got += read((1 << 20) - got)
            samples.append(_anonymous_bytes(pid))
            time.sleep(0.1)
        # Then the rest as fast as it comes.
        reads = 0
        while received < length:
            read(1 << 20)
            reads += 1
            if reads % 64 == 0:
                samples.append(_anonymous_bytes(pid))
        assert checked == rows * columns and pending == b""
        assert _wait_closed(sock) == b""
    samples.append(_anonymous_bytes(pid))
    assert max(samples) - before <= 64 << 20, (before, max(samples))
    with matcache.Client(target.srv.address) as c:
        info = c.info("big")
        assert (info.generation, info.id) == (put.generation, put.id)
        mapped = c.get("big")
        assert mapped[12345, 6789] == 12345 + 6789
        assert mapped[-1, -1] == rows + columns - 2
    target.assert_healthy()


def test_readers_that_never_read_hold_at_most_the_answer_memory(start_server):
    # A JSON answer of every element: about 7 MB, more than the kernel's
    # socket buffers take, so an unread one stays with the server.
    limit = 32 << 20
    target = Target(start_server("--http_answer_memory", "32M"),
                    m=np.arange(1e6).reshape(1000, 1000))
    path = "/v1/matrices/m/data?format=json"
    status, _, answer = target.get(path, token=target.token)
    assert status == 200
    fits = limit // len(answer)
    assert 2 <= fits < 8, len(answer)
    readers = [target.connect(rcvbuf=4096) for _ in range(8)]
    try:
        heads = []
        for sock in readers:
            sock.sendall(_request(path, token=target.token))
            heads.append(_read_head(sock))
        # As many as fit are held for their readers, the others refused (the
        # server's RssAnon would not tell: malloc keeps what the refused
        # ones were built in).
        held = [sock for sock, (status, _, _) in zip(readers, heads)
                if status == 200]
        assert len(held) == fits, [status for status, _, _ in heads]
        for status, headers, body in heads:
            if status == 200:
                continue
            assert status == 503 and headers["retry-after"] == "1"
            assert b"--http_answer_memory" in body and b"UNAVAILABLE" in body
        # Small answers still go out meanwhile, and the matrices are intact.
        target.assert_healthy()
        # A reader that takes its answer gives back what it held.
        first = held[0]
        _, headers, body = heads[readers.index(first)]
        rest = int(headers["content-length"]) - len(body)
        while rest > 0:
            chunk = first.recv(min(rest, 1 << 20))
            assert chunk
            rest -= len(chunk)
        _wait_for(lambda: target.get(path, token=target.token)[0] == 200,
                  "an answer once a reader took its own")
    finally:
        for sock in readers:
            sock.close()
    target.assert_healthy()


def test_fifty_concurrent_downloads_are_complete_and_correct(start_server):
    matrix = np.arange(1 << 24, dtype=np.int32).reshape(4096, 4096)  # 64 MiB
    target = Target(start_server(), matrix=matrix)
    expected = matrix.tobytes()
    clients = 50
    start = threading.Barrier(clients, timeout=PATIENCE)
    results = [None] * clients

    def download(i):
        try:
            with target.connect() as sock:
                start.wait()
                sock.sendall(_request("/v1/matrices/matrix/data",
                                      token=target.token,
                                      headers=["Connection: close"]))
                status, headers, body = _read_head(sock)
                assert status == 200, body
                length = int(headers["content-length"])
                described, offset, body = _read_npy_header(sock, body)
                assert described == ((4096, 4096), False, np.dtype(np.int32))
                assert length == offset + len(expected)
                done = len(body) - offset
                assert body[offset:] == expected[:done]
                buffer = bytearray(1 << 20)
                view = memoryview(buffer)
                while done < len(expected):
                    n = sock.recv_into(view[:min(len(buffer), len(expected) - done)])
                    assert n, f"the body ended after {offset + done} of {length} bytes"
                    assert buffer[:n] == expected[done:done + n], f"bytes at {done}"
                    done += n
                assert _wait_closed(sock) == b""
            results[i] = "ok"
        except BaseException as e:  # reported below, from the test's thread
            results[i] = e

    threads = [threading.Thread(target=download, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    failures = [r for r in results if r != "ok"]
    assert not failures, failures[0]
    target.assert_healthy()
