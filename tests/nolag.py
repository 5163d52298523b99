"""A real 30-feature table whose names carry no lag numbers (scikit-learn's bundled breast-cancer
table, as `rap eval-data --breast-cancer` writes it), fitted once per test process.

The Prior tab and the ranges table must read well for data like this, not only for the demo's
`V3_t7` names: the drill found a 30 x 30 prior drawn in 30 of 78 columns and a group column that
repeated every name. The fit is cached so snapshot and behaviour tests share one cutlass run.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


def write_table(directory: Path) -> Path:
    from rap_core.evaldata import breast_cancer_frame

    path = Path(directory) / "cancer.csv"
    if not path.exists():
        breast_cancer_frame().to_csv(path, index=False)
    return path


@cache
def _fit(path: str):
    from rap_core.dataset import load_dataset
    from rap_core.fit import FitParams, run_fit
    from rap_core.split import train_dataset

    return run_fit(train_dataset(load_dataset(path)), FitParams(Cs=4))


def fit_fn(path: Path):
    """A stand-in for the app's fit: the same cutlass fit of the training rows, computed once."""
    fitted = _fit(str(path))

    def fit(dataset, params, *, progress=None, cancel=None):
        return fitted

    return fit
