"""Benchmark of the prior math: building S, one-vote edits of B, sign flips (and rule metrics).

    python dev/bench_core.py            # full sizes, checks the targets, ~30-60 s on 2 cores
    python dev/bench_core.py --quick    # small sizes, a smoke test for CI (no targets checked)
    python dev/bench_core.py --metrics  # also time rule metrics (rap_core.metrics), if present

Targets (full sizes; docs/benchmarks/core.md records the numbers):
- S for n = 100,000 rows, P = 1,024 votes: <= 1.5x one float32 X^T X of the same shapes,
  measured in the same run (numpy sends X.T @ X on one buffer to BLAS syrk, as we do).
- One weight edit -> updated B at P = 2,048: p99 <= 2 ms, in both layouts.
Sign flips at P = 2,048 are reported. Best-of-N for the one-shot timings (the machine is shared),
percentiles over every edit for the edit timings. Exit status 1 if a checked target is missed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rap_core.cli_parser import OneLineParser  # noqa: E402
from rap_core.layout import make_layout  # noqa: E402
from rap_core.prior import PriorBuilder  # noqa: E402
from rap_core.statistic import CoactivationCounts, Statistic  # noqa: E402


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def indicators(rng, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    ind = np.where(rng.random((n, p), dtype=np.float32) < 0.5, 1, -1).astype(np.int8)
    y = (rng.random(n) < 0.3).astype(np.int8)
    return ind, y


def bench_statistic(rng, n: int, p: int, repeats: int) -> bool:
    ind, y = indicators(rng, n, p)
    x = ind.astype(np.float32)
    signs = np.ones(p, dtype=np.int8)
    matmul = build = float("inf")
    for _ in range(repeats):  # interleaved, so both see the same background load
        matmul = min(matmul, best_of(1, lambda: x.T @ x))
        build = min(build, best_of(1, lambda: Statistic(
            CoactivationCounts.from_indicators(ind, y)).matrix(signs)))
    counts = CoactivationCounts.from_indicators(ind, y)
    from_counts = best_of(repeats, lambda: Statistic(counts).matrix(signs))
    ratio = build / matmul
    print(f"S build   n={n:,} P={p:,}: counts+S {build * 1e3:8.1f} ms  "
          f"(S from counts {from_counts * 1e3:.1f} ms)  float32 X^T X {matmul * 1e3:8.1f} ms  "
          f"ratio {ratio:.2f}  (target <= 1.50)")
    return ratio <= 1.5


def lagged_names(p: int, n_lags: int) -> tuple[list[str], list[int]]:
    lags = [t % n_lags for t in range(p)]
    return [f"V{t // n_lags + 1}_t{t % n_lags}" for t in range(p)], lags


def percentiles(times: list[float]) -> str:
    ms = np.asarray(times) * 1e3
    return (f"p50 {np.percentile(ms, 50):6.3f} ms  p99 {np.percentile(ms, 99):6.3f} ms  "
            f"max {ms.max():6.3f} ms")


def bench_edits(rng, p: int, n_lags: int, edits: int, flips: int) -> bool:
    ind, y = indicators(rng, 2_000, p)  # rows do not matter for edits; S is P x P either way
    counts = CoactivationCounts.from_indicators(ind, y)
    names, lags = lagged_names(p, n_lags)
    ok = True
    for name in ("features", "lags"):
        layout = make_layout(name, names, lags)
        weights = rng.random(p)  # every vote on: the widest case (a provisional rule)
        start = time.perf_counter()
        builder = PriorBuilder(counts, np.ones(p, dtype=np.int8), weights, layout)
        full = time.perf_counter() - start
        weight_times, flip_times = [], []
        for _ in range(edits):
            i, w = int(rng.integers(p)), float(rng.random())
            start = time.perf_counter()
            builder.set_weight(i, w)
            weight_times.append(time.perf_counter() - start)
        for _ in range(flips):
            i = int(rng.integers(p))
            sign = -int(builder.signs[i])
            start = time.perf_counter()
            builder.set_sign(i, sign)
            flip_times.append(time.perf_counter() - start)
        p99 = float(np.percentile(np.asarray(weight_times) * 1e3, 99))
        ok &= p99 <= 2.0
        print(f"edit      P={p:,} layout={name:8s} L={layout.size:5d}: "
              f"full build {full * 1e3:7.1f} ms")
        print(f"  weight edit x{edits}: {percentiles(weight_times)}  (target p99 <= 2 ms)")
        print(f"  sign flip   x{flips}: {percentiles(flip_times)}")
    return ok


def bench_metrics(rng, n: int, p: int) -> None:
    """Hook for rule metrics (owned by rap_core.metrics); skipped when that module is absent."""
    try:
        import rap_core.metrics  # noqa: F401
    except ImportError:
        print("metrics   rap_core.metrics not available; skipped")
        return
    print("metrics   (rap_core.metrics present; its benchmark belongs here)")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; no targets checked")
    parser.add_argument("--metrics", action="store_true", help="also time rule metrics")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    if args.quick:
        bench_statistic(rng, 10_000, 128, repeats=2)
        bench_edits(rng, 256, 8, edits=100, flips=50)
        ok = True
    else:
        ok = bench_statistic(rng, 100_000, 1_024, repeats=3)
        ok &= bench_edits(rng, 2_048, 8, edits=500, flips=200)
    if args.metrics:
        bench_metrics(rng, 100_000 if not args.quick else 10_000, 128)
    print("targets:", "met" if ok else "MISSED", "(not checked with --quick)" if args.quick else "")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
