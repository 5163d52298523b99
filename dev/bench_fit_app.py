"""RAP Studio at the scale of issue 7: a 5,000 x 1,000 table, fitted for real, then edited.

    python dev/bench_fit_app.py                    # 5,000 x 1,000, 200 edits, 160x44
    python dev/bench_fit_app.py --rows 2000 --features 400 --edits 100

Steps, each timed: build the table (dev/bench_fit.py's censored AR(1) AND-of-3-ranges set), the
real cutlass fit (default FitParams, in its child process, as the app runs it), the Studio from
that fit (indicators, counts, S, B), then keypress -> repainted heatmap and rule metrics through
Pilot (dev/bench_tui.py's measurement: `+`/`-` on the votes table, rules and prior side by side).
Memory is this process's resident set (VmRSS) after imports, after the Studio is built, and after
the edits; the fit's child process has exited by then.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "dev"))


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=1000, help="a multiple of 25 (lags)")
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--terminal", default="160x44")
    args = parser.parse_args()

    from bench_fit import synthetic
    from bench_tui import keypress_latency

    import tui.app  # noqa: F401  (imports counted in the baseline, not in the Studio)
    from rap_core.dataset import dataset_from_frame
    from rap_core.fit import FitParams
    from rap_core.fit_process import run_fit_in_child
    from rap_core.studio import Studio

    base = rss_mb()
    t = time.perf_counter()
    frame, truth = synthetic(args.rows, args.features // 25, 25, "and")
    dataset = dataset_from_frame(frame, name=f"{args.rows}x{args.features}.csv")
    data_s = time.perf_counter() - t
    t = time.perf_counter()
    fit = run_fit_in_child(dataset, FitParams())
    fit_s = time.perf_counter() - t
    votes = sorted(dataset.features[i] for i in fit.votes)
    t = time.perf_counter()
    studio = Studio.from_fit(dataset, fit)
    studio_s = time.perf_counter() - t
    loaded = rss_mb()
    size = tuple(int(v) for v in args.terminal.split("x"))
    r = asyncio.run(keypress_latency(dataset.n_features, args.edits, size, studio=studio))
    after = rss_mb()
    print(f"{args.rows:,} x {args.features:,}: data {data_s:.1f} s; fit {fit_s:.1f} s "
          f"(solver {fit.params.solver}; votes {votes}, truth {sorted(truth)}); "
          f"Studio {studio_s:.2f} s")
    print(f"keypress -> repaint (terminal {r['terminal']}, block {r['block']}, {r['edits']} "
          f"edits): p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms; "
          f"app work p50 {r['work_p50_ms']:.1f} ms, p99 {r['work_p99_ms']:.1f} ms")
    print(f"memory (VmRSS): {base:.0f} MB after imports, {loaded:.0f} MB with the data, fit and "
          f"Studio (+{loaded - base:.0f} MB), {after:.0f} MB after the edits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
