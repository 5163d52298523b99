"""The fit cache: one JSON file per (data, parameters, cutlass version).

A cutlass fit of a few thousand rows takes minutes; reopening the same data with the same
parameters should take milliseconds. Design choices:
- JSON only, never pickle: a cache file is data a user may inspect, copy or delete, and loading it
  can never execute code.
- The key hashes the dataset fingerprint (its parsed content, not its file bytes), the parameters
  and the cutlass version, so a new cutlass release never serves an old fit.
- A file that cannot be read or parsed, or whose content is not a valid fit (`Fit.from_json_dict`
  checks every field), is treated as absent: the caller refits and overwrites it. A FIFO or
  device at an entry's path is refused with one line, never opened (it would hang).
  A full disk or a read-only cache directory never fails a fit; the result just is not kept.
- The directory honours `$XDG_CACHE_HOME` at call time (tests set it per test).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from pathlib import Path

from rap_core.atomic import write_text_atomic
from rap_core.errors import RapError
from rap_core.jsonfile import CorruptJSON, read_json_file

APP_DIR = "rap-studio"


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/rap-studio` (default `~/.cache/rap-studio`)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / APP_DIR


def fit_key(data_sha256: str, params: dict, cutlass_version: str) -> str:
    """sha256 over the canonical JSON of (data fingerprint, parameters, cutlass version)."""
    canonical = json.dumps({"data": data_sha256, "params": params, "cutlass": cutlass_version},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fit_path(key: str, directory: str | os.PathLike | None = None) -> Path:
    return Path(directory if directory is not None else cache_dir()) / "fits" / f"{key}.json"


def read_json(path: str | os.PathLike) -> dict | None:
    """The JSON object in `path`, or None when it is missing, unreadable, corrupt (1e400, NaN,
    deep nesting: rap_core.jsonfile) or not an object. A FIFO or other non-regular file at the
    path is a RapError: it is never opened for reading (that would hang) nor replaced."""
    try:
        data = read_json_file(path, "cache entry")
    except (OSError, CorruptJSON):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: str | os.PathLike, payload: dict) -> Path | None:
    """Write `payload` atomically as strict JSON; None (not an error) if the disk refuses."""
    text = json.dumps(payload, allow_nan=False, separators=(",", ":"))
    with contextlib.suppress(OSError, RapError):
        return write_text_atomic(path, text + "\n")
    return None


def json_float(value: float) -> float | None:
    """A float for strict JSON: NaN/±inf become null."""
    value = float(value)
    return value if math.isfinite(value) else None


def float_or_nan(value) -> float:
    return math.nan if value is None else float(value)
