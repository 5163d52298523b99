"""Before and during a fit: how long it may take, what is running, and whether the backend can run.

`rap_core.fit` runs cutlass; this module holds what the edges (the `rap` CLI, the TUI) say about a
fit around it, using cutlass's own pieces:
- `estimate_fit_seconds`: cutlass's work estimate (rows x features x folds x Cs) times the rate
  `dev/bench_fit.py` measured for each solver; `slow_fit_warning` turns it into one line with
  what would make the fit faster.
- `progress_text`: a cutlass progress event as what is running now, in words.
- `check_backend`: cutlass's CUDA probe, before any slow work.
"""

from __future__ import annotations

from rap_core.errors import RapError
from rap_core.fit import FitParams, FitProgress

# Seconds per unit of cutlass's work estimate (rows x features x folds x Cs) on the 2-core
# reference box, CPU backend, from dev/bench_fit.py's table (docs/BENCHMARKS.md, "Fit"): fista
# 0.9-1.3e-8 on the larger AND sets; cd 0.15-1.2e-6 (its time depends on the data far more: how
# many features stay active along the C path), hybrid as fista plus a CD refit with a heavy tail.
# An estimate to warn and to show progress against, not a bound.
SECONDS_PER_WORK = {"cd": 1.0e-6, "fista": 1.2e-8, "hybrid": 2.0e-8}
STARTUP_S = 1.0  # child process start, imports, Rectifier and logic polish on a small table
SLOW_FIT_S = 10.0
PHASES = {"final_refit": "final refit", "host_to_device": "copying to the GPU",
          "backend_resolution": "choosing a backend"}


def estimate_fit_seconds(n_rows: int, n_features: int, params: FitParams) -> float:
    """A rough wall-time estimate of a CPU fit (cutlass's `estimate_work` x measured rates)."""
    from cutlass._backend import estimate_work  # cutlass's own cost model (pinned to 0.9)

    work = estimate_work(n_rows, n_features, params.cv, params.Cs, "l1")
    return STARTUP_S + SECONDS_PER_WORK[params.solver] * work


def slow_fit_warning(n_rows: int, n_features: int, params: FitParams, *,
                     options: str = "cli") -> str | None:
    """One line when a fit is estimated to take more than SLOW_FIT_S, saying how to speed it up
    (as command-line options, or as the TUI's fit options with `options="tui"`)."""
    estimate = estimate_fit_seconds(n_rows, n_features, params)
    if estimate <= SLOW_FIT_S:
        return None
    faster = []
    if params.solver != "fista":
        faster.append(("solver", "fista"))
    if params.Cs > 8:
        faster.append(("Cs", 8))
    if params.cv > 2:
        faster.append(("cv", 2))
    if options == "cli":
        how = " or ".join(f"--{name} {value}" for name, value in faster) or "a smaller table"
    else:
        how = ("escape, then refit with " + ", ".join(f"{name} {value}" for name, value in faster)
               if faster else "a smaller table")
    return (f"this fit ({n_rows:,} rows x {n_features:,} features, solver {params.solver}, "
            f"Cs {params.Cs}, cv {params.cv}) may take about {format_seconds(estimate)}; "
            f"faster: {how}")


def format_seconds(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    return f"{seconds / 3600:.1f} h"


def progress_text(event: FitProgress) -> str:
    """What is running now, in words, after `event` (e.g. "cross-validation 12/45").

    cutlass's CPU backend announces a phase as it starts and reports the CV path only when
    every fold is done, so the event that opens a fit (input_validation, a few milliseconds) is
    followed by the whole cross-validation; and the logic polish runs after "complete".
    """
    phase = event.phase
    if phase == "input_validation":
        return "cross-validation"
    if phase == "cv_path":
        if event.fold is None and event.completed >= event.total:
            return "cross-validation done"
        text = f"cross-validation {event.completed}/{event.total}"
        if event.fold is not None:
            text += f" (fold {event.fold + 1}"
            text += f", C {event.c_index + 1})" if event.c_index is not None else ")"
        return text
    if phase == "complete":
        return "logic polish"
    return PHASES.get(phase, phase.replace("_", " "))


def check_backend(params: FitParams) -> str | None:
    """Before any slow work: can `params.backend` run here?

    cpu: nothing to check. auto without a usable CUDA GPU: a one-line note (cutlass then fits on
    the CPU). cuda without one: RapError saying what to do, rather than cutlass's silent
    fallback to the CPU after the data has been loaded.
    """
    if params.backend == "cpu":
        return None
    import cutlass

    status = cutlass.probe_backend("cuda")
    if status.available:
        return None
    reason = (status.error_message or status.error_code or "no CUDA device").rstrip(".")
    if params.backend == "auto":
        return f"backend auto: no usable CUDA GPU here ({reason}); fitting on the CPU"
    raise RapError(f"backend cuda: no usable CUDA GPU here ({reason}); install "
                   f"rap-studio[cuda12] on a machine with an NVIDIA GPU, or use --backend cpu "
                   f"or --backend auto")
