"""Loading and validating data: each bad input gives the one line a user would need to fix it."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from rap_core import dataset as dataset_module
from rap_core.dataset import dataset_from_frame, load_dataset
from rap_core.errors import RapError


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path, **kwargs) -> str:
    with pytest.raises(RapError) as caught:
        load_dataset(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- the good path -------------------------------------------------------------------------

def test_small_csv_loads_in_file_order(small_csv, small_frame):
    data = load_dataset(small_csv)
    assert data.name == "small.csv"
    assert data.features == tuple(c for c in small_frame.columns if c != "INDC")
    assert data.X.dtype == np.float64 and data.X.flags.c_contiguous
    assert data.y.dtype == np.int8
    assert data.n_rows == 400 and data.n_features == 12
    assert data.n_positive == int(small_frame["INDC"].sum())
    assert data.notes == ()


@pytest.mark.parametrize("name", ["t.tsv", "t.tab", "t.txt", "t.parquet", "t.csv.gz"])
def test_every_format_gives_the_same_fingerprint(tmp_path, small_frame, small_csv, name):
    path = tmp_path / name
    if name.endswith(".parquet"):
        small_frame.to_parquet(path)
    elif name.endswith(".gz"):
        path.write_bytes(gzip.compress(small_csv.read_bytes()))
    else:  # .tsv/.tab by extension, .txt by sniffing the tabs
        small_frame.to_csv(path, sep="\t", index=False)
    assert load_dataset(path).sha256 == load_dataset(small_csv).sha256


def test_excel_byte_order_mark_is_ignored(tmp_path, small_frame):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + small_frame[["INDC", "A_t1"]].to_csv(index=False).encode())
    assert load_dataset(path).features == ("A_t1",)


def test_boolean_target_is_accepted(small_frame):
    frame = small_frame.assign(INDC=small_frame["INDC"].astype(bool))
    assert dataset_from_frame(frame, name="b").n_positive == int(small_frame["INDC"].sum())


def test_other_target_name(small_frame):
    frame = small_frame.rename(columns={"INDC": "outcome"})
    assert load_dataset_frame(frame, target="outcome").target == "outcome"


def load_dataset_frame(frame, **kwargs):
    return dataset_from_frame(frame, name="f.csv", **kwargs)


# -- one test per bad input ------------------------------------------------------------------

def test_missing_file(tmp_path):
    message = error_of(tmp_path / "nope.csv")
    assert "nope.csv: no such file" in message and "rap demo" in message


def test_empty_file(tmp_path):
    assert "the file is empty" in error_of(write(tmp_path, "e.csv", ""))


def test_header_only(tmp_path):
    assert "has a header but no data rows" in error_of(write(tmp_path, "h.csv", "a,INDC\n"))


def test_unparseable_parquet(tmp_path):
    message = error_of(write(tmp_path, "x.parquet", "not parquet at all"))
    assert message.startswith("x.parquet: cannot read it")


def test_target_absent_lists_columns_politely(tmp_path):
    columns = [f"c{i}" for i in range(30)]
    path = write(tmp_path, "t.csv", ",".join(columns) + "\n" + ",".join("1" * 30) + "\n")
    message = error_of(path)
    assert "target column 'INDC' not found" in message
    assert "c0, c1" in message and "(20 more)" in message and "--target" in message


def test_target_not_binary_shows_values(small_frame):
    frame = small_frame.copy()
    frame.loc[0, "INDC"] = 2
    with pytest.raises(RapError, match="must be binary 0/1; found values 0, 1, 2"):
        load_dataset_frame(frame)


def test_text_target_is_refused(small_frame):
    frame = small_frame.assign(INDC=np.where(small_frame["INDC"] == 1, "yes", "no"))
    with pytest.raises(RapError, match="found values no, yes; recode it to 0"):
        load_dataset_frame(frame)


def test_single_class(small_frame):
    with pytest.raises(RapError, match="has only class 0 .*needs positives and negatives"):
        load_dataset_frame(small_frame.assign(INDC=0))


def test_nan_in_target_names_file_lines(tmp_path, small_frame):
    frame = small_frame.astype({"INDC": float})
    frame.loc[[1, 3], "INDC"] = np.nan
    path = tmp_path / "n.csv"
    frame.to_csv(path, index=False)
    message = error_of(path)
    assert "target 'INDC' is empty in 2 row(s) (file lines 3, 5)" in message


def test_text_feature_is_excluded_with_a_note(small_frame):
    data = load_dataset_frame(small_frame.assign(site=["north"] * len(small_frame)))
    assert "site" not in data.features
    assert data.notes == ("excluded 1 non-numeric column(s): site",)


def test_a_stray_text_cell_does_not_cost_the_column(tmp_path, small_frame):
    frame = small_frame.astype({"A_t0": object})
    frame.loc[2, "A_t0"] = "?"
    path = tmp_path / "stray.csv"
    frame.to_csv(path, index=False)
    data = load_dataset(path)
    assert "A_t0" in data.features, "one typo must not drop a whole feature"
    assert data.notes[0] == ("column A_t0: 1 non-numeric cell(s) treated as missing "
                             "(first: '?' on file line 4)")
    column = data.X[:, data.features.index("A_t0")]
    assert column[2] == np.median(np.delete(small_frame["A_t0"].to_numpy(), 2))


def test_no_numeric_feature_left(tmp_path):
    path = write(tmp_path, "t.csv", "name,INDC\na,0\nb,1\nc,0\nd,1\ne,0\nf,1\n")
    assert "no numeric feature column left" in error_of(path)


def test_nan_and_inf_are_imputed_with_the_median(small_frame):
    frame = small_frame.copy()
    frame.loc[[0, 1], "A_t0"] = np.nan
    frame.loc[5, "B_t1"] = np.inf
    data = load_dataset_frame(frame)
    assert data.notes == ("imputed 3 NaN/inf cell(s) in 2 column(s) (A_t0: 2, B_t1: 1) "
                          "with the column median",)
    a = data.features.index("A_t0")
    assert data.X[0, a] == np.median(small_frame["A_t0"].drop([0, 1]))
    assert np.isfinite(data.X).all()


def test_all_nan_column_is_dropped(small_frame):
    data = load_dataset_frame(small_frame.assign(A_t0=np.nan))
    assert "A_t0" not in data.features
    assert data.notes == ("dropped 1 column(s) with no finite value: A_t0",)


def test_duplicate_column_names_from_the_header(tmp_path):
    path = write(tmp_path, "d.csv", "a,a,INDC\n1,2,0\n3,4,1\n")
    message = error_of(path)
    assert "duplicate column name(s) 'a'" in message and "rename" in message


def test_constant_column_is_dropped_with_a_note(small_frame):
    data = load_dataset_frame(small_frame.assign(B_t2=1.5))
    assert "B_t2" not in data.features
    assert data.notes[0].startswith("dropped 1 constant column(s): B_t2")


def test_only_constant_columns(tmp_path):
    path = write(tmp_path, "c.csv", "a,INDC\n1,0\n1,1\n1,0\n1,1\n1,0\n1,1\n")
    assert "no usable feature column" in error_of(path)


def test_too_few_rows_for_the_folds(small_frame):
    frame = pd.concat([small_frame[small_frame.INDC == 1].head(2),
                       small_frame[small_frame.INDC == 0].head(10)])
    with pytest.raises(RapError, match=r"too few rows for 3-fold .*2 positive, 10 negative.*"
                                       r"use --cv 2"):
        load_dataset_frame(frame)
    assert load_dataset_frame(frame, cv=2).n_rows == 12


def test_one_positive_cannot_be_cross_validated(small_frame):
    frame = pd.concat([small_frame[small_frame.INDC == 1].head(1),
                       small_frame[small_frame.INDC == 0].head(10)])
    with pytest.raises(RapError, match="add rows"):
        load_dataset_frame(frame)


def test_prior_too_big_for_memory(small_frame, monkeypatch):
    monkeypatch.setattr(dataset_module, "available_memory_bytes", lambda: 16 * 1024**3)
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(6, 20_000)))
    frame.columns = [f"x{i}" for i in range(20_000)]
    frame["INDC"] = [0, 1, 0, 1, 0, 1]
    with pytest.raises(RapError, match=r"20000 features need about 8.9 GB for the "
                                       r"20000x20000 prior, more than half the 16.0 GB "
                                       r"available; select fewer"):
        load_dataset_frame(frame)


def test_the_fingerprint_is_the_hash_of_the_values_whatever_their_memory_layout():
    # Hashed from the arrays' own buffers (no copies): a Fortran-ordered float32 table and its
    # C-ordered float64 copy are the same data, so the same fingerprint, and it is the hash
    # of the bytes the format has always hashed (sessions and cached fits are keyed on it).
    import hashlib

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 7)).astype(np.float32)
    y = (rng.random(40) < 0.3).astype(np.int64)
    expected = hashlib.sha256(b"INDC\x1e" + "\x1f".join("abcdefg").encode() + b"\x1e"
                              + X.astype(np.float64).tobytes() + y.astype(np.int8).tobytes())
    fortran = dataset_module.fingerprint("INDC", list("abcdefg"), np.asfortranarray(X), y)
    assert fortran == expected.hexdigest()
    assert dataset_module.fingerprint("INDC", tuple("abcdefg"), X[:, :].copy(), y) == fortran


def test_pandas_version_is_the_installed_metadatas_version():
    from importlib.metadata import version

    from rap_core.data_cache import pandas_version

    assert pandas_version() == version("pandas")
