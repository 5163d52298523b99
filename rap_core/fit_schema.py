"""The schema of a fit as stored in the cache (and the bundled demo fit): checked field by field.

A cache entry is input like any other: a hand edit, a disk error or another program may have put
nulls where coefficients belong, a string where a number belongs, an index out of range. A
coefficient of null used to become NaN and quietly change the rule (6 votes instead of 2). Every
field is checked here before `Fit.from_json_dict` builds anything; anything off raises ValueError
naming the field, and the caller discards the entry and refits.
"""

from __future__ import annotations

import math
import re

MAX_COEF = 1e9       # |coefficient|; cutlass's L1 path and ±K votes are far below
MAX_K = 1e6          # the same bound FitParams puts on K
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


def check_fit_json(data) -> None:
    """Raise ValueError (naming the field) unless `data` is a well-formed stored fit."""
    if not isinstance(data, dict):
        raise ValueError("a fit must be a JSON object")
    if not isinstance(data.get("data_sha256"), str) or not _SHA256.match(data["data_sha256"]):
        raise ValueError("data_sha256 must be 64 hex digits")
    if not isinstance(data.get("cutlass_version"), str):
        raise ValueError("cutlass_version must be a string")
    if not isinstance(data.get("params"), dict):
        raise ValueError("params must be an object")
    p = _check_ranges(data.get("ranges"))
    for key in ("l1_coef", "coef"):
        _numbers(data.get(key), key, length=p, bound=MAX_COEF)
    for key in ("l1_intercept", "intercept", "j0", "C"):
        _number(data.get(key), key, bound=MAX_COEF)
    if not isinstance(data.get("adopted"), bool):
        raise ValueError("adopted must be true or false")
    k_scale = _number(data.get("K"), "K", bound=MAX_K)
    if not k_scale > 0:
        raise ValueError("K must be > 0")
    curve = data.get("j_curve")
    _numbers(curve, "j_curve", bound=1.0)
    if len(curve) > p:
        raise ValueError("j_curve is longer than the feature count")
    order = data.get("j_order")
    if not isinstance(order, list) or len(order) > p:
        raise ValueError("j_order must be a list no longer than the feature count")
    if any(not _is_int(i) or not 0 <= i < p for i in order) or len(set(order)) != len(order):
        raise ValueError("j_order must hold distinct feature indices")
    k = data.get("k_chosen")
    if not _is_int(k) or not 0 <= k <= p:
        raise ValueError("k_chosen must be a whole number between 0 and the feature count")
    if "elapsed_s" in data:
        elapsed = _number(data["elapsed_s"], "elapsed_s", bound=1e9)
        if elapsed < 0:
            raise ValueError("elapsed_s must be >= 0")


def _check_ranges(ranges) -> int:
    if not isinstance(ranges, dict):
        raise ValueError("ranges must be an object")
    features = ranges.get("features")
    if not isinstance(features, list) or not features:
        raise ValueError("ranges.features must be a non-empty list")
    if not all(isinstance(f, str) and f for f in features) or len(set(features)) != len(features):
        raise ValueError("ranges.features must be distinct, non-empty names")
    p = len(features)
    rmin = _numbers(ranges.get("rmin"), "ranges.rmin", length=p, nullable=True)
    rmax = _numbers(ranges.get("rmax"), "ranges.rmax", length=p, nullable=True)
    pairs = zip(rmin, rmax, strict=True)
    if any(lo is not None and hi is not None and lo > hi for lo, hi in pairs):
        raise ValueError("ranges: a range has rmin > rmax")
    return p


def _numbers(values, key: str, *, length: int | None = None, bound: float = math.inf,
             nullable: bool = False) -> list:
    if not isinstance(values, list):
        raise ValueError(f"{key} must be a list")
    if length is not None and len(values) != length:
        raise ValueError(f"{key} has {len(values)} values for {length} features")
    for value in values:
        if value is None and nullable:
            continue
        _number(value, key, bound=bound)
    return values


def _number(value, key: str, *, bound: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, got {str(value)[:20]}")
    if not math.isfinite(value) or abs(value) > bound:
        raise ValueError(f"{key} is out of range ({value:g})")
    return float(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
