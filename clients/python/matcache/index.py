"""numpy basic indices for Read: checking a key, encoding it as Index
messages, and parsing its text form ("::10,100:-100").

A key is what goes between the brackets of `array[...]` in numpy basic
indexing: an integer (drops its dimension; negative counts from the end), a
slice (keeps it), an Ellipsis (as many whole dimensions as needed), or a tuple
of these. Everything else numpy would accept -- None/np.newaxis, booleans,
lists and arrays (advanced indexing) -- is refused with InvalidArgumentError.
"""

import operator
import re

import numpy as np

from matcache.errors import InvalidArgumentError
from matcache.v1 import matcache_pb2 as pb

_INT64_MAX = 2**63 - 1
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def _describe(part):
    text = repr(part)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(part).__name__})"


def _refuse(part, why):
    raise InvalidArgumentError(
        f"unsupported index {_describe(part)}: {why}; matcache reads take "
        "ints, slices and Ellipsis (numpy basic indexing)")


def _integer(value):
    """Returns `value` as an int if it is an integer other than a bool, else
    None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _clamp(value):
    # numpy clamps slice bounds and steps to the index-sized integers; that
    # never changes which positions a slice selects.
    return max(-_INT64_MAX, min(_INT64_MAX, value))


def _slice_message(part):
    fields = {}
    for field in ("start", "stop", "step"):
        bound = getattr(part, field)
        if bound is None:
            continue
        value = _integer(bound)
        if value is None:
            _refuse(part, f"its {field} is not an integer")
        fields[field] = _clamp(value)
    return pb.Index(slice=pb.Slice(**fields))


def _part_message(part):
    if part is None:
        _refuse(part, "None (np.newaxis) would insert a dimension")
    if isinstance(part, slice):
        return _slice_message(part)
    if isinstance(part, (list, tuple)) or (isinstance(part, np.ndarray)
                                           and part.ndim > 0):
        _refuse(part, "a sequence or array is advanced indexing")
    if isinstance(part, (bool, np.bool_)):
        _refuse(part, "a boolean is advanced indexing")
    value = _integer(part)
    if value is None:
        _refuse(part, "not an integer, slice or Ellipsis")
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise InvalidArgumentError(
            f"index {value} is out of bounds: it does not fit in 64 bits")
    return pb.Index(at=value)


def _split(key):
    """Returns (parts before the Ellipsis, parts after it); all parts and
    () when there is none."""
    key = key if isinstance(key, tuple) else (key,)
    # Identity, not ==: an array part would compare element-wise.
    ellipses = [i for i, part in enumerate(key) if part is Ellipsis]
    if len(ellipses) > 1:
        raise InvalidArgumentError(
            "an index can only have a single Ellipsis (...)")
    if not ellipses:
        return key, ()
    return key[:ellipses[0]], key[ellipses[0] + 1:]


class BasicIndex:
    """A checked key, ready to be sent as the Index messages of a Read.

    Construction raises InvalidArgumentError, naming the part, for None,
    booleans, lists, arrays, floats and anything else that is not an int, a
    slice or Ellipsis; for an integer beyond 64 bits; and for more than one
    Ellipsis. It talks to no server.
    """

    def __init__(self, key):
        before, after = _split(key)
        self._before = [_part_message(part) for part in before]
        self._after = [_part_message(part) for part in after]

    @property
    def needs_ndim(self):
        """Whether to_proto needs the matrix's number of dimensions: only
        when an Ellipsis is followed by other parts."""
        return bool(self._after)

    def to_proto(self, ndim=None):
        """Returns the Index messages, one per leading dimension.

        An Ellipsis becomes as many whole-dimension slices as `ndim` leaves
        (none if the other parts already cover `ndim` or more dimensions;
        the server then refuses the surplus). `ndim` may be None unless
        needs_ndim; missing trailing dimensions are read whole.
        """
        if not self._after:
            return list(self._before)
        explicit = len(self._before) + len(self._after)
        whole = [pb.Index(slice=pb.Slice())] * max(0, ndim - explicit)
        return self._before + whole + self._after


def _parse_integer(text, part):
    if not _INTEGER_TEXT.fullmatch(text):
        raise InvalidArgumentError(
            f"bad index {part!r}: {text!r} is not an integer")
    return int(text)


def _parse_part(part):
    text = part.strip()
    if text == "...":
        return Ellipsis
    if ":" not in text:
        if not text:
            raise InvalidArgumentError("bad index: an empty part")
        return _parse_integer(text, part)
    fields = text.split(":")
    if len(fields) > 3:
        raise InvalidArgumentError(
            f"bad index {part!r}: a slice is start:stop[:step]")
    bounds = [_parse_integer(f.strip(), part) if f.strip() else None
              for f in fields]
    return slice(*bounds)


def parse(text):
    """Parses the text form of a key: comma-separated parts, each an integer,
    a slice start:stop[:step] with any bound omitted, or "..." (spaces around
    parts are ignored). Returns the key as a tuple, for example
    (slice(None, None, 10), slice(100, -100, None)) for "::10,100:-100".

    Raises InvalidArgumentError, naming the offending part, for anything
    else (including empty text and empty parts). Never evaluates the text.
    """
    if not text.strip():
        raise InvalidArgumentError("bad index: the text is empty")
    return tuple(_parse_part(part) for part in text.split(","))
