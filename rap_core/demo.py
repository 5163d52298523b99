"""The bundled demo dataset: synthetic longitudinal data with a known critical-range rule.

Ten variables V1..V10 observed at lags t0..t7 (80 features `V1_t0` … `V10_t7`, variable-major),
3,000 rows. Each variable is an AR(1) series over its lags (neighbouring lags correlate, as in real
longitudinal data) on its own scale and offset. The target `INDC` holds exactly when four critical
ranges hold at once (an AND), so the rule cutlass should recover is known — `GROUND_TRUTH`.

Design choices:
- No label noise. cutlass's Rectifier takes each range from the positives' min/max, so even a
  few flipped labels blur the ranges (a trial at 0.5% noise did).
- The label is computed on the rounded values that ship, so the stored data obeys the rule exactly.
- Each range covers about 70% of rows and the four involve different variables, so prevalence is
  about 0.72^4 ≈ 26%: enough positives for a 3-fold CV, and single ranges are weak alone (J ≈ 0.3),
  so the rule is a real conjunction.
- The data ships as `data/demo.csv.gz` (regenerate with `python dev/make_demo.py`), and its fit
  ships as `data/demo_fit.json`, so the app opens the demo instantly instead of fitting for minutes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261125
N_ROWS = 3000
VARIABLES = tuple(f"V{i}" for i in range(1, 11))
LAGS = tuple(range(8))
TARGET = "INDC"

# (feature, lower, upper) in the data's own units; None = open side. INDC = AND of all four.
GROUND_TRUTH: tuple[tuple[str, float | None, float | None], ...] = (
    ("V2_t3", 8.4, 17.2),
    ("V5_t6", -2.2, 0.95),
    ("V7_t1", 195.0, None),
    ("V9_t4", None, 4.2),
)

# Per variable: AR(1) coefficient over lags, scale and offset of the observed values.
_SHAPES = {
    "V1": (0.7, 1.0, 0.0), "V2": (0.6, 4.0, 12.0), "V3": (0.8, 0.5, -2.0),
    "V4": (0.5, 10.0, 50.0), "V5": (0.7, 1.5, -0.4), "V6": (0.6, 2.0, 5.0),
    "V7": (0.75, 8.0, 200.0), "V8": (0.55, 0.2, 1.0), "V9": (0.65, 3.0, 2.5),
    "V10": (0.7, 6.0, -10.0),
}


def feature_names() -> list[str]:
    return [f"{var}_t{lag}" for var in VARIABLES for lag in LAGS]


def generate_demo(n_rows: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    """The demo table: 80 feature columns then INDC, values rounded to 4 decimals."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for var in VARIABLES:
        rho, scale, offset = _SHAPES[var]
        level = rng.standard_normal(n_rows)
        for lag in LAGS:
            if lag > 0:
                level = rho * level + np.sqrt(1.0 - rho * rho) * rng.standard_normal(n_rows)
            columns[f"{var}_t{lag}"] = np.round(offset + scale * level, 4)
    frame = pd.DataFrame(columns)
    frame[TARGET] = ground_truth_label(frame)
    return frame


def ground_truth_label(frame: pd.DataFrame) -> np.ndarray:
    """INDC from GROUND_TRUTH: 1 where every critical range holds."""
    holds = np.ones(len(frame), dtype=bool)
    for feature, lower, upper in GROUND_TRUTH:
        values = frame[feature].to_numpy()
        if lower is not None:
            holds &= values >= lower
        if upper is not None:
            holds &= values <= upper
    return holds.astype(np.int8)


def data_dir() -> Path:
    return Path(__file__).resolve().parent / "data"


def demo_path() -> Path:
    """The bundled demo dataset (CSV, gzip-compressed)."""
    return data_dir() / "demo.csv.gz"


def demo_fit_path() -> Path:
    """The bundled precomputed fit of the demo dataset (JSON, as in the fit cache)."""
    return data_dir() / "demo_fit.json"


def write_demo_csv(path: str | Path) -> Path:
    """Write the bundled demo dataset to `path` (plain CSV unless the name ends in .gz)."""
    target = Path(path)
    frame = pd.read_csv(demo_path())
    from rap_core.atomic import write_bytes_atomic

    data = frame.to_csv(index=False).encode("utf-8")
    if target.suffix == ".gz":
        import gzip

        data = gzip.compress(data, mtime=0)
    return write_bytes_atomic(target, data)
