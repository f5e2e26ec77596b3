"""The `matcache` command line: list, inspect, put, get (whole, sliced or
cast), preview, remove and watch matrices.

Every failure prints one line, "matcache: error: <message>", to stderr and
exits with status 1. Ctrl-C (SIGINT) ends any command, `watch` included,
with status 130 and no traceback.
"""

import argparse
import os
import re
import sys

import numpy as np

from matcache import __version__, index
from matcache.channel import (TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV,
                              TOKEN_ENV)
from matcache.client import ADDRESS_ENV, Client
from matcache.errors import MatcacheError

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_SHAPE_TEXT = re.compile(r"[0-9]+(x[0-9]+)*")
_NPY_MAGIC = b"\x93NUMPY"


class CliError(Exception):
    """A user error detected by the command line itself."""


def format_bytes(n):
    """Returns `n` bytes in binary units: "512 B", "1.5 KiB", "1.0 GiB"."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in _UNITS[1:]:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"


def format_shape(shape):
    """Returns a shape as "3x4"; "()" for a 0-d matrix."""
    return "x".join(str(n) for n in shape) if shape else "()"


def format_time(moment):
    """Returns an aware datetime as "YYYY-MM-DD HH:MM:SS UTC"."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in rows)


def _cmd_ls(client, args):
    rows = [("NAME", "SHAPE", "DTYPE", "SIZE", "GEN", "CREATED", "PINNED",
             "EXPIRES")]
    for info in client.list(args.prefix):
        loaded = info.generation != 0  # else a source not read yet
        rows.append((info.name, format_shape(info.shape), str(info.dtype),
                     format_bytes(info.nbytes),
                     str(info.generation) if loaded else "-",
                     format_time(info.created) if loaded else "not loaded",
                     "yes" if info.pinned else "no",
                     format_time(info.expires) if info.expires else "never"))
    print(_table(rows))


def _cmd_info(client, args):
    info = client.info(args.name)
    fields = [
        ("name", info.name),
        ("shape", str(info.shape)),
        ("dtype", str(info.dtype) if info.original_dtype == info.dtype
         else f"{info.dtype} (put as {info.original_dtype})"),
        ("size", f"{format_bytes(info.nbytes)} ({info.nbytes} bytes)"),
        ("generation", str(info.generation)),
        ("id", info.id.hex()),
        ("created", format_time(info.created)),
        ("path", info.path),
        ("data offset", str(info.data_offset)),
        ("strides", str(info.strides)),
        ("source", info.source or "-"),
        ("checksum", f"{info.checksum:016x}"),
        ("pinned", "yes" if info.pinned else "no"),
        ("expires", format_time(info.expires) if info.expires else "never"),
        ("last access",
         format_time(info.last_access) if info.last_access else "-"),
    ]
    print("\n".join(f"{key + ':':<13}{value}" for key, value in fields))


def _load_npy(path):
    with open(path, "rb") as f:
        if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise CliError(f"{path}: not a .npy file (numpy.save writes them)")
    # Read into memory, not mapped: another process may shrink the file
    # meanwhile, and reading a mapping past the end of a file kills the
    # process (SIGBUS); a read just comes up short.
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as e:
        raise CliError(f"{path}: cannot load: {e}") from e
    return array


def _cmd_put(client, args):
    info = client.put(args.name, _load_npy(args.file), pin=args.pin,
                      ttl=args.ttl, store_dtype=args.store_dtype)
    print(f"{info.name}: {format_shape(info.shape)} {info.dtype}, "
          f"{format_bytes(info.nbytes)}, generation {info.generation}")


def parse_shape(text):
    """Returns the extents of a shape written "AxB[xC...]" ("500x500") as a
    tuple of ints; CliError for anything else."""
    if not _SHAPE_TEXT.fullmatch(text):
        raise CliError(
            f"bad shape {text!r}: expected extents joined by x, like 500x500")
    return tuple(int(n) for n in text.split("x"))


def _save_npy(path, array):
    with open(path, "wb") as f:
        np.save(f, array)


