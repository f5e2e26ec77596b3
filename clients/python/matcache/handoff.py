"""Getting the descriptor of a staging file from the server's fd socket.

Staging files are the server's alone (mode 0600): the caller of Create
connects to the unix socket named in CreateResponse.fd_socket, sends the
lease and a newline, and reads the reply to its end: "OK\\n" with an open
read-write descriptor attached (SCM_RIGHTS), or "<CODE> <message>\\n". The
protocol is described in protos/matcache/v1/matcache.proto and
server/core/storage/fd_handoff.h.
"""

import os
import socket

import grpc

from matcache import errors

MAX_REPLY_BYTES = 512


def _refusal(fd_socket, line):
    """The MatcacheError for a reply line other than OK."""
    name, _, message = line.partition(" ")
    code = getattr(grpc.StatusCode, name, None)
    if code is None or code is grpc.StatusCode.OK or not message:
        return errors.LocalIOError(
            f"malformed reply from the fd socket {fd_socket}: {line!r}")
    if code is grpc.StatusCode.UNAVAILABLE:
        # Busy: the put can still stream.
        return errors.NotLocalError(f"fd socket {fd_socket}: {message}")
    cls = errors.BY_CODE.get(code, errors.StatusError)
    if cls is errors.StatusError:
        message = f"{name}: {message}"
    return cls(message, code)


def request_staging_fd(fd_socket, lease, timeout):
    """Returns an open read-write descriptor (close-on-exec, the caller's to
    close) of the staging file of `lease`, from the fd socket `fd_socket`.

    Raises NotLocalError when there is no fd socket, it cannot be reached
    from here, the server is busy or it closed the connection without a
    reply (the caller may stream instead); the server's refusal as the
    matching MatcacheError (NotFoundError for an unknown lease,
    FailedPreconditionError for one whose descriptor was handed out
    already, InvalidArgumentError for a malformed one);
    DeadlineExceededError if no reply came within `timeout` seconds; and
    LocalIOError (an OSError) for any other failure of the socket.
    """
    if not fd_socket:
        raise errors.NotLocalError(
            "the server named no fd socket (it does only to calls that come "
            "through its unix socket), so its staging file cannot be written "
            "from here")
    received = None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(fd_socket)
            except OSError as e:
                raise errors.NotLocalError(
                    f"cannot reach the fd socket {fd_socket}: "
                    f"{e.strerror or e}") from e
            try:
                sock.sendall(lease.encode() + b"\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused at once (busy): the reply may be waiting
            reply = b""
            while True:
                try:
                    data, fds, _, _ = socket.recv_fds(
                        sock, MAX_REPLY_BYTES, 1, socket.MSG_CMSG_CLOEXEC)
                except ConnectionResetError:
                    # A server that answers before reading the request
                    # (busy) resets the connection after the reply.
                    if not reply:
                        raise
                    break
                for fd in fds:
                    if received is None:
                        received = fd
                    else:
                        os.close(fd)
                if not data:
                    break
                reply += data
                if len(reply) > MAX_REPLY_BYTES:
                    raise errors.LocalIOError(
                        f"the fd socket {fd_socket} sent an overlong reply")
        if not reply:
            raise errors.NotLocalError(
                f"the fd socket {fd_socket} closed the connection without a "
                f"reply")
        if not reply.endswith(b"\n"):
            raise errors.LocalIOError(
                f"the fd socket {fd_socket} sent an unfinished reply "
                f"{reply!r}")
        line = reply[:-1].decode(errors="replace")
        if line != "OK":
            raise _refusal(fd_socket, line)
        if received is None:
            raise errors.LocalIOError(
                f"the fd socket {fd_socket} answered OK without a descriptor")
        fd, received = received, None
        return fd
    except TimeoutError as e:
        raise errors.DeadlineExceededError(
            f"the fd socket {fd_socket} did not answer within {timeout} s",
            grpc.StatusCode.DEADLINE_EXCEEDED) from e
    except errors.MatcacheError:
        raise
    except OSError as e:
        raise errors.from_os_error(e, f"fd socket {fd_socket}") from e
    finally:
        if received is not None:
            os.close(received)
