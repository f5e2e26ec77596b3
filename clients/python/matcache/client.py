"""The matcache client: put, get, inspect and delete named matrices."""

import functools
import logging
import math
import numbers
import operator
import os
import threading
import time

import grpc
import numpy as np

from matcache import channel, dtypes, errors, handoff, index, segment, wire
from matcache.info import MatrixInfo, Stats
from matcache.watch import Watch
from matcache.v1 import matcache_pb2 as pb
from matcache.v1 import matcache_pb2_grpc as pb_grpc

ADDRESS_ENV = "MATCACHE_ADDRESS"
DEFAULT_TIMEOUT = 60.0
CHUNK_BYTES = 2 << 20
# Data bytes per Read or Preview message asked of the server (its maximum).
RECEIVE_CHUNK_BYTES = 4 << 20
# Leave room for the framing around a full chunk.
_MAX_RECEIVE_BYTES = 8 << 20
# HTTP/2 frames this client accepts (the protocol's maximum; the default is
# 16 KiB): fewer frames, less work per received byte on the data streams.
_MAX_FRAME_BYTES = (1 << 24) - 1
_PREVIEW_METHODS = {
    "mean": pb.PREVIEW_METHOD_MEAN,
    "min": pb.PREVIEW_METHOD_MIN,
    "max": pb.PREVIEW_METHOD_MAX,
    "first": pb.PREVIEW_METHOD_FIRST,
}
_SERVICE = pb.DESCRIPTOR.services_by_name["MatrixCache"].full_name

_log = logging.getLogger("matcache")
# How many versions a local get, or a read whose key has an Ellipsis, tries
# when replaces keep racing it.
_MAP_ATTEMPTS = 8


