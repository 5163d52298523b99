"""The cutlass fit: recovers a known rule, reports progress, cancels, and is cached as JSON."""

from __future__ import annotations

import contextlib
import io
import json
import threading

import numpy as np
import pytest
from conftest import make_small_frame

from rap_core import cache, fit_process
from rap_core import fit as fit_module
from rap_core.dataset import dataset_from_frame
from rap_core.errors import FitCancelled, RapError
from rap_core.fit import Fit, FitParams, run_fit
from rap_core.fit_process import load_or_fit, run_fit_in_child
from rap_core.ranges import rectify

PARAMS = FitParams(Cs=5)  # tiny: a few seconds on the small dataset
SHUFFLED = ["C_t3", "A_t0", "B_t2", "A_t1", "C_t0", "B_t0", "A_t3", "C_t1", "B_t3", "A_t2",
            "C_t2", "B_t1", "INDC"]  # cutlass regroups these; the Fit must not


@pytest.fixture(scope="module")
def small_data():
    return dataset_from_frame(make_small_frame()[SHUFFLED], name="small.csv")


@pytest.fixture(scope="module")
def fitted(small_data):
    events, printed = [], io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        fit = run_fit(small_data, PARAMS, progress=events.append)
    return fit, events, printed.getvalue()


@pytest.fixture(scope="module")
def made_fit(small_data):
    """A Fit assembled by hand (no cutlass): for the cache and JSON tests."""
    ranges = rectify(small_data, PARAMS)
    p = small_data.n_features
    l1 = np.zeros(p)
    votes = [small_data.features.index("A_t1"), small_data.features.index("C_t3")]
    l1[votes] = [4.0, 3.0]
    coef = np.zeros(p)
    coef[votes] = 10.0
    return Fit(params=PARAMS, ranges=ranges, l1_coef=l1, l1_intercept=-4.5, coef=coef,
               intercept=-10.0, adopted=True, K=10.0, j_curve=np.array([0.6, 1.0]),
               j_order=tuple(votes), k_chosen=2, j0=0.98, C=10.0,
               data_sha256=small_data.sha256, cutlass_version=fit_module.cutlass_version(),
               elapsed_s=1.25)


def names(data, indices) -> list[str]:
    return [data.features[i] for i in indices]


@pytest.mark.slow
def test_fit_recovers_the_rule_in_file_order(small_data, fitted):
    fit, *_ = fitted
    assert fit.adopted and fit.k_chosen == 2
    assert sorted(names(small_data, fit.votes)) == ["A_t1", "C_t3"]
    assert names(small_data, fit.j_order[:2]) == names(small_data, np.argsort(
        -np.abs(fit.l1_coef))[:2]), "j_order ranks features by |L1 coefficient|"
    assert fit.j_curve[fit.k_chosen - 1] == pytest.approx(1.0)
    for name in ("A_t1", "C_t3"):
        assert fit.coef[small_data.features.index(name)] == fit.K == 10.0
    assert fit.intercept == -10.0  # m-of-k with m = k = 2: b = -K(2m - k - 1)
    assert fit.data_sha256 == small_data.sha256 and fit.features == small_data.features
    assert fit.cutlass_version == fit_module.cutlass_version()
    back = Fit.from_json_dict(json.loads(json.dumps(fit.to_json_dict(), allow_nan=False)))
    assert back.votes == fit.votes and back.j_order == fit.j_order


@pytest.mark.slow
def test_progress_events_arrive_in_order(fitted):
    _, events, _ = fitted
    phases = [e.phase for e in events]
    assert phases[0] == "input_validation" and phases[-1] == "complete"
    assert "cv_path" in phases
    elapsed = [e.elapsed_s for e in events]
    assert elapsed == sorted(elapsed)
    assert all(0 <= e.completed <= e.total for e in events)


@pytest.mark.slow
def test_fit_prints_nothing(fitted):
    assert fitted[2] == "", "cutlass output would garble the TUI and the CLI's own lines"


@pytest.mark.slow
def test_no_matplotlib_figures_left_open(fitted):
    plt = pytest.importorskip("matplotlib.pyplot")
    assert plt.get_fignums() == []


def test_cancel_raises_and_caches_nothing(small_data, tmp_path):
    with pytest.raises(FitCancelled, match="cancelled"):
        load_or_fit(small_data, PARAMS, cancel=lambda: True, cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.json"))


@pytest.mark.slow
def test_cutlass_cancel_becomes_fit_cancelled(small_data):
    asked = []

    def cancel() -> bool:  # our own check before cutlass passes; cutlass's first check cancels
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(FitCancelled, match="cancelled"):
        run_fit(small_data, PARAMS, cancel=cancel)
    assert len(asked) == 2, "cutlass stopped at its first cancel check"


def test_fit_json_round_trip(made_fit):
    fit = made_fit
    text = json.dumps(fit.to_json_dict(), allow_nan=False)  # strict JSON: NaN stored as null
    back = Fit.from_json_dict(json.loads(text))
    assert back.params == fit.params and back.features == fit.features
    for name in ("l1_coef", "coef", "j_curve"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fit, name))
    np.testing.assert_array_equal(back.ranges.rmin, fit.ranges.rmin)
    np.testing.assert_array_equal(back.ranges.rmax, fit.ranges.rmax)
    assert (back.j_order, back.k_chosen, back.adopted, back.C) == (
        fit.j_order, fit.k_chosen, fit.adopted, fit.C)