def _cmd_get(client, args):
    if args.slice is None and args.dtype is None:
        array = client.get(args.name)
    else:
        key = () if args.slice is None else index.parse(args.slice)
        array = client.read(args.name, key, args.dtype)
    _save_npy(args.out, array)


def _cmd_preview(client, args):
    _save_npy(args.out, client.preview(args.name, parse_shape(args.shape),
                                       args.method))


def _cmd_rm(client, args):
    client.delete(args.name)


def _cmd_load(client, args):
    info = client.load(args.name, args.path, eager=args.eager)
    state = (f"loaded, generation {info.generation}" if info.generation
             else "read on first access")
    print(f"{info.name}: {format_shape(info.shape)} {info.dtype}, "
          f"{format_bytes(info.nbytes)} from {info.source} ({state})")


def _cmd_pin(client, args):
    client.pin(args.name)


def _cmd_unpin(client, args):
    client.unpin(args.name)


def format_event(event):
    """Returns one line telling a watch Event: "put NAME generation G
    (REASON): SHAPE DTYPE, SIZE", "delete NAME generation G (REASON)" or
    "snapshot complete"."""
    if event.kind == "snapshot_complete":
        return "snapshot complete"
    line = f"{event.kind} {event.name} generation {event.generation} ({event.reason})"
    if event.kind == "put":
        info = event.info
        line += (f": {format_shape(info.shape)} {info.dtype}, "
                 f"{format_bytes(info.nbytes)}")
    return line


def _cmd_watch(client, args):
    with client.watch(args.prefix, initial=args.initial) as events:
        for event in events:
            print(format_event(event), flush=True)


def _cmd_stats(client, args):
    s = client.stats()
    print(f"matrices:     {s.matrix_count} ({format_bytes(s.matrix_bytes)})\n"
          f"staging:      {s.staging_count} ({format_bytes(s.staging_bytes)})\n"
          f"budget:       {format_bytes(s.used_bytes)} used of "
          f"{format_bytes(s.max_bytes) if s.max_bytes else 'no limit'}\n"
          f"spare file:   {format_bytes(s.spare_bytes)} (preallocated for "
          f"the next put; part of the used bytes)\n"
          f"lookups:      {s.hits} hits, {s.misses} misses\n"
          f"evictions:    {s.evictions}, expirations: {s.expirations}, "
          f"loads: {s.loads}\n"
          f"shm dir:      {s.shm_dir}\n"
          f"shm free:     {format_bytes(s.shm_dir_free_bytes)} of "
          f"{format_bytes(s.shm_dir_total_bytes)}\n"
          f"quarantined:  {s.quarantined_count}\n"
          f"watchers:     {s.watchers} ({s.dropped_watchers} dropped for "
          f"falling behind)")


