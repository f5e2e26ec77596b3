"""The client side of the fd handoff protocol (see CreateResponse.fd_socket
in protos/matcache/v1/matcache.proto), written anew for tests that write
a staging file themselves or speak the protocol wrongly on purpose.
Standard library only: the security suite copies this file for other
users."""

import os
import socket


def request(fd_socket, lease, timeout=10):
    """Sends `lease` (str, or raw bytes sent as they are, newline included)
    to the fd socket and reads the reply to its end; returns (the reply line
    without its newline, the descriptor attached to it or None)."""
    payload = lease if isinstance(lease, bytes) else lease.encode() + b"\n"
    reply, fd = b"", None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(fd_socket)
        sock.sendall(payload)
        while True:
            data, fds, _, _ = socket.recv_fds(sock, 1024, 4)
            for extra in fds:
                if fd is None:
                    fd = extra
                else:
                    os.close(extra)
            if not data:
                break
            reply += data
    return reply.decode(errors="replace").rstrip("\n"), fd


def open_staging(created, timeout=10):
    """The read-write descriptor of the staging file of `created` (a
    CreateResponse); AssertionError with the server's reply if refused."""
    line, fd = request(created.fd_socket, created.lease, timeout)
    assert line == "OK" and fd is not None, line
    return fd
