"""Opening at once (rap_core.opening.open_cached): what rap-studio opens before it takes over the
terminal, so its first frame is the rule. Only what is already parsed and fitted opens this way;
everything else, errors included, is left to the app's background load, which reports them."""

from __future__ import annotations

import os

import pytest

from rap_core import data_cache, fit_process, opening
from rap_core.data_cache import data_key, entry_path, file_sha256
from rap_core.edits import nudge
from rap_core.fit import FitParams
from rap_core.opening import load_data, open_cached, open_fitted, prepare, session_stamp
from rap_core.session_lock import lock_path
from rap_core.split import train_dataset


def user_entry(path):
    return entry_path(data_key(file_sha256(path), "INDC"))


def saved_session(path) -> None:
    """A session with one edit, as an earlier RAP Studio on the demo left it."""
    params, _ = prepare(None)
    studio = open_fitted(load_data(None, target="INDC", cv=3), params, session=path)
    studio.apply(nudge(studio.rule, studio.rule.votes()[0][1], 0.5))
    studio.flush()


@pytest.fixture
def no_fit(monkeypatch):
    """Fails the test if cutlass was asked to fit (open_cached would swallow an exception)."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("no fit in this test")

    monkeypatch.setattr(fit_process, "load_or_fit", refuse)
    yield
    assert not calls, "cutlass was run: opening at once must never fit"


def cache_files(tmp_path) -> list[str]:
    root = tmp_path / "xdg-cache"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_demo_opens_at_once_with_its_session_replayed_and_nothing_locked_or_written(
        tmp_path, no_fit):
    session = tmp_path / "s.json"
    saved_session(session)
    before = session_stamp(session)

    opened = open_cached(None, FitParams(), target="INDC", session=session)

    assert opened is not None and opened.studio.restored_edits == 1
    assert opened.seen == before == session_stamp(session)  # replayed, not written
    assert not lock_path(session).exists()  # the app locks it once the rule is on screen
    assert opened.studio.session_path is None  # no autosave until then
    assert opened.params == FitParams().validate()


def test_a_table_not_parsed_yet_is_left_to_the_background_load(small_csv, tmp_path, no_fit):
    assert open_cached(small_csv, FitParams(), target="INDC") is None
    assert cache_files(tmp_path) == []  # not parsed, nothing cached


def test_a_parsed_table_without_a_cached_fit_is_left_to_the_background_load(small_csv, no_fit):
    load_data(small_csv, target="INDC", cv=3)  # an earlier launch parsed it, then was cancelled
    assert open_cached(small_csv, FitParams(), target="INDC") is None


FAST = FitParams(Cs=5, solver="fista")


def parsed_and_fitted(path):
    """What an earlier launch left: `path` parsed and fitted (with FAST): (path, dataset, fit)."""
    dataset = load_data(path, target="INDC", cv=FAST.cv)
    return path, dataset, fit_process.load_or_fit(train_dataset(dataset), FAST)


@pytest.fixture
def fitted_csv(small_csv):
    return parsed_and_fitted(small_csv)


def test_a_parsed_and_fitted_table_opens_at_once(fitted_csv):
    path, dataset, fit = fitted_csv

    opened = open_cached(path, FAST, target="INDC")

    assert opened is not None
    assert opened.dataset.sha256 == dataset.sha256
    assert opened.studio.fit.coef.tolist() == fit.coef.tolist()


@pytest.mark.parametrize("over", ["file", "cached parse"])
def test_a_big_table_shows_the_loading_screen_first_even_when_cached(small_frame, small_csv,
                                                                     tmp_path, monkeypatch,
                                                                     over):
    """Opening at once leaves the terminal blank meanwhile: only for what opens in well under a
    second, by the size of the file (refused before it is hashed) and of its cached parse."""
    if over == "file":  # many digits: a file bigger than its parse
        path = tmp_path / "wide.csv"
        small_frame.to_csv(path, index=False, float_format="%.15f")
    else:  # a parse bigger than its file
        path = small_csv
    parsed_and_fitted(path)
    sizes = {"file": path.stat().st_size, "cached parse": user_entry(path).stat().st_size}
    limit = sizes[over] - 1
    assert min(sizes.values()) <= limit, f"the test needs the {over} to be the bigger"
    hashed = []
    real_hash = data_cache.file_sha256
    monkeypatch.setattr(data_cache, "file_sha256", lambda p: hashed.append(p) or real_hash(p))
    monkeypatch.setattr(opening, "AT_ONCE_BYTES", limit)
    assert open_cached(path, FAST, target="INDC") is None
    assert (hashed == []) == (over == "file")
    monkeypatch.setattr(opening, "AT_ONCE_BYTES", max(sizes.values()))
    assert open_cached(path, FAST, target="INDC") is not None


@pytest.mark.parametrize("argument", ["target", "directory", "backend"])
def test_bad_input_or_another_backend_is_left_to_the_background_load(argument, tmp_path,
                                                                      no_fit):
    """The background load meets the same problem and shows it in the app (one line)."""
    path, target, params = None, "INDC", FitParams()
    if argument == "target":
        target = "NO_SUCH_COLUMN"
    elif argument == "directory":
        path = tmp_path
    else:
        params = FitParams(backend="auto")  # checking it imports cutlass: not at once
    assert open_cached(path, params, target=target) is None
    assert not os.listdir(tmp_path) or argument == "directory"
