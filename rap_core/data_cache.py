"""The parsed-data cache: a table parsed once reopens in milliseconds, without pandas.

Parsing a CSV costs the pandas import (~0.5 s) plus the parse itself, on every launch, although
the file rarely changes between launches. So `load_dataset_cached` keys the *parsed* table (the
`Dataset` arrays, notes included) by the sha256 of the file's bytes and the target column, and
keeps it as an `.npz` under `$XDG_CACHE_HOME/rap-studio/data/`. The bundled demo ships the same
kind of entry (`rap_core/data/demo.npz`, written by `dev/make_demo.py`), so the demo opens the
same way on the first launch.

Design choices:
- The key is the file's *byte* hash (cheap, streamed) plus the target and this module's FORMAT;
  the entry also stores the `Dataset.sha256` fingerprint (the parsed-content hash that fits and
  sessions are keyed by). A served entry is re-fingerprinted and must match it, so a cached table
  always opens the same fits and sessions as a fresh parse.
- The cache is untrusted input, like the fit cache: `.npz` is read with `allow_pickle=False` (no
  code runs), every array's dtype, shape and value range is checked, members that would inflate
  past half the available memory are refused before reading, and a symlink, FIFO or anything odd
  is ignored. Any doubt means a fresh parse, never an error; the fresh entry then replaces it.
- Writes are atomic and never replace an input (`rap_core.atomic`), a symlinked entry is never
  written through, and a full or read-only disk only means nothing is kept.
- User entries record the pandas version that parsed them and are re-parsed under another
  (a parser change must not be hidden by the cache). The bundled demo entry is exempt: its values
  have four decimals and `dev/make_demo.py` checks the parse against the generated table.
- The entry also keeps the rows' split (rap_core.split), drawn once when the entry is written:
  drawing it imports `numpy.random`, ~8 ms of every launch otherwise. It is checked
  (`split.stored_split`: a partition of the rows with the stratified sizes) like the rest.
- The user entries are bounded (BUDGET_BYTES, 2 GiB, or RAP_STUDIO_DATA_CACHE_MB): after a new
  entry is written the least recently opened ones are deleted until the rest fit (`prune`).
- The per-run checks that depend on arguments (`cv` folds, memory for the prior) run on every
  load, cached or not, so the same bad input fails with the same line either way.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from rap_core import cache
from rap_core.dataset import (
    DEFAULT_TARGET,
    Dataset,
    _check_folds,
    _check_memory,
    available_memory_bytes,
    check_data_file,
    fingerprint,
    load_dataset,
)
from rap_core.errors import RapError

FORMAT = 2  # bump when the parsing policy (rap_core.dataset) or this layout changes
# The user entries together stay under this many bytes (an entry is about the table's size in
# memory, 8 bytes a value: 40 MB for 5,000 x 1,000); the least recently opened go first.
# RAP_STUDIO_DATA_CACHE_MB sets another budget.
BUDGET_BYTES = 2 * 1024**3
_SPLIT = ("split_pool", "split_val", "split_test")  # the rows' split (rap_core.split), drawn once
_MEMBERS = {f"{name}.npy" for name in ("meta", "features", "X", "y", "notes", *_SPLIT)}
_META_KEYS = {"format", "key", "source_sha256", "target", "sha256", "pandas", "split_seed"}


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of the file's bytes, streamed (the demo's 0.8 MB: about 2 ms)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def data_key(source_sha256: str, target: str) -> str:
    canonical = json.dumps({"format": FORMAT, "source": source_sha256, "target": target},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def entry_path(key: str, directory: str | os.PathLike | None = None) -> Path:
    return Path(directory if directory is not None else cache.cache_dir()) / "data" / f"{key}.npz"


def bundled_entry_path() -> Path:
    """The demo's parsed table, shipped beside `demo.csv.gz`."""
    from rap_core.demo import data_dir

    return data_dir() / "demo.npz"


def pandas_version() -> str:
    from rap_core.versions import installed_version

    return installed_version("pandas") or "unknown"


