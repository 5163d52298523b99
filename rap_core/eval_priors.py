"""The priors an evaluation compares (numpy only): one per arm, on the task's positions.

The task (docs/EVIDENCE.md) puts feature p at position p and a **query** position last, where
the label is predicted. Every prior here is (P+1) x (P+1):

- `with_query_row(bias, weights)`: the Studio's normalised B in the top-left P x P block, and the
  query's row and column from the votes' effective weights, B[q, j] = B[j, q] = w_j / max w
  (0 on the diagonal; docs/PRIOR.md, "The query row"). Without that row the position that makes
  the prediction gets no prior at all (the first comparison's flaw).
- `oracle_prior(true_positions, size)`: 1 between every pair of true positions and between each
  true position and the query, 0 elsewhere — the positive control.
- `shuffled_prior`: the same values at permuted feature positions (the query stays last, so its
  row now points at the wrong features).
- `random_prior`: a symmetric matrix with the same rank and Frobenius norm on the same number of
  non-zero rows, at random positions, with random eigenvectors.

Row hashes: each row of a table hashes (sha256 of its float64 values and label) to 16 hex digits;
a prior records the hashes of the rows it was fitted on, and `check_no_leak` refuses one whose
rows meet the test split's.
"""

from __future__ import annotations

import hashlib

import numpy as np

from rap_core.errors import RapError


def bias_sha256(bias: np.ndarray) -> str:
    """The artifact's hash: sha256 of the float32 bytes, row-major (= rap_nanochat.rap_prior's)."""
    return hashlib.sha256(np.ascontiguousarray(bias, dtype=np.float32).tobytes()).hexdigest()


def with_query_row(bias: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(P+1, P+1) float32: B in the corner, the query row/column from the weights."""
    bias = np.asarray(bias, dtype=np.float32)
    w = np.asarray(weights, dtype=np.float64)
    p = bias.shape[0]
    if w.shape != (p,):
        raise RapError(f"the query row needs one weight per position ({p}), got {w.shape}")
    out = np.zeros((p + 1, p + 1), dtype=np.float32)
    out[:p, :p] = bias
    top = float(w.max()) if w.size else 0.0
    if top > 0:
        row = (w / top).astype(np.float32)
        out[p, :p] = row
        out[:p, p] = row
    return out


def oracle_prior(true_positions, size: int) -> np.ndarray:
    """(size+1, size+1): the ground truth as a prior (pairs of true positions + the query)."""
    out = np.zeros((size + 1, size + 1), dtype=np.float32)
    marked = sorted({int(p) for p in true_positions} | {size})
    for i in marked:
        for j in marked:
            if i != j:
                out[i, j] = 1.0
    return out


def shuffled_prior(prior: np.ndarray, seed: int) -> np.ndarray:
    """The same values at a random permutation of the feature positions (query fixed).

    The permutation is redrawn until no non-zero row stays where it was, so a sparse prior really
    moves (with fewer than two feature positions there is nothing to move)."""
    p = prior.shape[0] - 1
    rng = np.random.default_rng(seed)
    support = np.flatnonzero(np.abs(prior[:p, :p]).sum(1) + np.abs(prior[p, :p]) > 0)
    perm = np.arange(p)
    for _ in range(100):
        perm = rng.permutation(p)
        if p < 2 or not np.any(perm[support] == support):
            break
    order = np.append(perm, p)
    return np.ascontiguousarray(prior[np.ix_(order, order)], dtype=np.float32)


def random_prior(prior: np.ndarray, seed: int) -> np.ndarray:
    """Symmetric, same rank and Frobenius norm, same number of non-zero rows, random positions."""
    n = prior.shape[0]
    rng = np.random.default_rng(seed)
    support = np.flatnonzero(np.abs(prior).sum(1) > 0)
    out = np.zeros((n, n), dtype=np.float64)
    if support.size == 0:
        return out.astype(np.float32)
    block = prior[np.ix_(support, support)].astype(np.float64)
    eig = np.linalg.eigvalsh(block)
    q, _ = np.linalg.qr(rng.standard_normal((support.size, support.size)))
    where = np.sort(rng.choice(n, size=support.size, replace=False))
    out[np.ix_(where, where)] = (q * eig) @ q.T
    out = (out + out.T) / 2
    return out.astype(np.float32)


def row_hashes(X: np.ndarray, y: np.ndarray) -> list[str]:
    """16 hex digits per row (its float64 feature values and label)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.int8)
    return [hashlib.sha256(X[i].tobytes() + y[i:i + 1].tobytes()).hexdigest()[:16]
            for i in range(X.shape[0])]


def rows_digest(hashes) -> str:
    """One sha256 over a set of row hashes (order-free): what results.json records."""
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


def check_no_leak(prior_rows, test_rows, name: str) -> None:
    """Refuse a prior fitted on any test row (one line)."""
    overlap = set(prior_rows) & set(test_rows)
    if overlap:
        raise RapError(f"{name}: the prior was fitted on {len(overlap)} of the "
                       f"{len(set(test_rows))} test rows; fit it on the training split only "
                       f"(rap eval does this itself when no prior is given)")
