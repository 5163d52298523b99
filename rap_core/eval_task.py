"""Splits, binning and the bag-of-tokens baselines of an evaluation (numpy + scikit-learn).

- `make_split` (from rap_core.split, the one split the Studio uses too): a training pool (60%),
  validation (15%) and test (25%). A training size n takes the first n rows of the pool, so the
  sizes are nested and every arm and seed of a size trains on the same rows.
- `bin_rows`: quantile bins per feature with edges from the size's training rows only; the
  tokens are bin numbers, identical for every feature (identity is the position, see
  nanochat/tabular_task.py).
- `bag_baselines`: logistic regression on (a) the bag of tokens — how many features fall in each
  bin, no positions — and (b) the one-hot (position, bin) table, which knows positions. (a) falling
  short of the transformer shows that attending to the right positions is needed; (b) is a strong
  position-aware reference, reported as is.
"""

from __future__ import annotations

import numpy as np

from rap_core.errors import RapError
from rap_core.split import SPLIT_SEED, TEST_SHARE, VAL_SHARE, Split, make_split

__all__ = ["SPLIT_SEED", "TEST_SHARE", "VAL_SHARE", "Split", "make_split", "N_BINS",
           "bag_baselines", "bin_edges", "bin_rows", "resolve_sizes", "split_arrays"]

N_BINS = 16


def resolve_sizes(sizes: list[str], pool: int, *, clip: bool = False) -> list[int]:
    """"all" and numbers -> sorted distinct ints, each at most the pool (`clip`: sizes above
    the pool are dropped instead of refused, for the default list on a small table)."""
    out = set()
    for item in sizes:
        if str(item).strip().lower() == "all":
            out.add(pool)
            continue
        try:
            value = int(item)
        except ValueError:
            raise RapError(f"--sizes: {item!r} is not a number or 'all'") from None
        if value < 20:
            raise RapError(f"--sizes: {value} training rows is too few (at least 20)")
        if value > pool and clip:
            continue
        if value > pool:
            raise RapError(f"--sizes: {value} exceeds the {pool} rows of the training pool "
                           f"(60% of the data); use at most {pool} or 'all'")
        out.add(value)
    if not out and clip:
        out.add(pool)
    return sorted(out)


def bin_edges(X_train: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """(P, n_bins-1) quantile edges per feature from the training rows."""
    probs = np.arange(1, n_bins) / n_bins
    return np.quantile(X_train, probs, axis=0).T


def bin_rows(X: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(n, P) uint8 bin numbers (right-closed like torch.bucketize)."""
    out = np.empty(X.shape, dtype=np.uint8)
    for p in range(X.shape[1]):
        out[:, p] = np.searchsorted(edges[p], X[:, p], side="left")
    return out


def split_arrays(X, y, split: Split, size: int, n_bins: int = N_BINS) -> dict:
    """Binned tokens and labels for one training size (edges from its training rows)."""
    train = split.train(size)
    edges = bin_edges(X[train], n_bins)
    return {
        "train_tokens": bin_rows(X[train], edges), "train_y": y[train].astype(np.int8),
        "val_tokens": bin_rows(X[split.val], edges), "val_y": y[split.val].astype(np.int8),
        "test_tokens": bin_rows(X[split.test], edges), "test_y": y[split.test].astype(np.int8),
        "n_bins": np.array(n_bins),
    }


def _bag(tokens: np.ndarray, n_bins: int) -> np.ndarray:
    return np.stack([(tokens == b).sum(1) for b in range(n_bins)], 1).astype(np.float64)


def _onehot(tokens: np.ndarray, n_bins: int) -> np.ndarray:
    n, p = tokens.shape
    out = np.zeros((n, p * n_bins), dtype=np.float32)
    out[np.arange(n)[:, None], np.arange(p) * n_bins + tokens] = 1.0
    return out


def bag_baselines(arrays: dict) -> dict[str, dict]:
    """{"bag": metrics, "onehot": metrics} on the test split; C chosen on validation loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score

    n_bins = int(arrays["n_bins"])
    out = {}
    for name, features in (("bag", _bag), ("onehot", _onehot)):
        xs = {part: features(arrays[f"{part}_tokens"], n_bins) for part in ("train", "val",
                                                                            "test")}
        best = None
        for c in (0.01, 0.1, 1.0, 10.0):
            model = LogisticRegression(C=c, max_iter=2000)
            model.fit(xs["train"], arrays["train_y"])
            val = log_loss(arrays["val_y"], model.predict_proba(xs["val"])[:, 1], labels=[0, 1])
            if best is None or val < best[0]:
                best = (val, c, model)
        _, c, model = best
        p = model.predict_proba(xs["test"])[:, 1]
        y = arrays["test_y"]
        out[name] = {"test_loss": float(log_loss(y, p, labels=[0, 1])),
                     "test_acc": float(((p >= 0.5) == y).mean()),
                     "test_auc": float(roc_auc_score(y, p)), "C": c}
    return out