def _translating_errors(method):
    """Turns every grpc.RpcError and OSError escaping `method` into a
    MatcacheError; a call on a closed client, or one that a close from
    another thread cut off, into ClosedError."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        closed = errors.ClosedError(
            f"{method.__name__}: this Client of {self.address} is closed")
        if self._closed:
            raise closed
        try:
            return method(self, *args, **kwargs)
        except grpc.RpcError as e:
            if self._closed:
                raise closed from None
            raise errors.from_rpc_error(e, self.address) from None
        except errors.MatcacheError as e:
            if self._closed and e.code == grpc.StatusCode.CANCELLED:
                raise closed from None
            raise
        except OSError as e:
            raise errors.from_os_error(e, method.__name__) from e
        except ValueError:
            # grpc's "Cannot invoke RPC on closed channel!"
            if self._closed:
                raise closed from None
            raise

    return wrapper


def default_address():
    """The socket of a matcached started with its defaults: in
    /run/matcache, where the installed service listens, else in
    /tmp/matcache when started by hand by this user or root
    (channel.server_file). PermissionDeniedError if each of those holds a
    socket but none is in a directory only root or this user could have
    filled."""
    path = channel.server_file("matcached.sock")
    if path is None:
        raise errors.PermissionDeniedError(
            f"no default address: the sockets in {' and '.join(channel.SERVER_DIRS)} "
            f"are in directories that users other than root and this one may "
            f"have written to (open to group or other writes, symbolic links, "
            f"or another user's in a shared directory); set ${ADDRESS_ENV}")
    return "unix:" + path


class Client:
    """A connection to one matcached server.

    Args:
        address: gRPC target, "unix:PATH" or "HOST:PORT". Defaults to
            $MATCACHE_ADDRESS, else default_address().
        local: None (default) maps segments directly when this process can
            open them and streams otherwise, deciding per matrix; True always
            maps (NotLocalError if impossible); False always streams.
        timeout: deadline in seconds of each unary call. Put and Read streams
            have no deadline: their duration grows with the matrix size.
        token: the access token of a server started with --write_token_file
            or --read_token_file, sent on every call as the metadata
            `authorization: Bearer <token>` (unix sockets included).
            Defaults to $MATCACHE_TOKEN; else, for a TCP address, to the
            token the server keeps for its TCP listeners, read from
            $MATCACHE_TOKEN_FILE or access.token beside the default socket
            (see default_address) when this process may read it. None is
            sent when all are unset, nor with token="" (whatever the
            variable holds).
        tls_ca: PEM file of the CA that signed the server's certificate;
            given, the connection uses TLS. Defaults to $MATCACHE_TLS_CA.
        tls_cert, tls_key: PEM files of this client's certificate and key,
            for a server that requires client certificates (--tls_client_ca).
            Default to $MATCACHE_TLS_CERT and $MATCACHE_TLS_KEY.

    TLS applies to HOST:PORT addresses only: unix sockets are plaintext, so
    the TLS arguments with a "unix:" address raise InvalidArgumentError (a
    ValueError), while the $MATCACHE_TLS_* variables are ignored for one.
    A token that is not visible ASCII, a client certificate without its key
    (or the reverse) or without a CA raise InvalidArgumentError too; a PEM
    file that cannot be read raises OSError.

    Thread-safe; one client may serve many threads. Usable as a context
    manager, which closes it at exit. Every method raises MatcacheError
    subclasses: NotFoundError, InvalidArgumentError, ResourceExhaustedError,
    PermissionDeniedError (a wrong token, among others),
    UnauthenticatedError (a PermissionDeniedError: the server wants a token
    and got none), FailedPreconditionError, UnavailableError (server
    unreachable, or a TLS handshake that failed), EventsLostError (a watch
    that fell behind), DeadlineExceededError (a TimeoutError too),
    StatusError (any other status), LocalIOError (an OSError too: a system call of the client's
    own failed, writing a staging file say), ClosedError (a ValueError too:
    the client was closed).
    """

    def __init__(self, address=None, local=None, timeout=DEFAULT_TIMEOUT,
                 token=None, tls_ca=None, tls_cert=None, tls_key=None):
        self.address = address or os.environ.get(ADDRESS_ENV) or default_address()
        self.local = local
        self.timeout = timeout
        self._closed = False
        self.tls = channel.TlsFiles.resolve(self.address, tls_ca, tls_cert,
                                            tls_key)
        self._channel = channel.open_channel(
            self.address,
            [("grpc.max_receive_message_length", _MAX_RECEIVE_BYTES),
             ("grpc.http2.max_frame_size", _MAX_FRAME_BYTES)],
            token=channel.resolve_token(token, self.address), tls=self.tls)
        self._stub = pb_grpc.MatrixCacheStub(self._channel)
        # The payload streams bypass the generated message classes to avoid
        # copying the data (see matcache.wire).
        self._put_stream = self._channel.stream_unary(
            f"/{_SERVICE}/Put", request_serializer=None,
            response_deserializer=pb.MatrixInfo.FromString)
        self._read_stream = self._channel.unary_stream(
            f"/{_SERVICE}/Read",
            request_serializer=pb.ReadRequest.SerializeToString,
            response_deserializer=wire.decode_read_response)
        self._preview_stream = self._channel.unary_stream(
            f"/{_SERVICE}/Preview",
            request_serializer=pb.PreviewRequest.SerializeToString,
            response_deserializer=wire.decode_read_response)

    def __repr__(self):
        return (f"Client(address={self.address!r}, local={self.local!r}, "
                f"tls={self.tls is not None})")

    def close(self):
        """Closes the connection; its methods then raise ClosedError. Arrays
        already returned stay valid. Harmless if closed already."""
        self._closed = True
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @_translating_errors
    def put(self, name, array, pin=False, ttl=None, store_dtype=None):
        """Publishes `array` as the new version of `name` and returns its
        MatrixInfo. Readers of the previous version keep it unchanged.

        `array` is anything np.asarray accepts, of any layout and byte order;
        it is stored C-ordered and little-endian. A dtype matcache does not
        store raises InvalidArgumentError before anything is sent. `pin`
        keeps the matrix from being evicted; `ttl` (seconds) deletes it that
        long after the put began. Both replace the previous version's.
        `store_dtype` keeps the matrix as another dtype (float64 as float32
        or float16, say, to save memory), converting as numpy's astype does;
        MatrixInfo.original_dtype then tells the dtype that was put.

        Locally the data is written straight into the staging file the
        server creates, with pwrite through a descriptor the server hands
        over on its fd socket (the file is never mapped here: nothing another
        process does to it can fault in this one). A C-contiguous array of
        the stored dtype is written straight from its buffer; any other is
        converted block by block. When this process cannot reach the fd
        socket (not in the server's group, another host or container, a TCP
        address of a server without unix socket) or the server is busy, the
        client gives the staging file back (Abort) and streams the data
        instead, unless local=True (then NotLocalError).
        """
        array = np.asarray(array)
        original = dtypes.to_proto(array.dtype)
        code = original if store_dtype is None else dtypes.to_proto(store_dtype)
        dtype = dtypes.from_proto(code)
        retention = _retention(pin, ttl)
        if code != original:
            retention["original_dtype"] = original
        if self.local is not False:
            try:
                return self._put_local(name, array, code, dtype, retention)
            except errors.NotLocalError:
                if self.local:
                    raise
        return self._put_streamed(name, array, code, dtype, retention)

    def _put_local(self, name, array, code, dtype, retention):
        created = self._stub.Create(
            pb.CreateRequest(name=name, shape=array.shape, dtype=code,
                             **retention),
            timeout=self.timeout)
        try:
            fd = handoff.request_staging_fd(created.fd_socket, created.lease,
                                            self.timeout)
            try:
                segment.fill_staging(fd, created.path, created.id,
                                     created.data_offset, created.nbytes,
                                     array, dtype)
            finally:
                # Before Commit, which refuses while it is open for writing.
                os.close(fd)
            return MatrixInfo.from_proto(self._stub.Commit(
                pb.CommitRequest(lease=created.lease), timeout=self.timeout))
        except BaseException:
            self._abort(created.lease)
            raise

    def _abort(self, lease):
        # Best effort: the caller re-raises the error that got us here, and a
        # lease the server never hears about again expires on its own.
        try:
            self._stub.Abort(pb.AbortRequest(lease=lease), timeout=self.timeout)
        except grpc.RpcError as e:
            _log.warning("Abort of lease %s failed: %s", lease,
                         errors.from_rpc_error(e, self.address))

    def _put_streamed(self, name, array, code, dtype, retention):
        # Not np.ascontiguousarray: it turns a 0-d array into a 1-d one.
        # astype, not asarray: a dtype conversion may be unsafe on purpose.
        data = np.asarray(array.astype(dtype, copy=False), order="C")
        payload = memoryview(data.reshape(-1).view(np.uint8))

        def requests():
            yield wire.encode_put_header(name, array.shape, code, **retention)
            for start in range(0, len(payload), CHUNK_BYTES):
                yield wire.encode_put_data(payload[start:start + CHUNK_BYTES])

        return MatrixInfo.from_proto(self._put_stream(requests()))

    @_translating_errors
    def get(self, name):
        """Returns the current version of `name` as a read-only array.

        Locally the array is a view of the server's segment (no copy, O(1) in
        the size) that stays valid, unchanged, for as long as it or any view
        of it lives, whatever happens to the name meanwhile. Otherwise the
        data is streamed into a new array, also marked read-only.
        """
        if self.local is False:
            return self._read(name, index.BasicIndex(()))
        info = self._info(name)
        for _ in range(_MAP_ATTEMPTS):
            try:
                return segment.map_published(info)
            except errors.NotLocalError as e:
                error = e
            # A replace between Info and open unlinks the file we were told
            # of; while the server keeps naming new versions, try those.
            fresh = self._info(name)
            if fresh.id == info.id:
                break
            info = fresh
        if self.local:
            raise error
        return self._read(name, index.BasicIndex(()))

    @_translating_errors
    def read(self, name, key=(), dtype=None):
        """Returns `np.asarray(get(name))[key]`, then `.astype(dtype)` if
        `dtype` is given, as a new read-only array; only the selected
        elements travel, always streamed (also when the matrix is local).

        `key` is a numpy basic index: an int (numpy integers too), a slice,
        Ellipsis, or a tuple of these, with numpy's rules for negative and
        omitted bounds and negative steps; fewer parts than dimensions read
        the remaining dimensions whole. None/np.newaxis, booleans, lists and
        arrays raise InvalidArgumentError before anything is sent. An
        integer for every dimension gives a 0-d array. `dtype` is anything
        np.dtype accepts that matcache stores (InvalidArgumentError
        otherwise); the conversion is numpy's astype (casting="unsafe") and
        the result is little-endian.

        The data comes from one generation, even if the matrix is replaced
        or deleted while it streams. A key with an Ellipsis is expanded for
        the dimensions of the current generation, which is then read; when
        a replace makes it gone first, the next is tried, up to 8 (then
        FailedPreconditionError). Raises InvalidArgumentError (naming
        the offending part) for a step of 0, an integer out of range or
        more parts than dimensions; NotFoundError for an unknown name.
        """
        if dtype is None:
            return self._read(name, index.BasicIndex(key))
        code = dtypes.to_proto(dtype)
        return self._read(name, index.BasicIndex(key), code)

    def _read(self, name, key, dtype_code=pb.DTYPE_UNSPECIFIED):
        if not key.needs_ndim:
            return self._read_generation(name, key, dtype_code, None)
        # An Ellipsis inside the key: expand it for the dimensions of one
        # generation and read exactly that one. A replace in between makes
        # that generation gone; while the server keeps naming newer ones,
        # try those, as get does.
        info = self._info(name)
        for _ in range(_MAP_ATTEMPTS - 1):
            try:
                return self._read_generation(name, key, dtype_code, info)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise
                fresh = self._info(name)
                if fresh.generation == info.generation:
                    raise
                info = fresh
        return self._read_generation(name, key, dtype_code, info)

    def _read_generation(self, name, key, dtype_code, info):
        """Reads the current version, or with a MatrixInfo `info` that
        generation, expanding the key for its dimensions."""
        request = pb.ReadRequest(name=name, dtype=dtype_code,
                                 chunk_bytes=RECEIVE_CHUNK_BYTES)
        if info is None:
            request.index.extend(key.to_proto())
        else:
            request.generation = info.generation
            request.index.extend(key.to_proto(len(info.shape)))
        return self._receive(self._read_stream, request)

    @_translating_errors
    def preview(self, name, shape, method="mean"):
        """Returns `name` downsampled to `shape`, as a new read-only array:
        what a heatmap of a huge matrix draws.

        `shape` (a sequence of ints) gives the extents of the leading
        dimensions, 1 to ndim of them, each from 1 to the matrix's extent;
        the remaining dimensions are kept whole. Along a dimension of n
        split into t, output cell i covers source positions
        [floor(i*n/t), floor((i+1)*n/t)). `method` says how a cell
        summarizes its block: "mean" (computed and returned as float64, or
        complex128 for complex matrices), "min" or "max" (NaN if the block
        has one; stored dtype; not for complex matrices) or "first" (a
        stride pick; stored dtype).

        Raises InvalidArgumentError for an unknown method or a shape that is
        not a sequence of ints (before anything is sent), for a shape the
        matrix does not allow and for an output over 64 MiB; NotFoundError
        for an unknown name.
        """
        if method not in _PREVIEW_METHODS:
            raise errors.InvalidArgumentError(
                f"unknown preview method {method!r}: use one of "
                f"{', '.join(_PREVIEW_METHODS)}")
        return self._receive(self._preview_stream, pb.PreviewRequest(
            name=name, shape=_preview_shape(shape),
            method=_PREVIEW_METHODS[method], chunk_bytes=RECEIVE_CHUNK_BYTES))

    def _receive(self, stream, request):
        responses = stream(request)
        try:
            return _receive_array(responses)
        except BaseException:
            responses.cancel()
            raise

    @_translating_errors
    def info(self, name):
        """Returns the MatrixInfo of the current version of `name`."""
        return self._info(name)

    def _info(self, name):
        return MatrixInfo.from_proto(
            self._stub.Info(pb.InfoRequest(name=name), timeout=self.timeout))

    @_translating_errors
    def list(self, prefix=""):
        """Returns the MatrixInfo of every matrix whose name starts with
        `prefix`, in name order (all pages)."""
        result = []
        token = ""
        while True:
            page = self._stub.List(
                pb.ListRequest(prefix=prefix, page_token=token),
                timeout=self.timeout)
            result.extend(MatrixInfo.from_proto(m) for m in page.matrices)
            token = page.next_page_token
            if not token:
                return result

    @_translating_errors
    def delete(self, name, generation=0):
        """Removes `name`. With a non-zero `generation`, only if that is the
        current one (else FailedPreconditionError). Readers holding the
        matrix keep their arrays."""
        self._stub.Delete(pb.DeleteRequest(name=name, generation=generation),
                          timeout=self.timeout)

    @_translating_errors
    def load(self, name, path, eager=False):
        """Makes the .npy file `path` (absolute, or relative to the server's
        --data_dir, inside which it must resolve) the source of `name`:
        the server reads it on the first access, or now with `eager`, and
        again after an eviction. Returns the MatrixInfo; its generation is
        0 until the file has been read. PermissionDeniedError for a path
        outside --data_dir, InvalidArgumentError for a malformed file,
        FailedPreconditionError if the server has no --data_dir."""
        return MatrixInfo.from_proto(self._stub.Load(
            pb.LoadRequest(name=name, path=str(path), eager=eager),
            timeout=self.timeout))

    @_translating_errors
    def pin(self, name):
        """Pins `name` (never evicted, also after a server restart) and
        returns its MatrixInfo."""
        return MatrixInfo.from_proto(
            self._stub.Pin(pb.PinRequest(name=name), timeout=self.timeout))

    @_translating_errors
    def unpin(self, name):
        """Unpins `name` and returns its MatrixInfo."""
        return MatrixInfo.from_proto(
            self._stub.Unpin(pb.PinRequest(name=name), timeout=self.timeout))

    def watch(self, prefix="", initial=False):
        """Returns a Watch: an iterator of an Event per change of every
        matrix whose name starts with `prefix` (all with ""), kind "put" or
        "delete", in the server's commit order (across names too), each once
        info() can see it.

        With `initial`, the watch first yields a "put" Event (reason
        "snapshot") per matrix published now, in name order, then one
        "snapshot_complete"; the changes that follow are exactly those made
        after that snapshot. Without it, the changes made from about now.

        The watch has no deadline; iterate it in any thread and end it with
        its cancel() from any other, or use it as a context manager. A
        watcher that falls behind (the server keeps 1024 events for each, by
        default) is ended with EventsLostError: list again and watch anew.
        Sources not read yet are not in the snapshot; their first read is a
        "put" with reason "load".
        """
        if self._closed:
            raise errors.ClosedError(
                f"watch: this Client of {self.address} is closed")
        return self._watch(prefix, initial, None)

    def _watch(self, prefix, initial, timeout):
        return Watch(self._stub.Watch(
            pb.WatchRequest(prefix=prefix, initial=initial), timeout=timeout),
            self.address)

    @_translating_errors
    def wait_for(self, name, newer_than=0, timeout=None):
        """Returns the MatrixInfo of the first version of `name` whose
        generation is greater than `newer_than`: the current one at once if
        it is (also with a timeout of 0), else the first one published
        after. With `timeout` (seconds; None waits as long as it takes),
        DeadlineExceededError (also a TimeoutError) once that passes
        without one. Sources not read yet are not waited for: info() reads
        them."""
        expired = errors.DeadlineExceededError(
            f"no generation of {name!r} newer than {newer_than} within "
            f"{timeout} s", grpc.StatusCode.DEADLINE_EXCEEDED)
        if timeout is None:
            return self._wait_for(name, newer_than, None, None, expired)
        # The snapshot, which tells whether the current version will do, may
        # take as long as a unary call; only the wait after it ends at
        # `timeout` from now.
        deadline = time.monotonic() + timeout
        snapshot_timeout = (DEFAULT_TIMEOUT if self.timeout is None
                            else self.timeout)
        stream_timeout = max(timeout, 0) + snapshot_timeout
        try:
            return self._wait_for(name, newer_than, deadline, stream_timeout,
                                  expired)
        except errors.DeadlineExceededError:
            raise expired from None

    def _wait_for(self, name, newer_than, deadline, stream_timeout, expired):
        """wait_for, on a watch of `stream_timeout` seconds (None: no
        deadline) ended at the monotonic time `deadline` (None: never) once
        its snapshot is complete; raises `expired` then."""
        ended = threading.Event()
        timer = None
        try:
            with self._watch(name, True, stream_timeout) as events:

                def expire():
                    ended.set()
                    events.cancel()

                for event in events:
                    if (event.kind == "put" and event.name == name
                            and event.generation > newer_than):
                        return event.info
                    if (event.kind == "snapshot_complete"
                            and deadline is not None):
                        timer = threading.Timer(deadline - time.monotonic(),
                                                expire)
                        timer.daemon = True
                        timer.start()
        finally:
            if timer is not None:
                timer.cancel()
        if ended.is_set():
            raise expired
        raise errors.MatcacheError(
            f"the server ended the watch of {name!r} without an error")

    @_translating_errors
    def stats(self):
        """Returns the server-wide counters as a Stats."""
        return Stats.from_proto(
            self._stub.Stats(pb.StatsRequest(), timeout=self.timeout))


def _retention(pin, ttl):
    """Returns the pin and ttl_seconds fields of a put (a `ttl` of None or 0
    means none); InvalidArgumentError for a TTL that is not a finite,
    non-negative number of seconds."""
    fields = {"pin": bool(pin)}
    if ttl is None:
        return fields
    if (isinstance(ttl, (bool, np.bool_)) or not isinstance(ttl, numbers.Real)
            or not math.isfinite(ttl) or not 0 <= ttl < 2**62):
        raise errors.InvalidArgumentError(
            f"bad ttl {ttl!r}: expected a non-negative number of seconds")
    if ttl > 0:
        fields["ttl_seconds"] = max(1, round(float(ttl)))
    return fields


def _preview_shape(shape):
    """Returns a preview `shape` as a list of ints; InvalidArgumentError if
    it is not a sequence of 64-bit integers."""
    bad = errors.InvalidArgumentError(
        f"bad preview shape {shape!r}: expected a sequence of 64-bit ints")
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise bad
    extents = []
    for n in shape:
        if isinstance(n, (bool, np.bool_)):
            raise bad
        try:
            extents.append(operator.index(n))
        except TypeError:
            raise bad from None
    if any(not -2**63 <= n < 2**63 for n in extents):
        raise bad
    return extents


def _receive_array(responses):
    """Assembles a Read or Preview stream (a header, then data chunks) into
    a new read-only array."""
    header, _ = next(responses, (None, None))
    if header is None:
        raise errors.MatcacheError("the stream did not start with a header")
    out = np.empty(tuple(header.shape), dtypes.from_proto(header.dtype))
    if out.nbytes != header.nbytes:
        raise errors.MatcacheError(
            f"the stream's header announces {header.nbytes} bytes for shape "
            f"{out.shape} of {out.dtype}, which needs {out.nbytes}")
    flat = out.reshape(-1).view(np.uint8)
    received = 0
    for _, data in responses:
        if data is None:
            raise errors.MatcacheError(
                "the stream sent a message without data after the header")
        end = received + len(data)
        if end > flat.size:
            raise errors.MatcacheError(
                f"the stream sent more than the {flat.size} bytes announced")
        flat[received:end] = np.frombuffer(data, dtype=np.uint8)
        received = end
    if received != flat.size:
        raise errors.MatcacheError(
            f"the stream ended after {received} of {flat.size} bytes")
    out.flags.writeable = False
    return out
