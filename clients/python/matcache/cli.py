"""The `matcache` command line: list, inspect, put, get and remove matrices.

Every failure prints one line, "matcache: error: <message>", to stderr and
exits with status 1.
"""

import argparse
import sys

import numpy as np

from matcache.client import ADDRESS_ENV, DEFAULT_ADDRESS, Client
from matcache.errors import MatcacheError

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


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
    rows = [("NAME", "SHAPE", "DTYPE", "SIZE", "GEN", "CREATED")]
    for info in client.list(args.prefix):
        rows.append((info.name, format_shape(info.shape), str(info.dtype),
                     format_bytes(info.nbytes), str(info.generation),
                     format_time(info.created)))
    print(_table(rows))


def _cmd_info(client, args):
    info = client.info(args.name)
    fields = [
        ("name", info.name),
        ("shape", str(info.shape)),
        ("dtype", str(info.dtype)),
        ("size", f"{format_bytes(info.nbytes)} ({info.nbytes} bytes)"),
        ("generation", str(info.generation)),
        ("id", info.id.hex()),
        ("created", format_time(info.created)),
        ("path", info.path),
        ("data offset", str(info.data_offset)),
        ("strides", str(info.strides)),
        ("source", info.source or "-"),
        ("checksum", f"{info.checksum:016x}"),
    ]
    print("\n".join(f"{key + ':':<13}{value}" for key, value in fields))


def _load_npy(path):
    try:
        array = np.load(path, mmap_mode="r")
    except ValueError as e:
        raise CliError(f"{path}: cannot load: {e}") from e
    if not isinstance(array, np.ndarray):
        raise CliError(f"{path}: not a .npy file")
    return array


def _cmd_put(client, args):
    info = client.put(args.name, _load_npy(args.file))
    print(f"{info.name}: {format_shape(info.shape)} {info.dtype}, "
          f"{format_bytes(info.nbytes)}, generation {info.generation}")


def _cmd_get(client, args):
    array = client.get(args.name)
    with open(args.out, "wb") as f:
        np.save(f, array)


def _cmd_rm(client, args):
    client.delete(args.name)


def _cmd_stats(client, args):
    s = client.stats()
    print(f"matrices:     {s.matrix_count} ({format_bytes(s.matrix_bytes)})\n"
          f"staging:      {s.staging_count} ({format_bytes(s.staging_bytes)})\n"
          f"shm dir:      {s.shm_dir}\n"
          f"shm free:     {format_bytes(s.shm_dir_free_bytes)} of "
          f"{format_bytes(s.shm_dir_total_bytes)}\n"
          f"quarantined:  {s.quarantined_count}")


def _parser():
    parser = argparse.ArgumentParser(
        prog="matcache", description="Talk to a matcached server.")
    parser.add_argument(
        "--address",
        help=f"server address, unix:PATH or HOST:PORT (default: "
             f"${ADDRESS_ENV}, else {DEFAULT_ADDRESS})")
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
    put.set_defaults(run=_cmd_put)

    get = commands.add_parser("get", help="save matrix NAME to a .npy file")
    get.add_argument("name", metavar="NAME")
    get.add_argument("out", metavar="OUT.npy")
    get.set_defaults(run=_cmd_get)

    rm = commands.add_parser("rm", help="remove a matrix")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(run=_cmd_rm)

    stats = commands.add_parser("stats", help="show server-wide counters")
    stats.set_defaults(run=_cmd_stats)
    return parser


def _describe(error):
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename is not None else ""
        return f"{where}: {error.strerror}" if where else error.strerror
    return str(error)


def main(argv=None):
    """Runs the command line with `argv` (default sys.argv[1:]); returns the
    exit status: 0 on success, 1 on any error (after one line on stderr)."""
    args = _parser().parse_args(argv)
    try:
        with Client(args.address) as client:
            args.run(client, args)
    except (MatcacheError, CliError, OSError) as e:
        print(f"matcache: error: {_describe(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
