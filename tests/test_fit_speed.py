"""cutlass's speed knobs (solver, backend, n_jobs, dtype): validated early, passed through to
cutlass, part of the cache key; progress events forwarded in order and put into words."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import make_small_frame

from rap_core import cache
from rap_core import fit as fit_module
from rap_core.dataset import dataset_from_frame
from rap_core.errors import RapError
from rap_core.fit import (
    FitParams,
    FitProgress,
    cached_fit,
    progress_from_cutlass,
    run_fit,
    store_fit,
)
from rap_core.fit_process import run_fit_in_child
from rap_core.fit_speed import check_backend, progress_text, slow_fit_warning

SMALL = FitParams(Cs=5)


@pytest.fixture(scope="module")
def small_data():
    return dataset_from_frame(make_small_frame(), name="small.csv")


def test_fista_is_the_default_solver():
    assert FitParams().solver == "fista"
    assert (FitParams().backend, FitParams().n_jobs, FitParams().dtype) == ("cpu", None, "float64")


@pytest.mark.parametrize("field, value, fragment", [
    ("solver", "lbfgs", "solver must be one of cd, fista, hybrid"),
    ("backend", "gpu", "backend must be one of cpu, cuda, auto"),
    ("n_jobs", 0, "n_jobs must be"),
    ("n_jobs", 1.5, "n_jobs must be"),
    ("dtype", "float32", "float64"),
])
def test_speed_knobs_are_validated_by_name(field, value, fragment):
    with pytest.raises(RapError, match=fragment):
        FitParams(**{field: value}).validate()


def test_cache_key_includes_every_speed_knob(small_data, tmp_path):
    base = FitParams(Cs=5)
    keys = {cache.fit_key(small_data.sha256, p.to_dict(), "0.9.0") for p in (
        base, FitParams(Cs=5, solver="cd"), FitParams(Cs=5, backend="auto"),
        FitParams(Cs=5, n_jobs=1))}
    assert len(keys) == 4


class Recorder:
    """Stands in for cutlass.CutlassClassifier: records its arguments, then fits for real on the
    CPU (the GPU path is mocked: `backend` is recorded, then the CPU does the work)."""

    seen: list[dict] = []
    real = None  # the real cutlass.CutlassClassifier, set by the test

    def __new__(cls, **kwargs):
        Recorder.seen.append(dict(kwargs))
        kwargs["backend"] = "cpu"
        return Recorder.real(**kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("solver, backend", [("fista", "cuda"), ("hybrid", "auto"),
                                             ("cd", "cpu")])
def test_solver_backend_and_dtype_reach_cutlass(small_data, monkeypatch, solver, backend):
    import cutlass

    Recorder.seen, Recorder.real = [], cutlass.CutlassClassifier
    monkeypatch.setattr(cutlass, "CutlassClassifier", Recorder)
    fit = run_fit(small_data, FitParams(Cs=5, solver=solver, backend=backend))
    assert Recorder.seen[-1]["solver"] == solver
    assert Recorder.seen[-1]["backend"] == backend
    assert Recorder.seen[-1]["dtype"] == "float64"
    assert sorted(small_data.features[i] for i in fit.votes) == ["A_t1", "C_t3"]
    assert fit.params.solver == solver


@pytest.mark.slow
def test_n_jobs_reaches_cutlass_cross_validation(small_data, monkeypatch):
    import cutlass.model

    models = []
    real = fit_module.fit_from_model
    monkeypatch.setattr(fit_module, "fit_from_model",
                        lambda model, *a, **k: models.append(model) or real(model, *a, **k))
    original = cutlass.model.CutlassLogisticCV
    run_fit(small_data, FitParams(Cs=5, n_jobs=2))
    assert models[-1].classifier_.n_jobs == 2 and models[-1].n_jobs_effective_ == 2
    assert cutlass.model.CutlassLogisticCV is original, "cutlass is left as it was found"
    run_fit(small_data, FitParams(Cs=5))
    assert models[-1].classifier_.n_jobs == -1, "None keeps cutlass's own choice"


def test_a_cached_fit_is_not_served_for_another_solver(small_data, monkeypatch, tmp_path):
    monkeypatch.setattr(fit_module, "cutlass_version", lambda: "0.9.0")
    fit = _hand_made_fit(small_data, FitParams(Cs=5, solver="cd"))
    store_fit(fit, cache_dir=tmp_path)
    assert cached_fit(small_data, FitParams(Cs=5, solver="cd"), cache_dir=tmp_path) is not None
    for other in (FitParams(Cs=5, solver="fista"), FitParams(Cs=5, solver="cd", n_jobs=1),
                  FitParams(Cs=5, solver="cd", backend="auto")):
        assert cached_fit(small_data, other, cache_dir=tmp_path) is None


def _hand_made_fit(data, params):
    import numpy as np

    from rap_core.fit import Fit
    from rap_core.ranges import rectify

    p = data.n_features
    coef = np.zeros(p)
    coef[0] = 10.0
    return Fit(params=params, ranges=rectify(data, params), l1_coef=coef / 2, l1_intercept=-1.0,
               coef=coef, intercept=-10.0, adopted=True, K=10.0, j_curve=np.array([1.0]),
               j_order=(0,), k_chosen=1, j0=1.0, C=1.0, data_sha256=data.sha256,
               cutlass_version="0.9.0")


def test_backend_check_before_any_fit(monkeypatch):
    import cutlass

    def probe(available):
        return lambda backend="cuda", device=None: cutlass.BackendStatus(
            backend="cuda", available=available, provider="cupy",
            error_message=None if available else "CuPy is not installed.")

    assert check_backend(FitParams(backend="cpu")) is None
    monkeypatch.setattr(cutlass, "probe_backend", probe(False))
    note = check_backend(FitParams(backend="auto"))
    assert "fitting on the CPU" in note and "\n" not in note
    with pytest.raises(RapError, match=r"backend cuda: .*CuPy is not installed.*--backend cpu"):
        check_backend(FitParams(backend="cuda"))
    monkeypatch.setattr(cutlass, "probe_backend", probe(True))
    assert check_backend(FitParams(backend="cuda")) is None
    assert check_backend(FitParams(backend="auto")) is None


def test_cli_refuses_cuda_without_a_gpu_before_reading_the_data(tmp_path):
    import importlib.util

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed: the CUDA backend may be usable here")
    missing = tmp_path / "not-read.csv"
    done = subprocess.run([sys.executable, "-m", "rap_core.cli", "rules", str(missing),
                           "--backend", "cuda"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "backend cuda" in lines[0] and "not-read" not in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_progress_events_cross_the_child_process_in_order(small_data):
    events = []
    run_fit_in_child(small_data, FitParams(Cs=5), progress=events.append)
    assert [e.phase for e in events] == ["input_validation", "cv_path", "final_refit",
                                         "final_refit", "complete"]
    assert all(e.backend == "cpu" for e in events)
    times = [e.elapsed_s for e in events]
    assert times == sorted(times)


def test_cuda_fold_and_c_events_survive_the_protocol():
    """cutlass's CUDA backend reports every (fold, C); the child sends them as JSON."""
    import json
    from dataclasses import asdict

    raw = {"phase": "cv_path", "completed": 17, "total": 45, "backend": "cuda", "fold": 1,
           "c_index": 1, "message": "", "elapsed_seconds": 3.5}
    event = progress_from_cutlass(raw)
    assert FitProgress(**json.loads(json.dumps(asdict(event)))) == event
    assert progress_text(event) == "cross-validation 17/45 (fold 2, C 2)"