def load_dataset_cached(path: str | os.PathLike, target: str = DEFAULT_TARGET, *, cv: int = 3,
                        cache_dir: str | os.PathLike | None = None,
                        parse: bool = True, max_bytes: int | None = None) -> Dataset | None:
    """`load_dataset`, served from the bundled or cached parse when the file's bytes match.

    Raises RapError exactly as `load_dataset` does; a cache problem is never an error.
    `parse=False`: None instead of parsing when no entry matches, or when the file (checked
    before it is hashed) or its user entry is over `max_bytes` (rap-studio opens a table before
    it takes over the terminal only when that is quick: rap_core.opening.open_cached).
    """
    limit = None if parse else max_bytes  # a parse is never refused for size
    file = check_data_file(path)
    try:
        before = os.stat(file)
        if limit is not None and before.st_size > limit:
            return None
        source = file_sha256(file)
    except OSError as exc:
        raise RapError(f"{file}: cannot read it ({exc.strerror or exc})") from None
    key = data_key(source, target)
    user_entry = entry_path(key, cache_dir)
    found = read_entry(bundled_entry_path(), key, file, cv, check_pandas=False)
    if found is not None:
        return found
    if limit is not None and _file_size(user_entry) > limit:
        return None
    found = read_entry(user_entry, key, file, cv, check_pandas=True)
    if found is not None:
        with contextlib.suppress(OSError):
            os.utime(user_entry)  # recently opened: the last to be pruned
        return found
    if not parse:
        return None
    dataset = load_dataset(file, target, cv=cv)
    with contextlib.suppress(OSError):
        after = os.stat(file)
        if (after.st_size, after.st_mtime_ns, after.st_ino) == \
                (before.st_size, before.st_mtime_ns, before.st_ino):  # not rewritten meanwhile
            if write_entry(user_entry, key, source, dataset, inputs=[file]) is not None:
                prune(user_entry.parent, keep=user_entry)
    return dataset


def _file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # no entry: read_entry says so


def budget_bytes(environ=os.environ) -> int:
    """BUDGET_BYTES, or RAP_STUDIO_DATA_CACHE_MB when it is a whole number of megabytes."""
    value = environ.get("RAP_STUDIO_DATA_CACHE_MB", "").strip()
    return int(value) * 1024**2 if value.isdigit() else BUDGET_BYTES


def prune(directory: Path, *, keep: Path, budget: int | None = None) -> list[Path]:
    """Delete the least recently opened entries until those left hold at most `budget` bytes;
    `keep` (the entry just written) stays. Without a limit the cache grew by a table's size for
    every file, and every edited version of one, ever opened (entries of an older FORMAT too).
    Only regular `*.npz` files directly in `directory` are considered: links, folders and other
    names are left alone. Returns what was deleted; a file that cannot be deleted is skipped."""
    budget = budget_bytes() if budget is None else budget
    entries = []
    try:
        with os.scandir(directory) as found:
            for entry in found:
                if entry.name.endswith(".npz") and entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    entries.append((st.st_mtime_ns, st.st_size, Path(entry.path)))
    except OSError:
        return []
    total = sum(size for _, size, _ in entries)
    deleted = []
    for _, size, path in sorted(entries):  # the least recently opened first
        if total <= budget:
            break
        if path == keep:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size
            deleted.append(path)
    return deleted


def entry_bytes(key: str, source_sha256: str, dataset: Dataset) -> bytes:
    """The entry's bytes: an uncompressed npz, so a launch reads the arrays without inflating
    them (the bundled demo's entry: 3 ms against 9 ms compressed, issue 13)."""
    from rap_core.split import dataset_split

    split = dataset_split(dataset)
    meta = {"format": FORMAT, "key": key, "source_sha256": source_sha256,
            "target": dataset.target, "sha256": dataset.sha256, "pandas": pandas_version(),
            "split_seed": split.seed}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta, sort_keys=True)),
             features=np.array(dataset.features, dtype=str),
             X=np.ascontiguousarray(dataset.X, dtype=np.float64),
             y=np.ascontiguousarray(dataset.y, dtype=np.int8),
             notes=np.array(dataset.notes, dtype=str),
             split_pool=split.pool, split_val=split.val, split_test=split.test)
    return buffer.getvalue()


