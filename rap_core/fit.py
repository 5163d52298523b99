"""One cutlass fit: critical ranges, the L1 model and its logic polish, in the dataset's order.

`run_fit` wraps `cutlass.CutlassClassifier` (Rectifier -> L1 logistic with CV over C -> logic
polish into an m-of-k rule) and keeps only plain data: a frozen `Fit` of numpy arrays and numbers
that serialises to JSON. cutlass works in its own feature order (grouped by prefix); every array
here is mapped back to the file's column order, so index p always means the dataset's feature p.

Design choices:
- `cached_fit` answers from the bundled demo fit, then from the disk cache (`rap_core.cache`);
  `rap_core.fit_process.load_or_fit` asks it first and only then runs cutlass (minutes for
  thousands of rows), in a child process, and stores the result. This module never starts that
  child: the child imports this module, and the import graph stays a tree.
- Progress and cancellation use cutlass's own callbacks. cutlass checks for cancellation only
  between its phases (validation, CV path, final refit), so callers that must cancel promptly
  run it in a child process (`rap_core.fit_process`); the caller sees `FitCancelled` and nothing
  is cached.
- cutlass's own speed knobs, not a re-implementation: `solver` (default `fista`: the same rule
  as cutlass's default `cd` on every synthetic benchmark set where both finish, 6-30x faster;
  docs/BENCHMARKS.md, "Fit"), `backend` (cpu / cuda / auto, checked by
  `fit_speed.check_backend` before any slow work), `n_jobs` (CV worker processes) and `dtype`.
  All are FitParams fields, so they are in the cache key.
- Progress: cutlass's events become `FitProgress` (fold and C included, on CUDA);
  `rap_core.fit_speed` says what is running, how long a fit may take, and checks the backend.
- cutlass runs quietly (verbose=False, no plots); any figure it opens is closed, so a long-lived
  app does not accumulate matplotlib state.
- cutlass's CV uses a process pool (fork on Linux); it is safe to call from a worker thread.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from rap_core import cache
from rap_core.errors import FitCancelled, RapError
from rap_core.fit_schema import check_fit_json
from rap_core.ranges import Ranges, indicators, ranges_from_rectifier

FIT_FORMAT = "rap-studio-fit"
FIT_VERSION = 1
INTERCEPT_POLICIES = ("mofk", "mean", "maxj")
SOLVERS = ("cd", "fista", "hybrid")  # cutlass's L1 solvers (docs/BENCHMARKS.md, "Fit")
BACKENDS = ("cpu", "cuda", "auto")
DTYPES = ("float64",)  # cutlass 0.9 computes in float64 only (CPU and CUDA)


@dataclass(frozen=True)
class FitParams:
    """The knobs of one fit; defaults match the bundled demo fit (dev/make_demo.py --fit)."""

    Cs: int = 15
    cv: int = 3
    K: float = 10.0
    intercept: str = "mofk"
    m: int | None = None
    sdfilter: float | None = 3.0
    snap: float = 0.001
    logic_polish: bool = True
    random_state: int = 42
    solver: str = "fista"  # 6-30x faster than cd, same rule: docs/BENCHMARKS.md, "Fit"
    backend: str = "cpu"
    n_jobs: int | None = None  # None: cutlass's choice, min(cv, cores - 1) CV worker processes
    dtype: str = "float64"

    def __post_init__(self) -> None:
        # 10 and 10.0 are the same K: coerce so equal parameters give equal cache keys.
        for name in ("K", "sdfilter", "snap"):
            value = getattr(self, name)
            if _is_real(value):
                object.__setattr__(self, name, float(value))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FitParams:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RapError(f"unknown fit parameter(s) {', '.join(unknown)}; "
                           f"known: {', '.join(sorted(known))}")
        params = cls(**data)
        params.validate()
        return params

    def validate(self) -> FitParams:
        """Raise RapError naming the first bad parameter and what it may be; else return self."""
        def bad(name: str, allowed: str, value) -> RapError:
            return RapError(f"fit parameter {name}={value!r} is invalid; {name} must be {allowed}")

        if not _is_int(self.Cs) or self.Cs < 1:
            raise bad("Cs", "a whole number >= 1 (how many C values cutlass tries)", self.Cs)
        if not _is_int(self.cv) or self.cv < 2:
            raise bad("cv", "a whole number >= 2 (cross-validation folds)", self.cv)
        if not _is_real(self.K) or not 0 < self.K < 1e6:
            raise bad("K", "a positive number (the rule's logit scale, e.g. 10)", self.K)
        if self.intercept not in INTERCEPT_POLICIES:
            raise bad("intercept", "one of " + ", ".join(INTERCEPT_POLICIES), self.intercept)
        if self.m is not None and (not _is_int(self.m) or self.m < 1):
            raise bad("m", "empty (all k votes: AND) or a whole number >= 1", self.m)
        if self.sdfilter is not None and (not _is_real(self.sdfilter) or self.sdfilter <= 0):
            raise bad("sdfilter", "empty (off) or a positive number of SDs, e.g. 3", self.sdfilter)
        if not _is_real(self.snap) or not 0 <= self.snap < 0.5:
            raise bad("snap", "a fraction in [0, 0.5), e.g. 0.001", self.snap)
        if not isinstance(self.logic_polish, bool):
            raise bad("logic_polish", "true or false", self.logic_polish)
        if not _is_int(self.random_state):
            raise bad("random_state", "a whole number", self.random_state)
        if self.solver not in SOLVERS:
            raise bad("solver", "one of " + ", ".join(SOLVERS) + " (fista is the fast default)",
                      self.solver)
        if self.backend not in BACKENDS:
            raise bad("backend", "one of " + ", ".join(BACKENDS), self.backend)
        if self.n_jobs is not None and (not _is_int(self.n_jobs) or self.n_jobs < 1):
            raise bad("n_jobs", "empty (cutlass's choice) or a whole number >= 1 "
                      "(cross-validation worker processes)", self.n_jobs)
        if self.dtype not in DTYPES:
            raise bad("dtype", "float64 (the only precision cutlass 0.9 supports)", self.dtype)
        return self


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return _is_int(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


@dataclass(frozen=True)
class FitProgress:
    """One progress event: cutlass's phase, its step count, and the time since the fit began.

    cutlass 0.9 reports per fold and per C (`fold`, `c_index`, completed of cv x Cs paths) only
    on its CUDA backend; on the CPU it reports phase boundaries (input_validation, cv_path once
    all folds are done, final_refit, complete), so a display ticks its own clock in between.
    """

    phase: str
    completed: int
    total: int
    elapsed_s: float
    message: str = ""
    fold: int | None = None
    c_index: int | None = None
    backend: str = ""


@dataclass(frozen=True, eq=False)
class Fit:
    """The outcome of one fit, every per-feature array in dataset order."""

    params: FitParams
    ranges: Ranges
    l1_coef: np.ndarray          # (P,) L1 coefficients before the polish
    l1_intercept: float
    coef: np.ndarray             # (P,) adopted model: ±K on the polished votes, else the L1 ones
    intercept: float
    adopted: bool                # did the logic polish replace the L1 model?
    K: float
    j_curve: np.ndarray          # Youden's J of the top-k rule, k = 1..len
    j_order: tuple[int, ...]     # feature indices by decreasing |L1 coefficient|
    k_chosen: int
    j0: float                    # Youden's J of the L1 model
    C: float
    data_sha256: str
    cutlass_version: str
    elapsed_s: float = field(default=0.0)

    @property
    def features(self) -> tuple[str, ...]:
        return self.ranges.features

    @property
    def votes(self) -> tuple[int, ...]:
        """Feature indices with a non-zero adopted coefficient, strongest first."""
        nonzero = np.flatnonzero(self.coef)
        return tuple(int(i) for i in nonzero[np.argsort(-np.abs(self.coef[nonzero]),
                                                        kind="stable")])

    def to_json_dict(self) -> dict:
        f = cache.json_float
        return {
            "format": FIT_FORMAT, "version": FIT_VERSION,
            "data_sha256": self.data_sha256, "cutlass_version": self.cutlass_version,
            "params": self.params.to_dict(), "ranges": self.ranges.to_json_dict(),
            "l1_coef": [f(v) for v in self.l1_coef], "l1_intercept": f(self.l1_intercept),
            "coef": [f(v) for v in self.coef], "intercept": f(self.intercept),
            "adopted": bool(self.adopted), "K": f(self.K),
            "j_curve": [f(v) for v in self.j_curve], "j_order": [int(i) for i in self.j_order],
            "k_chosen": int(self.k_chosen), "j0": f(self.j0), "C": f(self.C),
            "elapsed_s": round(float(self.elapsed_s), 3),
        }

    @classmethod
    def from_json_dict(cls, data: dict) -> Fit:
        """Rebuild a Fit; RapError if the payload is not a well-formed fit."""
        try:
            if data.get("format") != FIT_FORMAT or data.get("version") != FIT_VERSION:
                raise ValueError("not a rap-studio fit (format/version)")
            check_fit_json(data)  # every field's type, length and bounds (rap_core.fit_schema)
            ranges = Ranges.from_json_dict(data["ranges"])
            p = ranges.n_features
            arrays = {k: np.array([cache.float_or_nan(v) for v in data[k]], dtype=np.float64)
                      for k in ("l1_coef", "coef", "j_curve")}
            if arrays["l1_coef"].shape != (p,) or arrays["coef"].shape != (p,):
                raise ValueError("coefficient length differs from the feature count")
            order = tuple(int(i) for i in data["j_order"])
            if any(not 0 <= i < p for i in order):
                raise ValueError("j_order index out of range")
            return cls(params=FitParams.from_dict(data["params"]), ranges=ranges,
                       l1_coef=arrays["l1_coef"],
                       l1_intercept=cache.float_or_nan(data["l1_intercept"]),
                       coef=arrays["coef"], intercept=cache.float_or_nan(data["intercept"]),
                       adopted=bool(data["adopted"]), K=float(data["K"]),
                       j_curve=arrays["j_curve"], j_order=order, k_chosen=int(data["k_chosen"]),
                       j0=cache.float_or_nan(data["j0"]), C=cache.float_or_nan(data["C"]),
                       data_sha256=str(data["data_sha256"]),
                       cutlass_version=str(data["cutlass_version"]),
                       elapsed_s=float(data.get("elapsed_s", 0.0)))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise RapError(f"not a valid fit file ({exc})") from None


ProgressFn = Callable[[FitProgress], None]
CancelFn = Callable[[], bool]


def cutlass_version() -> str:
    """The installed cutlass's version, from its package metadata (rap_core.versions): importing
    cutlass itself costs start-up time the app spends before the bundled or cached fit opens."""
    from rap_core.versions import installed_version

    found = installed_version("cutlass")
    if found is not None:
        return found
    import cutlass  # a source checkout on sys.path, with no metadata: ask the module

    return str(cutlass.__version__)


def youden_j(y: np.ndarray, predicted: np.ndarray) -> float:
    """TPR − FPR of boolean predictions."""
    positive = np.asarray(y) == 1
    predicted = np.asarray(predicted, dtype=bool)
    tpr = predicted[positive].mean() if positive.any() else 0.0
    fpr = predicted[~positive].mean() if (~positive).any() else 0.0
    return float(tpr - fpr)


def run_fit(dataset, params: FitParams | None = None, *, progress: ProgressFn | None = None,
            cancel: CancelFn | None = None) -> Fit:
    """Run cutlass on `dataset` in this process (minutes for thousands of rows). Raises
    FitCancelled (at cutlass's next phase boundary), RapError.

    `rap_core.fit_process.run_fit_in_child` runs this in a child process, where a cancel stops it
    within ~0.1 s (the CV path is most of a fit and one phase).
    """
    params = (params or FitParams()).validate()
    if cancel is not None and cancel():
        raise FitCancelled()
    import cutlass

    model = cutlass.CutlassClassifier(
        logic_polish=params.logic_polish, logic_intercept=params.intercept, logic_m=params.m,
        logic_scale=float(params.K), logic_plot=False, Cs=int(params.Cs), cv=int(params.cv),
        sdfilter=params.sdfilter, snap=params.snap, random_state=int(params.random_state),
        solver=params.solver, backend=params.backend, dtype=params.dtype, verbose=False)

    def on_progress(event: dict) -> None:
        if progress is not None:
            progress(progress_from_cutlass(event))

    started = time.perf_counter()
    try:
        with _cv_workers(params.n_jobs):
            model.fit(dataset.frame(), dataset.y, progress_callback=on_progress,
                      cancel_callback=cancel)
    except cutlass.FitCancelledError:
        raise FitCancelled() from None
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RapError(f"{dataset.name}: cutlass could not fit this data ({first})") from None
    finally:
        _close_figures(model)
    return fit_from_model(model, dataset, params, elapsed_s=time.perf_counter() - started)


def progress_from_cutlass(event: dict) -> FitProgress:
    """cutlass's progress dict (cutlass.FitProgress.to_dict()) as our FitProgress."""
    def optional_int(value):
        return None if value is None else int(value)

    return FitProgress(phase=str(event.get("phase", "")),
                       completed=int(event.get("completed", 0)),
                       total=int(event.get("total", 1)),
                       elapsed_s=float(event.get("elapsed_seconds", 0.0)),
                       message=str(event.get("message", "") or ""),
                       fold=optional_int(event.get("fold")),
                       c_index=optional_int(event.get("c_index")),
                       backend=str(event.get("backend", "") or ""))


_CV_WORKERS_LOCK = threading.Lock()


@contextlib.contextmanager
def _cv_workers(n_jobs: int | None):
    """Give cutlass's cross-validation `n_jobs` worker processes for one fit.

    cutlass 0.9's `CutlassLogisticCV` takes `n_jobs`, but `CutlassClassifier` has no such
    parameter and builds its `CutlassLogisticCV(n_jobs=-1, ...)` inside `fit`. So for the length
    of the fit, `cutlass.model` sees a subclass that passes ours instead; the lock keeps two
    in-process fits from swapping it under each other. None leaves cutlass's own choice.
    """
    if n_jobs is None:
        yield
        return
    import cutlass.model

    with _CV_WORKERS_LOCK:
        base = cutlass.model.CutlassLogisticCV

        class WithWorkers(base):
            def __init__(self, *args, **kwargs):
                kwargs["n_jobs"] = int(n_jobs)
                super().__init__(*args, **kwargs)

        cutlass.model.CutlassLogisticCV = WithWorkers
        try:
            yield
        finally:
            cutlass.model.CutlassLogisticCV = base


def _close_figures(model) -> None:
    figures = list(getattr(model, "logic_figs_", []) or [])
    if figures:
        import matplotlib.pyplot as plt

        for figure in figures:
            plt.close(figure)
        model.logic_figs_ = []


def fit_from_model(model, dataset, params: FitParams, *, elapsed_s: float = 0.0) -> Fit:
    """Translate a fitted CutlassClassifier (its feature order) into a Fit (dataset order)."""
    rect_names = list(model.feature_names_)
    ranges = ranges_from_rectifier(dataset.features, rect_names, model.rectifier_.rmin_,
                                   model.rectifier_.rmax_)
    position = {name: i for i, name in enumerate(rect_names)}
    to_rect = np.array([position[f] for f in dataset.features], dtype=np.intp)
    to_data = np.empty_like(to_rect)
    to_data[to_rect] = np.arange(len(to_rect))

    l1_rect = model.duplicate_consolidator_.expand_coefficients(
        model.classifier_.coef_.ravel()).reindex(rect_names).to_numpy(dtype=np.float64)
    l1_coef = l1_rect[to_rect]
    l1_intercept = float(np.ravel(model.classifier_.intercept_)[0])
    coef = np.asarray(model.coef_, dtype=np.float64).ravel()[to_rect]
    intercept = float(np.ravel(model.intercept_)[0])

    diag = dict(getattr(model, "logic_diag_", {}) or {})
    if params.logic_polish and "J_k" in diag:
        j_curve = np.asarray(diag["J_k"], dtype=np.float64)
        j_order = tuple(int(to_data[i]) for i in np.asarray(diag["order"], dtype=np.intp))
        k_chosen, adopted = int(diag["k_chosen"]), bool(diag["adopted"])
        K, j0 = float(diag["K_used"]), float(diag["J0"])
    else:  # no polish (or nothing to polish): the L1 model stands
        nonzero = np.flatnonzero(l1_coef)
        j_order = tuple(int(i) for i in nonzero[np.argsort(-np.abs(l1_coef[nonzero]),
                                                           kind="stable")])
        j_curve, k_chosen, adopted, K = np.zeros(0), 0, False, float(params.K)
        scores = indicators(dataset.X, ranges) @ l1_coef + l1_intercept
        j0 = youden_j(dataset.y, scores >= 0.0)
    return Fit(params=params, ranges=ranges, l1_coef=l1_coef, l1_intercept=l1_intercept,
               coef=coef, intercept=intercept, adopted=adopted, K=K, j_curve=j_curve,
               j_order=j_order, k_chosen=k_chosen, j0=j0, C=float(model.classifier_.C_),
               data_sha256=dataset.sha256, cutlass_version=cutlass_version(),
               elapsed_s=float(elapsed_s))


# -- cached fits -------------------------------------------------------------------------

def _matches(fit: Fit, dataset, params: FitParams, version: str) -> bool:
    return (fit.data_sha256 == dataset.sha256 and fit.params == params
            and fit.cutlass_version == version and fit.features == tuple(dataset.features))


def _load(path, dataset, params: FitParams, version: str) -> Fit | None:
    data = cache.read_json(path)
    if data is None:
        return None
    try:
        fit = Fit.from_json_dict(data)
    except RapError:
        return None
    return fit if _matches(fit, dataset, params, version) else None


def cached_fit(dataset, params: FitParams | None = None, *, cache_dir=None) -> Fit | None:
    """The bundled or cached fit for (dataset, params), or None: never runs cutlass."""
    from rap_core.demo import demo_fit_path

    params = (params or FitParams()).validate()
    version = cutlass_version()
    bundled = _load(demo_fit_path(), dataset, params, version)
    if bundled is not None:
        return bundled
    key = cache.fit_key(dataset.sha256, params.to_dict(), version)
    return _load(cache.fit_path(key, cache_dir), dataset, params, version)


def store_fit(fit: Fit, *, cache_dir=None):
    """Keep `fit` in the cache; returns the file, or None if the disk refused (not an error)."""
    key = cache.fit_key(fit.data_sha256, fit.params.to_dict(), fit.cutlass_version)
    return cache.write_json(cache.fit_path(key, cache_dir), fit.to_json_dict())