def _parser():
    parser = argparse.ArgumentParser(
        prog="matcache", description="Talk to a matcached server.")
    parser.add_argument("--version", action="version",
                        version=f"matcache {__version__}")
    parser.add_argument(
        "--address",
        help=f"server address, unix:PATH or HOST:PORT (default: "
             f"${ADDRESS_ENV}, else the socket in /run/matcache, else the "
             f"one in /tmp/matcache, each only if no user but root or you "
             f"could have put it there)")
    parser.add_argument(
        "--token",
        help=f"access token of a server that requires one (default: "
             f"${TOKEN_ENV}; prefer the variable: other users can see a "
             f"command line)")
    parser.add_argument(
        "--tls-ca", metavar="PEM",
        help=f"use TLS, trusting the server certificate this CA signed "
             f"(HOST:PORT addresses only; default: ${TLS_CA_ENV})")
    parser.add_argument(
        "--tls-cert", metavar="PEM",
        help=f"client certificate, for a server that requires one (with "
             f"--tls-key; default: ${TLS_CERT_ENV})")
    parser.add_argument(
        "--tls-key", metavar="PEM",
        help=f"private key of --tls-cert (default: ${TLS_KEY_ENV})")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="COMMAND")

    ls = commands.add_parser("ls", help="list matrices")
    ls.add_argument("prefix", nargs="?", default="", metavar="PREFIX",
                    help="only names starting with PREFIX")
    ls.set_defaults(run=_cmd_ls)

    info = commands.add_parser("info", help="show every field of a matrix")
    info.add_argument("name", metavar="NAME")
    info.set_defaults(run=_cmd_info)

    put = commands.add_parser("put", help="publish a .npy file as NAME")
    put.add_argument("file", metavar="FILE.npy")
    put.add_argument("name", metavar="NAME")
    put.add_argument("--pin", action="store_true",
                     help="never evict the matrix to make room")
    put.add_argument("--ttl", type=float, metavar="SECONDS",
                     help="delete the matrix this many seconds from now")
    put.add_argument("--store_dtype", metavar="DTYPE",
                     help="store the matrix as this dtype (e.g. float32)")
    put.set_defaults(run=_cmd_put)

    get = commands.add_parser(
        "get", help="save matrix NAME, or a slice of it, to a .npy file")
    get.add_argument("name", metavar="NAME")
    get.add_argument("out", metavar="OUT.npy")
    get.add_argument(
        "--slice", metavar="INDEX",
        help="numpy basic index: comma-separated parts, each an integer, "
             "start:stop[:step] or ..., e.g. '::10,100:-100' (write "
             "--slice=INDEX when INDEX starts with -)")
    get.add_argument("--dtype", metavar="DTYPE",
                     help="convert to this dtype (numpy astype), e.g. float32")
    get.set_defaults(run=_cmd_get)

    preview = commands.add_parser(
        "preview", help="save matrix NAME downsampled to SHAPE to a .npy file")
    preview.add_argument("name", metavar="NAME")
    preview.add_argument(
        "shape", metavar="SHAPE",
        help="extents of the leading dimensions, e.g. 500x500")
    preview.add_argument("out", metavar="OUT.npy")
    preview.add_argument(
        "--method", choices=("mean", "min", "max", "first"), default="mean",
        help="how a cell summarizes its block (default: mean)")
    preview.set_defaults(run=_cmd_preview)

    rm = commands.add_parser("rm", help="remove a matrix")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(run=_cmd_rm)

    load = commands.add_parser(
        "load", help="make a .npy file on the server the source of NAME")
    load.add_argument("name", metavar="NAME")
    load.add_argument("path", metavar="PATH",
                      help="absolute, or relative to the server's --data_dir")
    load.add_argument("--eager", action="store_true",
                      help="read it now rather than on first access")
    load.set_defaults(run=_cmd_load)

    pin = commands.add_parser("pin", help="never evict matrix NAME")
    pin.add_argument("name", metavar="NAME")
    pin.set_defaults(run=_cmd_pin)

    unpin = commands.add_parser("unpin", help="let matrix NAME be evicted")
    unpin.add_argument("name", metavar="NAME")
    unpin.set_defaults(run=_cmd_unpin)

    watch = commands.add_parser(
        "watch", help="print a line per change of the matrices, until Ctrl-C")
    watch.add_argument("prefix", nargs="?", default="", metavar="PREFIX",
                       help="only names starting with PREFIX")
    watch.add_argument("--initial", action="store_true",
                       help="first print a line per matrix published now")
    watch.set_defaults(run=_cmd_watch)

    stats = commands.add_parser("stats", help="show server-wide counters")
    stats.set_defaults(run=_cmd_stats)
    return parser


def _describe(error):
    if isinstance(error, MatcacheError):
        return str(error)  # names what failed, also for a LocalIOError
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename is not None else ""
        return f"{where}: {error.strerror}" if where else error.strerror
    return str(error)


def main(argv=None):
    """Runs the command line with `argv` (default sys.argv[1:]); returns the
    exit status: 0 on success, 1 on any error (after one line on stderr)."""
    args = _parser().parse_args(argv)
    try:
        with Client(args.address, token=args.token, tls_ca=args.tls_ca,
                    tls_cert=args.tls_cert, tls_key=args.tls_key) as client:
            args.run(client, args)
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`matcache ls | head -1`): not an error.
        # Later flushes of stdout must not fail again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (MatcacheError, CliError, OSError) as e:
        print(f"matcache: error: {_describe(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