def write_entry(entry: Path, key: str, source_sha256: str, dataset: Dataset, *,
                inputs=()) -> Path | None:
    """Keep the parsed table; None (not an error) when it cannot or should not be written."""
    from rap_core.atomic import write_bytes_atomic

    with contextlib.suppress(FileNotFoundError, OSError):
        if stat.S_ISLNK(os.lstat(entry).st_mode):
            return None  # never write through a link planted in the cache
    with contextlib.suppress(OSError, RapError):
        return write_bytes_atomic(entry, entry_bytes(key, source_sha256, dataset),
                                  inputs=inputs)
    return None


def read_entry(entry: Path, key: str, file: Path, cv: int, *,
               check_pandas: bool) -> Dataset | None:
    """The Dataset in `entry` if it is a valid entry for `key`, else None. Raises RapError only
    for the per-run checks (folds, memory) that a fresh parse would fail the same way."""
    try:
        st = os.lstat(entry)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None  # a link, FIFO or device: never opened
    try:
        parts = _read_members(entry)
    except Exception:  # noqa: BLE001 - untrusted bytes: zip, npy, json and unicode errors alike
        return None
    if parts is None:
        return None
    meta, features, X, y, notes, split_rows = parts
    if meta["key"] != key or (check_pandas and meta["pandas"] != pandas_version()):
        return None
    target = meta["target"]
    if fingerprint(target, features, X, y) != meta["sha256"]:
        return None
    from rap_core.split import remember_split, stored_split

    split = stored_split(y, *split_rows, meta["split_seed"])
    if split is None:
        return None
    _check_folds(y, cv, file.name)
    _check_memory(len(features), file.name)
    dataset = Dataset(name=file.name, path=file, target=target, features=tuple(features), X=X,
                      y=y, sha256=meta["sha256"], notes=tuple(notes))
    remember_split(dataset, split)
    return dataset


def _read_members(entry: Path):
    with zipfile.ZipFile(entry) as archive:
        infos = archive.infolist()
        names = {info.filename for info in infos}
        if names != _MEMBERS or len(infos) != len(_MEMBERS):
            return None
        if sum(info.file_size for info in infos) > available_memory_bytes() // 2:
            return None  # a small file that would inflate past memory
    with np.load(entry, allow_pickle=False) as npz:
        meta_raw, features, X, y, notes = (npz[name] for name in
                                           ("meta", "features", "X", "y", "notes"))
        split_rows = tuple(npz[name] for name in _SPLIT)
    if meta_raw.dtype.kind != "U" or meta_raw.ndim != 0:
        return None
    meta = json.loads(str(meta_raw))
    if not isinstance(meta, dict) or set(meta) != _META_KEYS or meta["format"] != FORMAT:
        return None
    if not all(isinstance(meta[k], str) for k in _META_KEYS - {"format", "split_seed"}):
        return None
    if type(meta["split_seed"]) is not int:
        return None
    if features.dtype.kind != "U" or features.ndim != 1 or notes.dtype.kind != "U" \
            or notes.ndim != 1:
        return None
    if X.dtype != np.float64 or X.ndim != 2 or y.dtype != np.int8 or y.ndim != 1:
        return None
    n_rows, n_features = X.shape
    names = [str(name) for name in features]
    if n_rows < 1 or n_features < 1 or len(names) != n_features or len(y) != n_rows:
        return None
    if len(set(names)) != n_features or meta["target"] in names or "" in names:
        return None
    if not np.isfinite(X).all() or not np.isin(y, (0, 1)).all():
        return None
    return (meta, names, np.ascontiguousarray(X), np.ascontiguousarray(y),
            [str(n) for n in notes], split_rows)
