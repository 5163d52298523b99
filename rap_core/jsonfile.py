"""Reading our JSON files (fit cache entries, sessions) as the hostile input they may be.

A cache or session file is data on disk that anything may have written: a FIFO, a 2 GB file,
`1e400`, `NaN`, a 10,000-digit integer or 100,000 nested brackets. Python's json module turns
these into a hang, a MemoryError, inf/nan floats that later poison arithmetic, or a RecursionError.
Here every one of them is a `CorruptJSON` (a ValueError) with a short reason, and a non-regular
file is a `RapError` that never opens it — so callers have exactly two outcomes to handle:
"use it" or "discard it (and say so)".
"""

from __future__ import annotations

import json
import math
import os
import stat

from rap_core.atomic import file_kind
from rap_core.errors import RapError

MAX_BYTES = 64 << 20  # far above any real fit (P = 5,000 features is ~1 MB) or session
_MAX_INT_DIGITS = 30


class CorruptJSON(ValueError):
    """The file is not strict, finite, reasonably sized JSON (the message says why)."""


def read_json_file(path: str | os.PathLike, what: str, *, max_bytes: int = MAX_BYTES):
    """The parsed JSON value in `path`.

    Raises FileNotFoundError when absent, RapError when it is not a regular file (never opened
    in a blocking way), OSError when unreadable, CorruptJSON for anything that is not strict JSON.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without waiting for a writer
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise RapError(f"{what} {path} is a directory; give the path of a {what} file")
        if not stat.S_ISREG(st.st_mode):
            raise RapError(f"{what} {path} is {file_kind(st.st_mode)}, not a regular file; give "
                           f"the path of a {what} file")
        if st.st_size > max_bytes:
            raise CorruptJSON(f"it is {st.st_size} bytes, more than the {max_bytes} a {what} "
                              f"can be")
        with os.fdopen(os.dup(fd), "rb") as fh:
            raw = fh.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        raise CorruptJSON(f"it grew past {max_bytes} bytes while being read")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptJSON("it is not UTF-8 text") from None
    return parse_strict(text)


def parse_strict(text: str):
    """json.loads without NaN/Infinity, non-finite floats (1e400), huge integers or deep nesting."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_bounded_int)
    except RecursionError:
        raise CorruptJSON("it is nested too deeply") from None
    except CorruptJSON:
        raise
    except ValueError as exc:  # JSONDecodeError and int-conversion limits
        raise CorruptJSON(f"it is not valid JSON ({str(exc).splitlines()[0][:80]})") from None


def _refuse_constant(name: str):
    raise CorruptJSON(f"it holds {name}, which strict JSON does not allow")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise CorruptJSON(f"it holds the number {text[:20]}, which overflows a float")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise CorruptJSON(f"it holds a {len(text)}-digit integer")
    return int(text)
