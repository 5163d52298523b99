"""The parsed-data cache: same Dataset as a fresh parse, served without parsing, never trusted."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rap_core import data_cache
from rap_core.data_cache import (
    bundled_entry_path,
    data_key,
    entry_path,
    file_sha256,
    load_dataset_cached,
)
from rap_core.dataset import load_dataset
from rap_core.demo import demo_fit_path, demo_path
from rap_core.errors import RapError
from rap_core.split import dataset_split, make_split


def same(a, b) -> None:
    assert (a.name, a.target, a.features, a.sha256, a.notes) == \
        (b.name, b.target, b.features, b.sha256, b.notes)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.X.dtype == np.float64 and a.y.dtype == np.int8


@pytest.fixture
def messy_csv(tmp_path, small_frame):
    """A table whose parse leaves notes: a text column and a few missing cells."""
    frame = small_frame.copy()
    frame["site"] = ["north", "south"] * (len(frame) // 2)
    frame.loc[[3, 9], "B_t2"] = np.nan
    path = tmp_path / "messy.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def no_parse(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the file was parsed: the cache was not used")

    monkeypatch.setattr(data_cache, "load_dataset", refuse)


def user_entry(path, target="INDC"):
    return entry_path(data_key(file_sha256(path), target))


def test_the_demo_opens_from_its_shipped_parse_with_the_bundled_fits_fingerprint(no_parse):
    from rap_core.split import train_dataset

    served = load_dataset_cached(demo_path())
    fit_sha = json.loads(demo_fit_path().read_text())["data_sha256"]
    # the bundled fit (of the training rows, rap_core.split) and existing sessions still match
    assert train_dataset(served).sha256 == fit_sha
    assert not user_entry(demo_path()).exists()  # served from the package, nothing written


def test_the_shipped_parse_equals_a_fresh_parse_of_the_csv():
    same(data_cache.read_entry(bundled_entry_path(), data_key(file_sha256(demo_path()), "INDC"),
                               demo_path(), 3, check_pandas=False),
         load_dataset(demo_path()))


def test_a_second_open_of_a_user_file_is_served_from_the_cache(messy_csv, monkeypatch):
    first = load_dataset_cached(messy_csv)
    same(first, load_dataset(messy_csv))
    assert first.notes  # the notes survive the cache: the app shows them on every launch
    assert user_entry(messy_csv).is_file()
    monkeypatch.setattr(data_cache, "load_dataset", lambda *a, **k: pytest.fail("parsed again"))
    same(load_dataset_cached(messy_csv), first)


def test_a_changed_file_or_target_is_parsed_again(small_csv, small_frame):
    load_dataset_cached(small_csv)
    small_frame.iloc[:5, 0] += 1.0
    small_frame.to_csv(small_csv, index=False)
    same(load_dataset_cached(small_csv), load_dataset(small_csv))
    with pytest.raises(RapError, match="target 'A_t0' must be binary"):
        load_dataset_cached(small_csv, target="A_t0")


def test_per_run_checks_apply_to_a_cached_table_too(small_csv):
    load_dataset_cached(small_csv)
    with pytest.raises(RapError) as fresh:
        load_dataset(small_csv, cv=10_000)
    with pytest.raises(RapError) as cached:
        load_dataset_cached(small_csv, cv=10_000)
    assert str(cached.value) == str(fresh.value)


def _tampered(entry, **changes) -> bytes:
    with np.load(entry, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays.update(changes)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


CORRUPTIONS = {
    "garbage": lambda entry: b"not a zip file at all",
    "truncated": lambda entry: entry.read_bytes()[:200],
    "values changed": lambda entry: _tampered(entry, X=np.load(entry)["X"] + 1.0),
    "labels out of range": lambda entry: _tampered(entry, y=np.full(400, 7, dtype=np.int8)),
    "wrong dtype": lambda entry: _tampered(entry, X=np.load(entry)["X"].astype(np.float32)),
    "pickled object": lambda entry: _tampered(entry, notes=np.array([{"a": 1}], dtype=object)),
    "extra member": lambda entry: _tampered(entry, extra=np.zeros(3)),
    "bad meta": lambda entry: _tampered(entry, meta=np.array("[1, 2]")),
    "split rows repeated": lambda entry: _tampered(
        entry, split_pool=np.load(entry)["split_pool"][[0] * 2 + list(range(2, 240))]),
    "split rows out of range": lambda entry: _tampered(
        entry, split_test=np.load(entry)["split_test"] + 1000),
    "split not stratified": lambda entry: _moved_test_row(entry),
    "split as floats": lambda entry: _tampered(
        entry, split_val=np.load(entry)["split_val"].astype(np.float64)),
    "another split seed": lambda entry: _tampered(entry, meta=np.array(
        str(np.load(entry)["meta"]).replace('"split_seed": 7', '"split_seed": 8'))),
}


def _moved_test_row(entry) -> bytes:
    """A valid partition whose sizes are no longer the stratified ones."""
    npz = np.load(entry)
    test = npz["split_test"]
    return _tampered(entry, split_test=test[1:], split_pool=np.append(npz["split_pool"], test[0]))


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_entry_is_discarded_and_replaced(small_csv, corruption):
    expected = load_dataset_cached(small_csv)
    entry = user_entry(small_csv)
    entry.write_bytes(CORRUPTIONS[corruption](entry))
    same(load_dataset_cached(small_csv), expected)
    reread = data_cache.read_entry(entry, data_key(file_sha256(small_csv), "INDC"), small_csv,
                                   3, check_pandas=True)
    same(reread, expected)  # rewritten with a valid entry
    same_split(dataset_split(reread), make_split(reread.y))


def same_split(a, b) -> None:
    for part in ("pool", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
        assert getattr(a, part).dtype == getattr(b, part).dtype
    assert a.seed == b.seed


def test_a_cached_or_bundled_table_comes_with_its_split_as_drawn(small_csv):
    """The split kept in the entry is the one `make_split` draws, pool order included, so a
    cached open holds out the same rows as a fresh parse."""
    load_dataset_cached(small_csv)  # writes the entry
    for dataset in (load_dataset_cached(small_csv), load_dataset_cached(demo_path())):
        same_split(dataset_split(dataset), make_split(dataset.y))


def test_opening_the_demo_draws_no_split_so_numpy_random_is_not_imported():
    """Drawing the split imports numpy.random (~8 ms of a launch, issue 13): the demo's entry
    ships it, so the app's way in (data, fit, session, metrics) never draws it."""
    code = ("import sys\n"
            "from rap_core.opening import load_data, open_fitted, prepare\n"
            "from tui.panes import warm\n"
            "params, _ = prepare(None)\n"
            "studio = open_fitted(load_data(None, target='INDC', cv=3), params, autosave=None)\n"
            "warm(studio)\n"
            "print('numpy.random' in sys.modules, studio.split.held_out.size)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "False" and int(out[1]) > 0


def test_an_entry_that_would_inflate_past_memory_is_not_read(small_csv, monkeypatch):
    expected = load_dataset_cached(small_csv)
    monkeypatch.setattr(data_cache, "available_memory_bytes", lambda: 1000)
    monkeypatch.setattr(data_cache, "write_entry", lambda *a, **k: None)
    calls = []
    real = data_cache.load_dataset
    monkeypatch.setattr(data_cache, "load_dataset",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    same(load_dataset_cached(small_csv), expected)
    assert calls == [1]


def test_a_link_or_fifo_in_the_cache_is_never_followed(small_csv, tmp_path):
    entry = user_entry(small_csv)
    entry.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    entry.symlink_to(victim)
    same(load_dataset_cached(small_csv), load_dataset(small_csv))
    assert victim.read_text() == "keep me" and entry.is_symlink()
    entry.unlink()
    os.mkfifo(entry)
    same(load_dataset_cached(small_csv), load_dataset(small_csv))  # returns: never opened


def test_an_unwritable_cache_is_not_an_error(small_csv, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    same(load_dataset_cached(small_csv), load_dataset(small_csv))


def test_a_bad_input_fails_with_the_same_line_as_a_fresh_parse(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    for path in (tmp_path / "missing.csv", tmp_path / "dir.csv"):
        with pytest.raises(RapError) as fresh:
            load_dataset(path)
        with pytest.raises(RapError) as cached:
            load_dataset_cached(path)
        assert str(cached.value) == str(fresh.value)


def test_entries_are_stored_uncompressed_so_a_launch_does_not_inflate_them(tmp_path):
    """The bundled demo's entry and a user's: inflating the demo's 1.9 MB took 6 ms of every
    launch (issue 13)."""
    import zipfile

    dataset = load_dataset(demo_path())
    written = data_cache.write_entry(tmp_path / "entry.npz", "k", "s", dataset)
    for entry in (bundled_entry_path(), written):
        with zipfile.ZipFile(entry) as archive:
            assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}


# -- the cache stays bounded -------------------------------------------------------------------


def _csvs(tmp_path, small_frame, n: int) -> list:
    """n different files (one value differs in each): n different entries."""
    paths = []
    for i in range(n):
        frame = small_frame.copy()
        frame.iloc[0, 0] = 100.0 + i
        path = tmp_path / f"table{i}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def test_the_least_recently_opened_entries_go_when_the_cache_is_over_its_budget(
        tmp_path, small_frame, monkeypatch):
    a, b, c = _csvs(tmp_path, small_frame, 3)
    load_dataset_cached(a)
    size = user_entry(a).stat().st_size
    monkeypatch.delenv("RAP_STUDIO_DATA_CACHE_MB", raising=False)
    monkeypatch.setattr(data_cache, "BUDGET_BYTES", 2 * size + size // 2)  # room for two
    load_dataset_cached(b)
    os.utime(user_entry(a), ns=(1, 1))  # a: opened long ago
    os.utime(user_entry(b), ns=(2, 2))
    load_dataset_cached(a)  # a cache hit makes a the most recently opened
    assert user_entry(a).stat().st_mtime_ns > 2
    load_dataset_cached(c)  # over budget: b, the least recently opened, goes
    assert user_entry(a).exists() and user_entry(c).exists() and not user_entry(b).exists()
    same(load_dataset_cached(b), load_dataset(b))  # a pruned table is simply parsed again


def test_pruning_keeps_the_new_entry_and_touches_nothing_but_entries(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    old, new = folder / "old.npz", folder / "new.npz"
    for path in (old, new):
        path.write_bytes(b"x" * 1000)
    os.utime(old, ns=(1, 1))
    other = folder / "notes.txt"
    other.write_bytes(b"x" * 5000)
    outside = tmp_path / "precious.npz"
    outside.write_bytes(b"x" * 1000)
    (folder / "link.npz").symlink_to(outside)
    (folder / "dir.npz").mkdir()
    assert data_cache.prune(folder, keep=new, budget=0) == [old]
    assert new.exists() and other.exists() and outside.exists()
    assert (folder / "link.npz").is_symlink() and (folder / "dir.npz").is_dir()


@pytest.mark.parametrize(("value", "expected"), [
    ("", data_cache.BUDGET_BYTES), ("512", 512 * 1024**2), ("0", 0),
    ("lots", data_cache.BUDGET_BYTES), ("-5", data_cache.BUDGET_BYTES),
])
def test_the_budget_comes_from_the_environment_when_it_is_a_number_of_megabytes(value, expected):
    assert data_cache.budget_bytes({"RAP_STUDIO_DATA_CACHE_MB": value}) == expected
