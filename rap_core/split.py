"""The split: one seeded, stratified partition of a dataset's rows into train / validation / test.

One split for every consumer, so "the rows the fit never saw" means the same rows everywhere:
- the Studio (CLI and TUI) fits cutlass and builds the prior on the train rows only, and shows
  each rule's metrics on the held-out rows (validation + test) next to the train rows;
- `rap eval` (rap_core.evaluate) trains its sizes on prefixes of the same training pool and
  reports on the same test rows. The Studio's fit is `rap eval`'s fit at size "all": one cache
  entry serves both.

Why stratified: each class is shuffled and cut in the same proportions (60 / 15 / 25), so a rare
positive class is represented in every part. Why seeded and fixed: the same data gives the same
rows on every machine and every run (numpy's PCG64 `default_rng(SPLIT_SEED)`), so sessions,
cached fits and artifacts agree. A training size n takes the first n rows of the pool (in its
stratified-shuffled order), so `rap eval`'s sizes are nested.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

SPLIT_SEED = 7
TEST_SHARE, VAL_SHARE = 0.25, 0.15


@dataclass(frozen=True)
class Split:
    """Row indices of each part; `pool` is the training pool in its draw order."""

    pool: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int = SPLIT_SEED

    def train(self, size: int | None = None) -> np.ndarray:
        """The first `size` rows of the pool (all of it by default)."""
        return self.pool if size is None else self.pool[:size]

    @property
    def held_out(self) -> np.ndarray:
        """Validation and test rows, sorted: every row no fit of the pool sees."""
        return np.sort(np.concatenate([self.val, self.test]))

    def describe(self) -> dict:
        """What sessions and artifacts record: enough to rebuild and check the split."""
        return {"seed": int(self.seed), "stratified": True,
                "shares": {"train": round(1 - TEST_SHARE - VAL_SHARE, 4), "validation": VAL_SHARE,
                           "test": TEST_SHARE},
                "rows": {"train": int(self.pool.size), "validation": int(self.val.size),
                         "test": int(self.test.size)}}


def _held_out_sizes(n_rows: int) -> tuple[int, int]:
    """(test, validation) rows taken from a class of `n_rows` rows."""
    return int(round(TEST_SHARE * n_rows)), int(round(VAL_SHARE * n_rows))


def make_split(y: np.ndarray, seed: int = SPLIT_SEED) -> Split:
    """Stratified: each class is shuffled and cut in the same proportions."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    parts = {"pool": [], "val": [], "test": []}
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))
        n_test, n_val = _held_out_sizes(rows.size)
        parts["test"].append(rows[:n_test])
        parts["val"].append(rows[n_test:n_test + n_val])
        parts["pool"].append(rows[n_test + n_val:])
    pool = rng.permutation(np.concatenate(parts["pool"]))
    # Interleave so that every prefix of the pool keeps the class balance (stratified sizes).
    pos, neg = pool[y[pool] == 1], pool[y[pool] == 0]
    share = pos.size / max(1, pool.size)
    order = np.argsort(np.concatenate([(np.arange(pos.size) + 0.5) / max(share, 1e-9),
                                       (np.arange(neg.size) + 0.5) / max(1 - share, 1e-9)]),
                       kind="stable")
    pool = np.concatenate([pos, neg])[order]
    return Split(pool=pool, val=np.sort(np.concatenate(parts["val"])),
                 test=np.sort(np.concatenate(parts["test"])), seed=int(seed))


def subset(dataset, rows: np.ndarray, label: str):
    """The dataset restricted to `rows` (in that order), with its own fingerprint.

    The fingerprint covers the rows' values, so a fit of these rows is cached under another key
    than a fit of all rows: an old all-rows fit is never served as a train-only fit.
    """
    from rap_core.dataset import Dataset, fingerprint

    rows = np.asarray(rows, dtype=np.intp)
    X = np.ascontiguousarray(dataset.X[rows])
    y = np.ascontiguousarray(dataset.y[rows])
    return Dataset(name=f"{dataset.name} [{label} {rows.size}]",
                   path=getattr(dataset, "path", None), target=dataset.target,
                   features=tuple(dataset.features), X=X, y=y,
                   sha256=fingerprint(dataset.target, dataset.features, X, y),
                   notes=tuple(getattr(dataset, "notes", ())))


# Computed once per dataset object (the fingerprint of the training rows hashes 60% of the
# data); weak keys so a closed dataset is not kept alive by its split.
_SPLITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TRAIN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _memo(table: weakref.WeakKeyDictionary, dataset, make):
    try:
        found = table.get(dataset)
    except TypeError:  # not weak-referenceable (a stand-in dataset): no memo
        return make()
    if found is None:
        found = make()
        table[dataset] = found
    return found


def stored_split(y: np.ndarray, pool, val, test, seed) -> Split | None:
    """A split kept with a dataset's parsed table (rap_core.data_cache), or None when it cannot
    be this data's split: not this module's seed, not a partition of the rows, or not the
    stratified sizes. Kept because computing it imports `numpy.random` (~8 ms of a launch).

    The draw order cannot be checked without drawing it again; like the table itself, the
    entry is trusted only as far as these checks go (a random corruption fails them)."""
    arrays = [np.asarray(a) for a in (pool, val, test)]
    if seed != SPLIT_SEED or any(a.ndim != 1 or a.dtype.kind not in "iu" for a in arrays):
        return None
    rows = np.concatenate(arrays)
    if rows.size != y.size or (rows.size and (rows.min() < 0 or rows.max() >= y.size)) \
            or np.bincount(rows, minlength=y.size).max(initial=0) > 1:
        return None
    pool, val, test = (a.astype(np.intp, copy=False) for a in arrays)
    for label in (0, 1):
        n_test, n_val = _held_out_sizes(int(np.count_nonzero(y == label)))
        if np.count_nonzero(y[test] == label) != n_test or \
                np.count_nonzero(y[val] == label) != n_val:
            return None
    if np.any(np.diff(val) <= 0) or np.any(np.diff(test) <= 0):
        return None  # kept sorted, as make_split returns them
    return Split(pool=pool, val=val, test=test, seed=int(seed))


def remember_split(dataset, split: Split) -> None:
    """Use `split` as `dataset`'s split (one that `stored_split` accepted) instead of drawing
    it."""
    try:
        _SPLITS[dataset] = split
    except TypeError:  # not weak-referenceable (a stand-in dataset): drawn when needed
        pass


def dataset_split(dataset) -> Split:
    """The split of `dataset`."""
    return _memo(_SPLITS, dataset, lambda: make_split(dataset.y, SPLIT_SEED))


def train_dataset(dataset):
    """The training rows of `dataset` as a Dataset: what every Studio fit sees."""
    return _memo(_TRAIN, dataset,
                 lambda: subset(dataset, dataset_split(dataset).train(), "train"))
