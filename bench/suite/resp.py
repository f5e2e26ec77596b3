"""A minimal Redis (RESP2) client over one socket: enough for SET, GET,
DEL and CONFIG GET, with a GET's reply read straight into a numpy buffer,
so Redis is measured, not a client library's copies."""

import socket

import numpy as np

_SMALL_BYTES = 64 << 10


class RedisError(RuntimeError):
    """Redis answered with an error or something unexpected."""


class Connection:
    """One connection to redis-server on 127.0.0.1:`port`."""

    def __init__(self, port):
        self._sock = socket.create_connection(("127.0.0.1", port))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending = bytearray()

    def close(self):
        self._sock.close()

    def command(self, *args):
        """Sends a command; returns a status or integer reply as bytes, a
        bulk or array reply as bytes or a list of bytes."""
        self._write(args)
        return self._reply()

    def get_into_array(self, key, nbytes):
        """GET `key`, whose value has `nbytes` bytes, into a new uint8
        array (no copy beyond the socket's)."""
        self._write(("GET", key))
        header = self._line()
        if header[:1] != b"$" or int(header[1:]) != nbytes:
            raise RedisError(f"GET {key}: answered {header[:200]!r}, "
                             f"expected ${nbytes}")
        out = np.empty(nbytes, np.uint8)
        view = memoryview(out)
        have = min(len(self._pending), nbytes)
        view[:have] = self._pending[:have]
        del self._pending[:have]
        while have < nbytes:
            received = self._sock.recv_into(view[have:])
            if not received:
                raise ConnectionError("redis closed the connection")
            have += received
        if self._line() != b"":
            raise RedisError("bulk reply not terminated by CRLF")
        return out

    def _write(self, args):
        """Sends one command: small parts in one write, each large value in
        a write of its own (no copy of it)."""
        small = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg if isinstance(arg, (bytes, bytearray, memoryview)) \
                else str(arg).encode()
            small.append(f"${memoryview(data).nbytes}\r\n".encode())
            if memoryview(data).nbytes > _SMALL_BYTES:
                self._sock.sendall(b"".join(small))
                self._sock.sendall(data)
                small = []
            else:
                small.append(data)
            small.append(b"\r\n")
        self._sock.sendall(b"".join(small))

    def _line(self):
        while b"\r\n" not in self._pending:
            data = self._sock.recv(65536)
            if not data:
                raise ConnectionError("redis closed the connection")
            self._pending += data
        end = self._pending.index(b"\r\n")
        line = bytes(self._pending[:end])
        del self._pending[:end + 2]
        return line

    def _exactly(self, count):
        while len(self._pending) < count + 2:
            data = self._sock.recv(max(65536, count + 2 - len(self._pending)))
            if not data:
                raise ConnectionError("redis closed the connection")
            self._pending += data
        data = bytes(self._pending[:count])
        del self._pending[:count + 2]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b"$":
            length = int(rest)
            return None if length < 0 else self._exactly(length)
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise RedisError(f"unexpected reply {line[:200]!r}")

    def max_value_bytes(self):
        """The largest value this server stores (proto-max-bulk-len)."""
        _, value = self.command("CONFIG", "GET", "proto-max-bulk-len")
        return int(value)