def test_cache_hit_does_not_run_cutlass(small_data, made_fit, monkeypatch, tmp_path):
    fit = made_fit
    monkeypatch.setattr(fit_process, "run_fit_in_child", lambda *a, **k: fit)
    first = load_or_fit(small_data, PARAMS)
    stored = list((tmp_path / "xdg-cache" / "rap-studio" / "fits").glob("*.json"))
    assert len(stored) == 1, "the fit is kept under $XDG_CACHE_HOME/rap-studio"

    def refuse(*args, **kwargs):
        raise AssertionError("cutlass ran despite a cached fit")

    monkeypatch.setattr(fit_process, "run_fit_in_child", refuse)
    again = load_or_fit(small_data, PARAMS)
    np.testing.assert_array_equal(again.coef, first.coef)
    assert again.j_order == first.j_order
    assert again.elapsed_s == pytest.approx(first.elapsed_s, abs=1e-3)
    with pytest.raises(AssertionError, match="cutlass ran"):
        load_or_fit(small_data, FitParams(Cs=5, K=5.0))  # other parameters: another entry


def test_corrupt_cache_file_is_rebuilt(small_data, made_fit, monkeypatch, tmp_path):
    fit = made_fit
    calls = []
    monkeypatch.setattr(fit_process, "run_fit_in_child", lambda *a, **k: calls.append(1) or fit)
    key = cache.fit_key(small_data.sha256, PARAMS.to_dict(), fit.cutlass_version)
    path = cache.fit_path(key, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"format": "rap-studio-fit", "version": 1, "coef": [1,')  # truncated
    assert load_or_fit(small_data, PARAMS, cache_dir=tmp_path).votes == fit.votes
    assert calls == [1]
    assert Fit.from_json_dict(json.loads(path.read_text())).votes == fit.votes


def test_cache_dir_honours_xdg_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "elsewhere"))
    assert cache.cache_dir() == tmp_path / "elsewhere" / "rap-studio"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir().parts[-2:] == (".cache", "rap-studio")


def test_unwritable_cache_does_not_fail_the_fit(small_data, made_fit, monkeypatch, tmp_path):
    fit = made_fit
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(fit_process, "run_fit_in_child", lambda *a, **k: fit)
    assert load_or_fit(small_data, PARAMS, cache_dir=blocker).votes == fit.votes


@pytest.mark.parametrize("bad, fragment", [
    (dict(Cs=0), "Cs=0 is invalid; Cs must be a whole number >= 1"),
    (dict(cv=1), "cv=1 is invalid; cv must be a whole number >= 2"),
    (dict(K=-1.0), "K=-1.0 is invalid; K must be a positive number"),
    (dict(intercept="median"), "intercept must be one of mofk, mean, maxj"),
    (dict(m=0), "m must be empty (all k votes: AND) or a whole number >= 1"),
    (dict(sdfilter=0.0), "sdfilter must be empty (off) or a positive number"),
    (dict(snap=0.5), "snap must be a fraction in [0, 0.5)"),
])
def test_params_validation_names_the_parameter(bad, fragment):
    with pytest.raises(RapError) as caught:
        FitParams(**bad).validate()
    assert fragment in str(caught.value)


def test_params_round_trip_and_unknown_keys():
    params = FitParams(K=5, m=2, sdfilter=None)
    assert FitParams.from_dict(params.to_dict()) == params
    assert params.K == 5.0 and isinstance(params.K, float)  # 5 and 5.0 share a cache key
    with pytest.raises(RapError, match="unknown fit parameter"):
        FitParams.from_dict({"Kappa": 1})


@pytest.mark.slow
def test_fit_runs_in_a_worker_thread_with_cutlass_process_pool(small_data, monkeypatch):
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 8)  # cutlass then forks 3 workers
    result = {}
    worker = threading.Thread(target=lambda: result.update(fit=run_fit(small_data, PARAMS)))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert sorted(names(small_data, result["fit"].votes)) == ["A_t1", "C_t3"]


@pytest.mark.slow
def test_isolated_fit_matches_and_cancels_promptly(small_data, fitted):
    import time

    fit, *_ = fitted
    events = []
    isolated = run_fit_in_child(small_data, PARAMS, progress=events.append)
    np.testing.assert_array_equal(isolated.coef, fit.coef)
    assert isolated.j_order == fit.j_order and events[-1].phase == "complete"

    asked = []  # cancel as soon as cutlass has started: mid-way through its CV path
    with pytest.raises(FitCancelled):
        run_fit_in_child(small_data, FitParams(Cs=15),
                         progress=lambda e: asked or asked.append(time.perf_counter()),
                         cancel=lambda: bool(asked))
    assert time.perf_counter() - asked[0] < 3.0, "cancel waited for the CV path"


def test_cutlass_version_is_the_installed_metadatas_version():
    from importlib.metadata import version

    assert fit_module.cutlass_version() == version("cutlass")


def test_cutlass_version_reads_the_first_dist_info_on_the_path(tmp_path, monkeypatch):
    # Read directly (importlib.metadata costs start-up time): the first install on sys.path
    # wins, as importlib.metadata decides, and only the headers count.
    dist = tmp_path / "cutlass-9.9.9.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.4\nName: cutlass\nVersion: 9.9.9\n\n"
                                   "Version: 1.0 (a line of the description)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert fit_module.cutlass_version() == "9.9.9"
