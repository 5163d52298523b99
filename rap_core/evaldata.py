"""The evaluation dataset "needle": 256 features, three of which decide the label.

The demo has 80 features, four of them true: too few distractor positions for a prior to have
much to rule out. `rap eval` is therefore run on the demo as it ships *and* on this generated
table, built the same way (docs/EVIDENCE.md says why):

- 32 variables `N01`..`N32` at lags t0..t7 (256 features `N01_t0` … `N32_t7`, variable-major);
  each variable an AR(1) series over its lags (neighbouring lags correlate, so the distractors
  next to a true feature carry part of its signal), censored at ±2 SD like the demo.
- The target `INDC` is an AND of three critical ranges on three different variables (about 62%
  of rows inside each, so prevalence ≈ 0.24): `GROUND_TRUTH`, the oracle prior's source.
- With the query position the sequence has 257 positions, 253 of them distractors.

Deterministic for a given (n_rows, seed); written with `rap eval-data` / `dev/make_needle.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rap_core.demo import CENSOR_SD, TARGET, _round4

SEED = 20261126
N_ROWS = 4000
N_VARIABLES = 32
LAGS = tuple(range(8))

# (feature, lower, upper) on the standardised level; each holds on ≈ 62% of rows.
_TRUTH_LEVELS = (
    ("N07_t2", -0.30, None),
    ("N19_t5", None, 0.30),
    ("N28_t6", -0.88, 0.88),
)


def variables() -> list[str]:
    return [f"N{i:02d}" for i in range(1, N_VARIABLES + 1)]


def feature_names() -> list[str]:
    return [f"{var}_t{lag}" for var in variables() for lag in LAGS]


def _shapes(seed: int) -> dict[str, tuple[float, float, float]]:
    """Per variable (AR coefficient, scale, offset), fixed by the seed."""
    rng = np.random.default_rng(seed + 1)
    return {var: (float(rng.uniform(0.5, 0.8)), float(10 ** rng.uniform(-1, 1.5)),
                  float(rng.uniform(-50, 50))) for var in variables()}


def ground_truth(seed: int = SEED) -> tuple[tuple[str, float | None, float | None], ...]:
    """The critical ranges in the data's units (None = open side); INDC = AND of all three."""
    shapes = _shapes(seed)
    truth = []
    for feature, lower, upper in _TRUTH_LEVELS:
        _, scale, offset = shapes[feature.split("_")[0]]
        truth.append((feature, None if lower is None else round(offset + scale * lower, 4),
                      None if upper is None else round(offset + scale * upper, 4)))
    return tuple(truth)


def generate_needle(n_rows: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    """The table: 256 feature columns then INDC, values rounded to 4 decimals."""
    rng = np.random.default_rng(seed)
    shapes = _shapes(seed)
    columns: dict[str, np.ndarray] = {}
    for var in variables():
        rho, scale, offset = shapes[var]
        level = rng.standard_normal(n_rows)
        for lag in LAGS:
            if lag > 0:
                level = rho * level + np.sqrt(1.0 - rho * rho) * rng.standard_normal(n_rows)
            columns[f"{var}_t{lag}"] = _round4(offset + scale * np.clip(level, -CENSOR_SD,
                                                                        CENSOR_SD))
    frame = pd.DataFrame(columns)
    holds = np.ones(n_rows, dtype=bool)
    for feature, lower, upper in ground_truth(seed):
        values = frame[feature].to_numpy()
        if lower is not None:
            holds &= values >= lower
        if upper is not None:
            holds &= values <= upper
    frame[TARGET] = holds.astype(np.int8)
    return frame


def write_needle_csv(path: str | Path, n_rows: int = N_ROWS, seed: int = SEED) -> Path:
    from rap_core.atomic import write_bytes_atomic

    frame = generate_needle(n_rows, seed)
    return write_bytes_atomic(path, frame.to_csv(index=False).encode("utf-8"))


def breast_cancer_frame() -> pd.DataFrame:
    """scikit-learn's bundled Wisconsin breast-cancer table (569 rows, 30 features), target
    renamed INDC with 1 = malignant (sklearn codes malignant as 0). No download: the CSV ships
    inside the scikit-learn wheel."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame[TARGET] = (data.target.to_numpy() == 0).astype(np.int8)
    return frame
