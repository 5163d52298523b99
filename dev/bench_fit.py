"""Which cutlass solver should fit by default? Time *and* result over shapes and rule kinds.

    python dev/bench_fit.py                 # the full grid (~15 min on the 2-core box)
    python dev/bench_fit.py --quick         # demo shape only, fista + hybrid (CI smoke, ~30 s)
    python dev/bench_fit.py --json out.jsonl --timeout 120
    python dev/bench_fit.py --shapes 20000x2000 --solvers fista hybrid   # rerun a part

Every run is one `rap_core.fit.run_fit` in a child process (as `rap` and `rap-studio` run it),
stopped through the fit's own cancel after `--timeout` seconds (recorded "> T s"). Each dataset is
split 70/30 (stratified, seeded); the fit sees the 70 % and the rule is scored on the 30 %.

Rule kinds (synthetic: censored AR(1) variables x lags, like the bundled demo, so cutlass's
Rectifier meets the data it is designed for; see rap_core/demo.py):
- `and`: INDC = 1 iff three critical ranges (three variables) all hold. At 3,000 x 80 this is the
  bundled demo itself (four ranges).
- `mofk`: INDC = 1 iff at least 3 of 4 ranges hold.
- `noisy`: the `and` rule with 10 % of the positives labelled 0 (missed cases). Noise in the other
  direction (negatives labelled 1) is not benchmarked: cutlass's Rectifier takes each range from
  the positives' min/max, so any false positive widens a range for every solver alike.
- `real`: scikit-learn's bundled breast-cancer table (569 x 30, INDC = benign) when scikit-learn
  is installed (`pip install scikit-learn`; not a project dependency); no ground truth.

Columns: wall = the whole call (child start + data transfer + fit); fit = cutlass's own time;
L1 nnz = non-zero L1 coefficients before the logic polish; votes = the adopted rule's features
(✔ = exactly the true features, else found/true +extra; "(L1)" = the polish was refused and the
L1 model stands);
J/AUC = held-out Youden's J and ROC AUC of the rule; =cd = same features and signs as the cd
rule on the same data (and the share of held-out rows both rules classify alike).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rap_core.dataset import dataset_from_frame  # noqa: E402
from rap_core.errors import FitCancelled, RapError  # noqa: E402
from rap_core.fit import FitParams  # noqa: E402
from rap_core.fit_process import run_fit_in_child  # noqa: E402
from rap_core.metrics import MetricsEngine  # noqa: E402
from rap_core.ranges import indicators  # noqa: E402
from rap_core.rules import rule_from_fit  # noqa: E402

SOLVERS = ("cd", "fista", "hybrid")
# (rows, features, variables, lags)
SHAPES = ((3000, 80, 10, 8), (2000, 400, 50, 8), (5000, 1000, 40, 25), (20000, 2000, 80, 25))
KINDS = ("and", "mofk", "noisy")
SEED = 7
# Where cd is not run, and why: it would only burn the time cap (the AND run records it).
CD_SKIP = {
    (20000, 2000): "16x the work of 5,000 x 1,000; the AND run shows where cd stands",
}


# -- data --------------------------------------------------------------------------------

def censored_panel(rng, n_rows: int, n_vars: int, n_lags: int) -> pd.DataFrame:
    """AR(1) over lags per variable, censored at +-2 SD (the demo's design, without rounding)."""
    columns = {}
    for v in range(1, n_vars + 1):
        rho = rng.uniform(0.5, 0.8)
        level = rng.standard_normal(n_rows)
        for lag in range(n_lags):
            if lag > 0:
                level = rho * level + np.sqrt(1 - rho * rho) * rng.standard_normal(n_rows)
            columns[f"V{v}_t{lag}"] = np.clip(level, -2.0, 2.0)
    return pd.DataFrame(columns)


# Ranges on the standard-normal scale, each holding for ~71 % of rows (as in the demo).
RANGES = ((-1.2, 1.0), (-0.55, None), (None, 0.55), (-1.0, 1.2))


def synthetic(n_rows: int, n_vars: int, n_lags: int, kind: str, seed: int = SEED):
    """(frame with INDC, true features) for one rule kind."""
    rng = np.random.default_rng(seed)
    frame = censored_panel(rng, n_rows, n_vars, n_lags)
    n_true = 4 if kind == "mofk" else 3
    variables = rng.choice(np.arange(1, n_vars + 1), size=n_true, replace=False)
    truth = [f"V{v}_t{rng.integers(n_lags)}" for v in variables]
    inside = np.zeros((n_rows, n_true), dtype=bool)
    for j, (feature, (lo, hi)) in enumerate(zip(truth, RANGES, strict=False)):
        x = frame[feature].to_numpy()
        inside[:, j] = (x >= (lo if lo is not None else -np.inf)) & \
                       (x <= (hi if hi is not None else np.inf))
    if kind == "mofk":
        label = inside.sum(axis=1) >= 3
    else:
        label = inside.all(axis=1)
    if kind == "noisy":
        positives = np.flatnonzero(label)
        missed = rng.choice(positives, size=len(positives) // 10, replace=False)
        label[missed] = False
    frame["INDC"] = label.astype(np.int8)
    return frame, truth


def demo_frame():
    from rap_core.demo import GROUND_TRUTH, demo_path

    return pd.read_csv(demo_path()), [f for f, _, _ in GROUND_TRUTH]


def real_frame():
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        return None
    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    frame = pd.DataFrame(data.data, columns=names)
    frame["INDC"] = data.target.astype(np.int8)  # 1 = benign
    return frame


def split(frame: pd.DataFrame, seed: int = SEED):
    """Stratified 70/30 split of rows."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(frame), dtype=bool)
    for cls in (0, 1):
        rows = np.flatnonzero(frame["INDC"].to_numpy() == cls)
        test[rng.choice(rows, size=int(round(0.3 * len(rows))), replace=False)] = True
    return frame[~test].reset_index(drop=True), frame[test].reset_index(drop=True)


# -- one run -----------------------------------------------------------------------------

def run_one(train, test, solver: str, timeout: float, params: FitParams) -> dict:
    started = time.perf_counter()
    deadline = started + timeout
    try:
        fit = run_fit_in_child(train, FitParams(**{**params.to_dict(), "solver": solver}),
                               cancel=lambda: time.perf_counter() > deadline)
    except FitCancelled:
        return {"solver": solver, "status": "timeout", "wall_s": timeout}
    except RapError as exc:
        return {"solver": solver, "status": "error", "error": str(exc)[:120],
                "wall_s": time.perf_counter() - started}
    wall = time.perf_counter() - started
    rule = rule_from_fit(fit)
    engine = MetricsEngine(indicators(test.X, fit.ranges), test.y)
    held_out = engine.evaluate(rule)
    votes = {train.features[i]: int(np.sign(fit.coef[i])) for i in fit.votes}
    predicted = rule.predict(indicators(test.X, fit.ranges))
    return {"solver": solver, "status": "ok", "wall_s": wall, "fit_s": fit.elapsed_s,
            "votes": votes, "adopted": fit.adopted, "k": len(votes),
            "l1_nonzero": int(np.count_nonzero(fit.l1_coef)),
            "j": held_out.j, "auc": held_out.auc, "C": fit.C,
            "predicted": np.asarray(predicted, dtype=bool)}


def votes_cell(result: dict, truth: list[str] | None) -> str:
    votes = result["votes"]
    if truth is None:
        return f"{len(votes)} votes"
    found = len(set(votes) & set(truth))
    extra = len(set(votes) - set(truth))
    if found == len(truth) and not extra:
        return f"✔ {found}/{len(truth)}"
    return f"{found}/{len(truth)} +{extra}"


def agreement_cell(result: dict, cd: dict | None) -> str:
    if cd is None or cd.get("status") != "ok" or result["solver"] == "cd":
        return "—"
    same = result["votes"] == cd["votes"]
    rows = float(np.mean(result["predicted"] == cd["predicted"]))
    return f"{'yes' if same else 'no'} ({rows:.3f})"


def row(shape: str, kind: str, result: dict, truth, cd, timeout: float) -> str:
    if result["status"] == "timeout":
        return (f"| {shape} | {kind} | {result['solver']} | > {timeout:.0f} | — | — | — | — "
                f"| — | — |")
    if result["status"] == "skipped":
        return f"| {shape} | {kind} | {result['solver']} | skipped: {result['why']} | | | | | | |"
    if result["status"] == "error":
        return f"| {shape} | {kind} | {result['solver']} | error: {result['error']} | | | | | | |"
    polish = "" if result["adopted"] else " (L1)"
    return (f"| {shape} | {kind} | {result['solver']} | {result['wall_s']:.1f} | "
            f"{result['fit_s']:.1f} | {result['l1_nonzero']} | "
            f"{votes_cell(result, truth)}{polish} | "
            f"{result['j']:.3f} | "
            f"{result['auc']:.3f} | {agreement_cell(result, cd)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per fit (120)")
    parser.add_argument("--quick", action="store_true", help="demo shape, fista + hybrid")
    parser.add_argument("--json", type=Path, default=None, help="also write JSON lines here")
    parser.add_argument("--Cs", type=int, default=15)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--shapes", nargs="*", default=None, metavar="ROWSxFEATURES",
                        help="only these shapes, e.g. 20000x2000 (569x30 = the real table)")
    parser.add_argument("--solvers", nargs="*", default=None, choices=SOLVERS,
                        help="only these solvers")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="cutlass CV worker processes (default: cutlass's choice)")
    args = parser.parse_args()
    params = FitParams(Cs=args.Cs, cv=args.cv, n_jobs=args.n_jobs).validate()

    cases = []  # (shape label, kind, frame, truth, solvers)
    if args.quick:
        frame, truth = demo_frame()
        cases.append(("3,000 x 80", "and (demo)", frame, truth, ("fista", "hybrid")))
    else:
        for n, p, n_vars, n_lags in SHAPES:
            label = f"{n:,} x {p:,}"
            for kind in KINDS:
                if (n, p) == (3000, 80) and kind == "and":
                    frame, truth = demo_frame()
                    kind = "and (demo)"
                else:
                    frame, truth = synthetic(n, n_vars, n_lags, kind)
                solvers = SOLVERS
                if (n, p) in CD_SKIP and kind != "and":
                    solvers = ("cd-skip", "fista", "hybrid")
                cases.append((label, kind, frame, truth, solvers))
        real = real_frame()
        if real is not None:
            cases.append(("569 x 30", "real (breast cancer)", real, None, SOLVERS))
        else:
            print("note: scikit-learn is not installed: the real-table rows are skipped",
                  file=sys.stderr)

    print(f"cutlass fit benchmark: Cs={args.Cs}, cv={args.cv}, n_jobs={args.n_jobs}, "
          f"timeout {args.timeout:.0f} s, 70/30 stratified split, seed 7\n")
    print("| shape | rule | solver | wall s | fit s | L1 nnz | votes | held-out J | held-out AUC "
          "| =cd (rows agreeing) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    if args.shapes is not None:
        wanted = {shape.replace(",", "").replace(" ", "") for shape in args.shapes}
        cases = [c for c in cases if c[0].replace(",", "").replace(" ", "") in wanted]
    if args.solvers is not None:
        cases = [c[:4] + (tuple(s for s in c[4] if s in args.solvers
                                or (s == "cd-skip" and "cd" in args.solvers)),) for c in cases]
    out = args.json.open("w") if args.json else None
    for label, kind, frame, truth, solvers in cases:
        train_frame, test_frame = split(frame)
        train = dataset_from_frame(train_frame, name=f"{label} {kind} train")
        test = dataset_from_frame(test_frame, name=f"{label} {kind} test", cv=2)
        cd = None
        for solver in solvers:
            if solver == "cd-skip":
                key = tuple(int(x.replace(",", "")) for x in label.split(" x "))
                result = {"solver": "cd", "status": "skipped", "why": CD_SKIP[key]}
            else:
                result = run_one(train, test, solver, args.timeout, params)
            if solver == "cd":
                cd = result
            print(row(label, kind, result, truth, cd, args.timeout), flush=True)
            if out is not None:
                record = {k: v for k, v in result.items() if k != "predicted"}
                record.update(shape=label, kind=kind, truth=truth)
                out.write(json.dumps(record) + "\n")
                out.flush()
    if out is not None:
        out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
