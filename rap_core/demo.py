"""The bundled demo dataset: synthetic longitudinal data with a known critical-range rule.

Ten variables V1..V10 observed at lags t0..t7 (80 features `V1_t0` … `V10_t7`, variable-major),
3,000 rows. Each variable is an AR(1) series over its lags (neighbouring lags correlate, as in real
longitudinal data) on its own scale and offset, censored at assay limits (mean ± 2 SD: a value
beyond a limit is reported at the limit). The target `INDC` holds exactly when four critical
ranges hold at once (an AND), so the rule cutlass should recover is known — `GROUND_TRUTH`.

Design choices:
- Censored values. cutlass 0.9.0's L1 solver moves its intercept by plain gradient steps, so on an
  AND rule (intercept ≈ −3 × vote size) it parks most of the intercept on a near-constant
  indicator column instead, and that column then outranks the real votes in the logic polish.
  Trials here: Gaussian tails (the Rectifier's sdfilter leaves every irrelevant feature a
  near-constant indicator) got a non-rule feature the third-largest coefficient and the polish was
  refused (J 0.66); uniform marginals left some columns constant and one took the lead (J 0).
  With censoring the positives reach both limits of every irrelevant feature, so each of those
  gets an open range: an exactly constant indicator. cutlass merges identical columns within a
  group and splits the parked intercept evenly over them (solver cd: −5.2 on each of 8 columns
  against +14.9 per real vote), so the four real votes lead and the polish adopts exactly
  the ground truth.
- No label noise. cutlass's Rectifier takes each range from the positives' min/max, so even a
  few flipped labels blur the ranges (a trial at 0.5% noise did).
- The label is computed on the rounded values that ship, so the stored data obeys the rule exactly.
- Each range covers about 71% of rows and the four involve different variables, so prevalence is
  about 0.72^4 ≈ 26%: enough positives for a 3-fold CV, and single ranges are weak alone (J ≈ 0.3),
  so the rule is a real conjunction.
- The data ships as `data/demo.csv.gz` (regenerate with `python dev/make_demo.py`), and its fit
  ships as `data/demo_fit.json`, so the app opens the demo instantly instead of fitting for minutes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: the app's start-up only needs demo_path()
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


CENSOR_SD = 2.0  # assay limits, in SDs of each variable


def _round4(values: np.ndarray) -> np.ndarray:
    """Correctly rounded to 4 decimals (Python's round; np.round can be off by an ulp), so the
    CSV text parses back to exactly these doubles and the labels hold on the file's values."""
    return np.fromiter((round(float(v), 4) for v in values), dtype=np.float64, count=len(values))


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
            censored = np.clip(level, -CENSOR_SD, CENSOR_SD)  # see the module docstring
            columns[f"{var}_t{lag}"] = _round4(offset + scale * censored)
    import pandas as pd

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
    import pandas as pd

    target = Path(path)
    frame = pd.read_csv(demo_path())
    from rap_core.atomic import write_bytes_atomic

    data = frame.to_csv(index=False).encode("utf-8")
    if target.suffix == ".gz":
        import gzip

        data = gzip.compress(data, mtime=0)
    return write_bytes_atomic(target, data, inputs=[demo_path()])
