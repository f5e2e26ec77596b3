"""Exceptions raised by the matcache client.

Every failure the client reports is a MatcacheError. Server statuses map to
one subclass each; the builtin base classes (KeyError, ValueError,
PermissionError) let callers catch them the way they would catch the
equivalent failure of a dict or a file.
"""

import errno as errno_module

import grpc


class MatcacheError(Exception):
    """Base class of every matcache error.

    Attributes:
        message: the human-readable explanation (also what str() returns).
        code: the grpc.StatusCode the server answered with, or None when the
            error was detected by the client itself.
    """

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self):
        # The message as is, also for NotFoundError, where KeyError.__str__
        # would repr-quote it.
        return self.message


class NotFoundError(MatcacheError, KeyError):
    """No matrix (or lease) with that name (NOT_FOUND)."""


class InvalidArgumentError(MatcacheError, ValueError):
    """A malformed name, shape, dtype, index or chunk (INVALID_ARGUMENT)."""


class FailedPreconditionError(MatcacheError):
    """The requested generation is no longer current (FAILED_PRECONDITION)."""


class ResourceExhaustedError(MatcacheError):
    """The matrix does not fit: size limit, memory or tmpfs space."""


class PermissionDeniedError(MatcacheError, PermissionError):
    """The caller may not make the call: a wrong token, or a Load path
    outside the server's --data_dir (PERMISSION_DENIED)."""


class UnauthenticatedError(PermissionDeniedError):
    """The server wants a token for the call and got none (UNAUTHENTICATED);
    the message says how to pass one. A PermissionDeniedError, so that one
    `except PermissionError` handles a missing and a wrong token alike."""


class UnavailableError(MatcacheError):
    """The server cannot be reached (UNAVAILABLE); the message names it."""


class StatusError(MatcacheError):
    """Any other non-OK status (UNIMPLEMENTED, INTERNAL, ...); `code` tells
    which."""


class DeadlineExceededError(StatusError, TimeoutError):
    """A call ran past its deadline (DEADLINE_EXCEEDED), as wait_for does
    past its timeout. Also a TimeoutError (an OSError with no errno)."""


class EventsLostError(MatcacheError):
    """The server ended a watch that fell behind (ABORTED): more events
    waited for it than the server keeps for one watcher, and some were
    lost. List the matrices again, then watch anew."""


class NotLocalError(MatcacheError):
    """A segment cannot be mapped, or a staging file written, from this
    process (another host or container, no access, the server's fd socket
    out of reach or busy, or the file is not the version the server named).
    Raised only when local access was demanded with local=True."""


class ClosedError(MatcacheError, ValueError):
    """A method of a Client that was closed: open a new one. Also a
    ValueError, as for a closed file."""


class LocalIOError(MatcacheError, OSError):
    """A system call of the client itself failed (writing a staging file,
    talking to the server's fd socket, opening or mapping a segment). Also
    an OSError: `errno` and `strerror` tell which failure, `code` is None."""

    def __init__(self, message, errno=None, strerror=None):
        super().__init__(message)
        self.errno = errno
        self.strerror = strerror


_BY_CODE = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.ABORTED: EventsLostError,
}


# Which MatcacheError each status code raises (StatusError for the others).
BY_CODE = _BY_CODE

# Failures of the client's own system calls that mean "does not fit".
_NO_SPACE = (errno_module.ENOSPC, errno_module.EDQUOT)


def from_os_error(error, what):
    """Returns the MatcacheError for the OSError `error` of the client's own
    work on `what` (a phrase naming it): ResourceExhaustedError when the
    filesystem is full, else LocalIOError with the same errno."""
    message = f"{what}: {error.strerror or error}"
    if error.errno in _NO_SPACE:
        return ResourceExhaustedError(message)
    return LocalIOError(message, error.errno, error.strerror)


def from_rpc_error(error, address):
    """Returns the MatcacheError for a failed call.

    Args:
        error: the grpc.RpcError raised by a call (it is also a grpc.Call,
            so it carries code() and details()).
        address: the server address the call went to, named in the
            message of an UnavailableError.
    """
    code = error.code()
    details = error.details() or code.name
    cls = _BY_CODE.get(code, StatusError)
    if cls is UnavailableError:
        message = f"cannot reach matcached at {address}: {details}"
    elif cls is UnauthenticatedError:
        message = (f"{details}: this server needs a token; pass "
                   f"Client(token=...), `matcache --token TOKEN`, or set "
                   f"$MATCACHE_TOKEN")
    elif cls is StatusError:
        message = f"{code.name}: {details}"
    else:
        message = details
    return cls(message, code)