def test_progress_text_says_what_is_running_on_the_cpu():
    def text(phase, completed=0, total=1):
        return progress_text(FitProgress(phase, completed, total, 0.0, backend="cpu"))

    # cutlass's CPU backend announces input validation, then is silent for the whole CV path
    assert text("input_validation") == "cross-validation"
    assert text("cv_path", 3, 3) == "cross-validation done"
    assert text("final_refit") == "final refit"
    assert text("complete", 1, 1) == "logic polish"


def test_slow_fit_warning_says_how_to_go_faster():
    assert slow_fit_warning(3000, 80, FitParams()) is None
    cli = slow_fit_warning(5000, 1000, FitParams(solver="cd"))
    assert "--solver fista" in cli and "--Cs 8" in cli and "may take" in cli
    tui = slow_fit_warning(5000, 1000, FitParams(solver="cd"), options="tui")
    assert "refit with solver fista" in tui and "--" not in tui


def test_fit_child_uses_one_blas_thread_unless_the_user_chose(monkeypatch):
    from rap_core import fit_process

    for name in fit_process.BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env = fit_process._child_env()
    assert all(env[name] == "1" for name in fit_process.BLAS_THREAD_VARIABLES)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    env = fit_process._child_env()
    assert env["OMP_NUM_THREADS"] == "2" and "OPENBLAS_NUM_THREADS" not in env
