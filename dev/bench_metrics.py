"""Benchmark of rule metrics (rap_core.metrics) and of one Studio edit end to end.

    python dev/bench_metrics.py            # full sizes, checks the target, ~20 s on 2 cores
    python dev/bench_metrics.py --quick    # small sizes, a smoke test (no target checked)

Target (docs/benchmarks/metrics.md records the numbers): one `MetricsEngine.evaluate` at
n = 100,000 rows and k = 64 active votes, p99 <= 10 ms, for the three shapes of rule a user meets:
a polished rule (every weight 1), a rule with a few distinct weights (after some weight edits),
and an L1 rule (every weight different). Also reported: a Studio edit (apply + current metrics)
and the session autosave it includes. Exit status 1 if the checked target is missed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rap_core.cli_parser import OneLineParser  # noqa: E402
from rap_core.edits import Edit  # noqa: E402
from rap_core.metrics import MetricsEngine  # noqa: E402
from rap_core.ranges import make_ranges  # noqa: E402
from rap_core.rules import Rule  # noqa: E402
from rap_core.studio import Studio  # noqa: E402


def percentiles(times: list[float]) -> tuple[float, float, float]:
    t = np.array(times) * 1e3
    return float(np.percentile(t, 50)), float(np.percentile(t, 99)), float(t.max())


def data(rng, n: int, p: int):
    ind = np.where(rng.random((n, p), dtype=np.float32) < 0.5, 1, -1).astype(np.int8)
    logit = ind[:, :8].sum(axis=1) + rng.normal(size=n)
    y = (logit > 2).astype(np.int8)
    return ind, y


def rules(rng, p: int, k: int) -> dict[str, Rule]:
    features = tuple(f"V{i}_t{i % 8}" for i in range(p))
    votes = rng.permutation(p)[:k]
    sign = np.ones(p, np.int8)
    sign[votes] = rng.choice([-1, 1], size=k)
    on = np.zeros(p, bool)
    on[votes] = True
    out = {}
    for name, values in (("polished (w = 1)", np.ones(k)),
                         ("4 distinct weights", rng.choice([0.5, 1.0, 1.5, 2.0], size=k)),
                         ("L1 (all distinct)", rng.uniform(0.05, 1.0, size=k))):
        weight = np.zeros(p, np.float32)
        weight[votes] = values
        out[name] = Rule.make(features, sign, weight, on, 10.0, k / 2)
    return out


def bench_evaluate(n: int, p: int, k: int, repeats: int, target_ms: float | None) -> bool:
    rng = np.random.default_rng(0)
    ind, y = data(rng, n, p)
    start = time.perf_counter()
    engine = MetricsEngine(ind, y)
    print(f"engine build n={n:,} P={p}: {(time.perf_counter() - start) * 1e3:.1f} ms")
    ok = True
    for name, rule in rules(rng, p, k).items():
        engine.evaluate(rule)  # warm up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            engine.evaluate(rule)
            times.append(time.perf_counter() - t0)
        p50, p99, worst = percentiles(times)
        verdict = ""
        if target_ms is not None:
            good = p99 <= target_ms
            ok &= good
            verdict = f"  (target p99 <= {target_ms:g} ms {'ok' if good else 'MISSED'})"
        print(f"evaluate {name:<20} n={n:,} k={k}: p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
              f"max {worst:.2f} ms{verdict}")
    return ok


def bench_studio(n: int, p: int, edits: int) -> None:
    rng = np.random.default_rng(1)
    ind, y = data(rng, n, p)
    features = tuple(f"V{i}_t{i % 8}" for i in range(p))
    # Ranges that reproduce these indicators from X = indicators: inside iff value >= 0.
    ranges = make_ranges(features, np.zeros(p), np.full(p, np.nan))
    dataset = SimpleNamespace(name="bench", features=features, X=ind.astype(np.float64), y=y,
                              sha256="0" * 64, target="INDC")
    studio = Studio.provisional(dataset, ranges)
    with tempfile.TemporaryDirectory() as tmp:
        studio.session_path = Path(tmp) / "session.json"
        apply_times, save_times = [], []
        for j in range(edits):
            edit = Edit("weight", features[j % p], float(1 + j % 3))
            t0 = time.perf_counter()
            studio.apply(edit)
            studio.metrics("current")  # held-out rows (40%)
            studio.metrics("current", "train")  # training rows (60%): the pane shows both
            apply_times.append(time.perf_counter() - t0)
            studio.flush()  # outside the timing: the background write must not overlap the next
            t0 = time.perf_counter()
            studio.save_session()
            save_times.append(time.perf_counter() - t0)
    p50, p99, worst = percentiles(apply_times)
    print(f"studio edit (apply + queue autosave + held-out and train metrics) n={n:,} P={p}, "
          f"all {p} votes on: "
          f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {worst:.2f} ms")
    p50, p99, worst = percentiles(save_times)
    print(f"session write, synchronous, on the writer thread ({len(studio.edits)} edits): "
          f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {worst:.2f} ms")


def main() -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no target checked")
    args = parser.parse_args()
    if args.quick:
        bench_evaluate(5_000, 32, 16, 20, None)
        bench_studio(5_000, 32, 20)
        return 0
    ok = bench_evaluate(100_000, 128, 64, 200, 10.0)
    bench_studio(100_000, 64, 100)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
