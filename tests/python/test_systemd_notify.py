"""matcached speaks sd_notify when $NOTIFY_SOCKET names a socket, as systemd
sets it for a unit with Type=notify: READY=1 once every listener serves,
with a STATUS= naming them, RELOADING=1 and READY=1 around a SIGHUP,
STOPPING=1 at shutdown, and WATCHDOG=1 at half of $WATCHDOG_USEC."""

import os
import signal
import socket
import time
import urllib.request

import pytest

import matcache

WATCHDOG_USEC = 200_000
WAIT_SECONDS = 20


class NotifySocket:
    """A unix datagram socket standing in for systemd's: collects the
    messages the server sends, one dict of KEY=VALUE lines each."""

    def __init__(self, path):
        self.path = str(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.path)
        self.messages = []

    def next(self, key, timeout=WAIT_SECONDS):
        """Receives until a message holds `key` and returns it (the ones
        before it stay in `messages`); AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {key} in {self.messages}"
            self._socket.settimeout(remaining)
            try:
                data = self._socket.recv(4096)
            except socket.timeout:
                continue
            message = dict(line.split("=", 1)
                           for line in data.decode().splitlines() if line)
            self.messages.append(message)
            if key in message:
                return message

    def close(self):
        self._socket.close()


@pytest.fixture
def notify_socket(tmp_path):
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def _readyz(server):
    try:
        with urllib.request.urlopen(f"http://{server.http_address()}/readyz",
                                    timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_ready_status_reload_watchdog_and_stopping(start_server, notify_socket):
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket.path,
               WATCHDOG_USEC=str(WATCHDOG_USEC))
    server = start_server()
    server.stop()
    server.launch(env=env)

    ready = notify_socket.next("READY")
    assert ready["READY"] == "1"
    # Ready means serving: both transports answer at once.
    with matcache.Client(server.address) as client:
        client.stats()
    assert _readyz(server) == 200
    assert ready["STATUS"].startswith("serving 0 matrices on ")
    assert server.address in ready["STATUS"]
    assert f"HTTP on {server.http_address()}" in ready["STATUS"]

    # Pings at half the interval: a few arrive within two intervals.
    start = time.monotonic()
    for _ in range(3):
        notify_socket.next("WATCHDOG")
    assert time.monotonic() - start < 2 * WATCHDOG_USEC / 1e6 + 1
    assert all(m.get("WATCHDOG", "1") == "1" for m in notify_socket.messages)

    server.process.send_signal(signal.SIGHUP)
    assert notify_socket.next("RELOADING")["RELOADING"] == "1"
    assert notify_socket.next("READY")["STATUS"] == ready["STATUS"]

    server.process.send_signal(signal.SIGTERM)
    stopping = notify_socket.next("STOPPING")
    assert stopping["STOPPING"] == "1"
    assert stopping["STATUS"].startswith("shutting down")
    assert server.wait_exit(WAIT_SECONDS) == 0, server.run_log()


def test_no_watchdog_pings_without_watchdog_usec(start_server, notify_socket):
    server = start_server()
    server.stop()
    server.launch(env=dict(os.environ, NOTIFY_SOCKET=notify_socket.path))
    notify_socket.next("READY")
    with pytest.raises(AssertionError):
        notify_socket.next("WATCHDOG", timeout=1)
    assert server.stop() == 0
