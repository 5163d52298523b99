"""Critical ranges: cutlass's Rectifier, mapped onto the dataset's own feature order.

The Rectifier (cutlass) learns [rmin, rmax] per feature from the positive class; a NaN side is
open (−∞ / +∞). It reorders features by group prefix internally; everything in rap_core uses the
file's column order, so `rectify` maps the ranges back by name.

`indicators` re-implements only the comparison (+1 inside, −1 outside) so that it is vectorised
into int8 for 100k-row tables; a test pins it to `Rectifier.transform` exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rap_core.cache import float_or_nan, json_float


@dataclass(frozen=True, eq=False)
class Ranges:
    """Per feature (dataset order): its group, lag and critical range."""

    features: tuple[str, ...]
    groups: tuple[str, ...]
    lags: tuple[int | None, ...]
    rmin: np.ndarray
    rmax: np.ndarray

    @property
    def n_features(self) -> int:
        return len(self.features)

    def to_json_dict(self) -> dict:
        return {
            "features": list(self.features),
            "rmin": [json_float(v) for v in self.rmin],
            "rmax": [json_float(v) for v in self.rmax],
        }

    @classmethod
    def from_json_dict(cls, data: dict) -> Ranges:
        features = tuple(data["features"])
        return make_ranges(
            features,
            np.array([float_or_nan(v) for v in data["rmin"]], dtype=np.float64),
            np.array([float_or_nan(v) for v in data["rmax"]], dtype=np.float64),
        )


def split_feature_name(name: str) -> tuple[str, int | None]:
    """cutlass's grouping rule: group = the name without its trailing digits; lag = those digits."""
    prefix = name.rstrip("0123456789")
    digits = name[len(prefix):]
    return (prefix, int(digits)) if digits else (name, None)


def make_ranges(features, rmin: np.ndarray, rmax: np.ndarray) -> Ranges:
    split = [split_feature_name(f) for f in features]
    return Ranges(features=tuple(features), groups=tuple(g for g, _ in split),
                  lags=tuple(lag for _, lag in split),
                  rmin=np.asarray(rmin, dtype=np.float64), rmax=np.asarray(rmax, dtype=np.float64))


def rectify(dataset, params=None) -> Ranges:
    """Run cutlass's Rectifier (fast: a few column statistics) on the positives."""
    from cutlass import Rectifier

    rectifier = Rectifier(sdfilter=getattr(params, "sdfilter", 3.0),
                          snap=getattr(params, "snap", 0.001))
    rectifier.fit(dataset.frame(), dataset.y)
    return ranges_from_rectifier(dataset.features, rectifier.feature_names_,
                                 rectifier.rmin_, rectifier.rmax_)


def ranges_from_rectifier(features, rect_names, rmin, rmax) -> Ranges:
    """Reorder a Rectifier's (rmin_, rmax_) from its group order to `features` order."""
    position = {name: i for i, name in enumerate(rect_names)}
    order = np.array([position[f] for f in features], dtype=np.intp)
    return make_ranges(features, np.asarray(rmin, dtype=np.float64)[order],
                       np.asarray(rmax, dtype=np.float64)[order])


def indicators(X: np.ndarray, ranges: Ranges) -> np.ndarray:
    """int8 (n, P): +1 where the value lies in [rmin, rmax] (NaN bound = open), −1 outside."""
    values = np.asarray(X)
    with np.errstate(invalid="ignore"):
        outside = values < ranges.rmin  # NaN bound compares False: open side
        outside |= values > ranges.rmax
    out = np.ones(values.shape, dtype=np.int8)
    out[outside] = -1
    return out


def inside_rates(ind: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of positives and of negatives inside each feature's range."""
    positive = np.asarray(y) == 1
    inside = ind == 1
    pos = inside[positive].mean(axis=0) if positive.any() else np.zeros(ind.shape[1])
    neg = inside[~positive].mean(axis=0) if (~positive).any() else np.zeros(ind.shape[1])
    return pos, neg


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"


def format_range(rmin: float, rmax: float) -> str:
    """"[0.41, 0.97]" with −∞ / +∞ for open sides."""
    lower = "(−∞" if math.isnan(rmin) else f"[{_number(rmin)}"
    upper = "+∞)" if math.isnan(rmax) else f"{_number(rmax)}]"
    return f"{lower}, {upper}"
