"""Load a dataset and validate it before any fitting: every problem is one line a person can act on.

A fit takes minutes on a laptop-class machine; a bad column found after it would waste them. So
everything that can be checked on the table is checked here, up front, and reported as a
`RapError` naming the file, the column and what to do. Fixable oddities (a text column, a few
NaN cells, a constant column) are not errors: they are handled by a stated policy and reported as
one-line notes.

Policies (docs/DATA.md):
- Non-numeric feature columns are excluded (note); a column that is at least 90% numbers keeps
  its numbers and treats the stray cells ("?", "n/a") as missing (note naming the first one).
- ±inf counts as missing; a column with no value at all is dropped; other missing cells are
  imputed with the column's median (note with counts). The median keeps the row and rarely moves a
  value across a critical range boundary.
- Constant columns are dropped (note): they cannot carry a critical range.
- The fingerprint (`sha256`) hashes the parsed content (target name, feature names, values,
  labels), not the file bytes, so a CSV and a Parquet of the same table share fits and sessions.
- pandas is imported only when a file is actually parsed (it costs ~0.5 s of start-up): a table
  served from the parsed-data cache (`rap_core.data_cache`) never needs it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rap_core.errors import RapError

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_TARGET = "INDC"
# A non-numeric column whose cells are at least this share numbers is numeric with stray cells.
STRAY_CELL_SHARE = 0.9
# Bytes per P×P cell the prior machinery keeps at once: two int64 Gram matrices, S and B (float32).
_PRIOR_BYTES_PER_CELL = 24


@dataclass(frozen=True, eq=False)
class Dataset:
    """A validated table: numeric features (file order) and a 0/1 target."""

    name: str
    path: Path | None
    target: str
    features: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    sha256: str
    notes: tuple[str, ...] = field(default=())

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_positive(self) -> int:
        return int(self.y.sum())

    def frame(self) -> pd.DataFrame:
        """The features as a DataFrame (what cutlass's estimators take)."""
        import pandas as pd

        return pd.DataFrame(self.X, columns=list(self.features), copy=False)


def load_dataset(path: str | os.PathLike, target: str = DEFAULT_TARGET, *, cv: int = 3) -> Dataset:
    """Read CSV / TSV / Parquet (optionally .gz) and validate it; raises RapError (one line)."""
    file = check_data_file(path)
    name = file.name
    header = _header(file)
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise RapError(f"{name}: duplicate column name(s) {', '.join(map(repr, duplicates))}; "
                       f"rename them so every column is unique")
    frame = _read(file)
    return dataset_from_frame(frame, target, name=name, path=file, cv=cv)


def check_data_file(path: str | os.PathLike) -> Path:
    """`path` as a Path if it is an existing regular file; else RapError (never opened)."""
    file = Path(path)
    try:
        st = os.stat(file)
    except FileNotFoundError:
        raise RapError(f"{file}: no such file; check the path (or run `rap demo` for sample "
                       f"data)") from None
    except OSError as exc:
        raise RapError(f"{file}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise RapError(f"{file} is a directory; give a data file (.csv, .tsv or .parquet)")
    if not stat.S_ISREG(st.st_mode):
        # Reading a FIFO or a device would block or never end: refuse without opening it.
        raise RapError(f"{file} is not a regular file (a FIFO, device or socket); save the data "
                       f"to a file and give that")
    return file


def dataset_from_frame(frame: pd.DataFrame, target: str = DEFAULT_TARGET, *, name: str = "<frame>",
                       path: Path | None = None, cv: int = 3) -> Dataset:
    """Validate an in-memory table the same way as a file."""
    if frame.shape[1] == 0:
        raise RapError(f"{name}: the file is empty; it needs a header row and data rows")
    if frame.shape[0] == 0:
        raise RapError(f"{name}: has a header but no data rows")
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise RapError(f"{name}: duplicate column name(s) {', '.join(map(repr, dup))}; "
                       f"rename them so every column is unique")
    frame = frame.set_axis(columns, axis=1)
    if target not in columns:
        raise RapError(f"{name}: target column {target!r} not found; columns are "
                       f"{_list_names(columns)}; choose one with --target COL")
    y = _labels(frame[target], name, target)
    notes: list[str] = []
    features, X = _features(frame.drop(columns=[target]), name, notes)
    _check_folds(y, cv, name)
    _check_memory(len(features), name)
    digest = fingerprint(target, features, X, y)
    return Dataset(name=name, path=path, target=target, features=tuple(features), X=X, y=y,
                   sha256=digest, notes=tuple(notes))


def fingerprint(target: str, features: list[str] | tuple[str, ...], X: np.ndarray,
                y: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(target.encode("utf-8") + b"\x1e")
    digest.update("\x1f".join(features).encode("utf-8") + b"\x1e")
    # The arrays' own buffers, not .tobytes() copies (the same bytes: a 5,000 x 1,000 table's
    # fingerprint took 46 ms with the copy, 22 ms without)
    digest.update(np.ascontiguousarray(X, dtype=np.float64))
    digest.update(np.ascontiguousarray(y, dtype=np.int8))
    return digest.hexdigest()


# -- reading ---------------------------------------------------------------------------

def _kind(file: Path) -> str:
    """parquet / tsv / csv by extension; a text file of another name is sniffed (tabs, no commas
    in its first line -> TSV)."""
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if ".tsv" in suffixes or ".tab" in suffixes:
        return "tsv"
    if ".csv" not in suffixes:
        try:
            with _open_text(file) as fh:
                first = fh.readline(65536)
        except (OSError, UnicodeDecodeError, EOFError):
            return "csv"  # the read below reports the problem
        if "\t" in first and "," not in first:
            return "tsv"
    return "csv"


def _open_text(file: Path):
    if file.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(file, "rb"), encoding="utf-8-sig", newline="")
    return open(file, encoding="utf-8-sig", newline="")  # -sig: Excel's byte-order mark


def _header(file: Path) -> list[str]:
    """Column names as written (pandas would silently rename duplicates to 'x.1')."""
    kind = _kind(file)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return [str(n) for n in pq.read_schema(file).names]
        with _open_text(file) as fh:
            row = next(csv.reader(fh, delimiter="\t" if kind == "tsv" else ","), [])
        return [c.strip() for c in row]
    except _GZIP_ERRORS as exc:
        if _gzipped(file):
            raise RapError(_gzip_message(file, exc)) from None
        raise RapError(f"{file.name}: cannot read it ({_reason(exc)}); check that it is a "
                       f"{kind.upper()} file and readable") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RapError(f"{file.name}: cannot read it ({_reason(exc)}); check that it is a "
                       f"{kind.upper()} file and readable") from None
    except Exception as exc:  # pyarrow's errors for a non-parquet file
        named = "Parquet" if kind == "parquet" else kind.upper()
        raise RapError(f"{file.name}: cannot read it as {named} ({_reason(exc)})") from None


def _read(file: Path) -> pd.DataFrame:
    import pandas as pd

    kind = _kind(file)
    try:
        if kind == "parquet":
            return pd.read_parquet(file)
        # A .gz is decompressed whole first: gzip checks its CRC and length only at the end, and
        # a damaged body should be named as such, not as a CSV parse error halfway through.
        source = io.BytesIO(gzip.decompress(file.read_bytes())) if _gzipped(file) else file
        return pd.read_csv(source, sep="\t" if kind == "tsv" else ",", skipinitialspace=True,
                           encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise RapError(f"{file.name}: the file is empty; it needs a header row and data "
                       f"rows") from None
    except pd.errors.ParserError as exc:
        raise RapError(f"{file.name}: cannot parse it as {kind.upper()} ({_reason(exc)}); "
                       f"check the delimiter and quoting") from None
    except _GZIP_ERRORS as exc:
        if _gzipped(file):
            raise RapError(_gzip_message(file, exc)) from None
        raise RapError(f"{file.name}: cannot read it ({_reason(exc)})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RapError(f"{file.name}: cannot read it ({_reason(exc)})") from None


# What a damaged .gz raises: BadGzipFile (an OSError), zlib.error for a corrupt body, EOFError
# for a truncated one; plain OSError for a file that cannot be read at all.
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def _gzipped(file: Path) -> bool:
    return file.suffix.lower() == ".gz"


def _gzip_message(file: Path, exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        why = "it is truncated (the gzip stream ends early)"
    elif isinstance(exc, (zlib.error, gzip.BadGzipFile)):
        why = f"it is not valid gzip ({_reason(exc)})"
    else:
        why = _reason(exc)
    return (f"{file.name}: cannot decompress it as gzip: {why}; copy or download the file "
            f"again")


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


# -- validating ------------------------------------------------------------------------

def _list_names(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def _labels(column: pd.Series, name: str, target: str) -> np.ndarray:
    import pandas as pd

    missing = column.isna().to_numpy()
    if missing.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(missing)[:5])  # +2: header, 1-based
        raise RapError(f"{name}: target {target!r} is empty in {int(missing.sum())} row(s) "
                       f"(file lines {rows}{'…' if missing.sum() > 5 else ''}); "
                       f"fill or drop those rows")
    values = pd.unique(column)
    if column.dtype == bool:
        labels = column.to_numpy(dtype=np.int8)
    else:
        numeric = pd.to_numeric(column, errors="coerce")
        found = sorted(map(str, values))[:8]
        if numeric.isna().any() or not set(numeric.unique()).issubset({0, 1}):
            raise RapError(f"{name}: target {target!r} must be binary 0/1; found values "
                           f"{', '.join(found)}{'…' if len(values) > 8 else ''}; "
                           f"recode it to 0 (negative) and 1 (positive)")
        labels = numeric.to_numpy(dtype=np.int8)
    classes = set(np.unique(labels).tolist())
    if len(classes) < 2:
        only = classes.pop()
        raise RapError(f"{name}: target {target!r} has only class {only} ({len(labels)} rows); "
                       f"the Rectifier needs positives and negatives")
    return labels


def _features(frame: pd.DataFrame, name: str, notes: list[str]) -> tuple[list[str], np.ndarray]:
    import pandas as pd

    numeric_cols, text_cols = [], []
    columns: dict[str, pd.Series] = {}
    for col in frame.columns:
        series = frame[col]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            numeric_cols.append(col)
            columns[col] = series
            continue
        # A numeric column with a few stray cells ("?", "n/a") is numeric with missing values,
        # not a text column: losing the whole feature for one typo would be worse.
        parsed = pd.to_numeric(series, errors="coerce")
        stray = parsed.isna() & series.notna()
        if parsed.notna().mean() >= STRAY_CELL_SHARE and stray.any():
            first = int(np.flatnonzero(stray.to_numpy())[0])
            notes.append(f"column {col}: {int(stray.sum())} non-numeric cell(s) treated as "
                         f"missing (first: {series.iloc[first]!r} on file line {first + 2})")
            numeric_cols.append(col)
            columns[col] = parsed
        else:
            text_cols.append(col)
    if text_cols:
        notes.append(f"excluded {len(text_cols)} non-numeric column(s): {_list_names(text_cols)}")
    if not numeric_cols:
        raise RapError(f"{name}: no numeric feature column left besides the target; "
                       f"cutlass needs numeric features")
    X = pd.DataFrame(columns).to_numpy(dtype=np.float64, copy=True)
    X[~np.isfinite(X)] = np.nan
    missing = np.isnan(X).sum(axis=0)
    keep = missing < X.shape[0]
    empty = [c for c, k in zip(numeric_cols, keep, strict=True) if not k]
    if empty:
        notes.append(f"dropped {len(empty)} column(s) with no finite value: {_list_names(empty)}")
    if missing[keep].any():
        columns = [(c, int(m)) for c, m, k in zip(numeric_cols, missing, keep, strict=True)
                   if k and m]
        medians = np.nanmedian(X[:, keep], axis=0)
        sub = X[:, keep]
        rows, cols = np.nonzero(np.isnan(sub))
        sub[rows, cols] = medians[cols]
        X[:, keep] = sub
        detail = ", ".join(f"{c}: {m}" for c, m in columns[:5]) + (", …" if len(columns) > 5
                                                                     else "")
        notes.append(f"imputed {int(missing[keep].sum())} NaN/inf cell(s) in {len(columns)} "
                     f"column(s) ({detail}) with the column median")
    X = X[:, keep]
    names = [c for c, k in zip(numeric_cols, keep, strict=True) if k]
    constant = (X.max(axis=0) == X.min(axis=0)) if X.shape[1] else np.zeros(0, dtype=bool)
    if constant.any():
        dropped = [c for c, k in zip(names, constant, strict=True) if k]
        notes.append(f"dropped {len(dropped)} constant column(s): {_list_names(dropped)} "
                     f"(a constant cannot carry a critical range)")
        X = X[:, ~constant]
        names = [c for c, k in zip(names, constant, strict=True) if not k]
    if not names:
        raise RapError(f"{name}: no usable feature column (all were non-numeric, empty or "
                       f"constant); cutlass needs varying numeric features")
    return names, np.ascontiguousarray(X)


def _check_folds(y: np.ndarray, cv: int, name: str) -> None:
    n_pos = int(y.sum())
    n_neg = int(len(y) - n_pos)
    if cv < 2:
        raise RapError(f"{name}: cv must be at least 2 (got {cv}); use --cv 2 or more")
    if n_pos < cv or n_neg < cv or len(y) < 2 * cv:
        smallest = min(n_pos, n_neg)
        fix = (f"add rows or use --cv {smallest}" if smallest >= 2
               else "add rows (at least 2 of each class)")
        raise RapError(f"{name}: too few rows for {cv}-fold cross-validation ({n_pos} positive, "
                       f"{n_neg} negative; each fold needs both classes); {fix}")


def available_memory_bytes() -> int:
    """MemAvailable (free + reclaimable cache) where Linux reports it; free pages otherwise."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def _check_memory(n_features: int, name: str) -> None:
    need = _PRIOR_BYTES_PER_CELL * n_features * n_features
    have = available_memory_bytes()
    if need > have // 2:
        raise RapError(f"{name}: {n_features} features need about {_size(need)} for the "
                       f"{n_features}x{n_features} prior, more than half the "
                       f"{_size(have)} available; select fewer feature columns")


def _size(n_bytes: int) -> str:
    if n_bytes >= 1024**3 // 10:
        return f"{n_bytes / 1024**3:.1f} GB"
    return f"{n_bytes / 1024**2:.1f} MB"
