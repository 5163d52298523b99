"""`rap eval`: does a prior help the transformer learn? Controlled, paired, resumable (no torch).

The plan (docs/EVIDENCE.md): one stratified split; for each training size, cutlass is fitted on
that size's training rows only (cached), the Studio builds B with a query row, and each arm's
prior is derived from it; then every (size, seed, arm) run trains in a child process
(`python -m rap_nanochat.evaluation`), so rap_core never imports torch. Finished runs are files
under OUT/runs/<key>.json, keyed by everything that determines them (data, split, size, seed, arm,
prior hash, settings), so a re-run skips them and ctrl-c loses only the run in flight.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import queue
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rap_core import eval_priors as ep
from rap_core.child_guard import child_env
from rap_core.errors import RapError
from rap_core.eval_task import (
    N_BINS,
    SPLIT_SEED,
    bag_baselines,
    make_split,
    resolve_sizes,
    split_arrays,
)
from rap_core.stats import LOWER_IS_BETTER, mean_ci, paired_diff, verdict
from rap_nanochat.eval_settings import Settings  # torch-free: shared with the trainer

ARMS = ("none", "rap", "zero", "shuffled", "random", "oracle", "session")
METRICS = ("test_loss", "test_acc", "test_auc", "samples_to_threshold", "step_ms")
FORMAT, VERSION = "rap-eval", 1
CODE_VERSION = 1  # bump when a change to training would make cached runs stale


@dataclass
class Plan:
    arms: list[str]
    sizes: list[str]
    seeds: int = 5
    settings: Settings = field(default_factory=Settings)
    statistic: str = "cpmi"
    oracle: tuple[str, ...] | None = None
    session: Path | None = None
    clip_sizes: bool = False  # the default sizes: drop those larger than the training pool
    baselines: bool = True  # the bag-of-tokens baselines (a few seconds per size)


def known_truth(dataset) -> tuple[str, ...] | None:
    """The true features when the data is a generator's (demo, needle) and its labels agree."""
    from rap_core import demo, evaldata

    frame = dataset.frame()
    if list(dataset.features) == demo.feature_names():
        if np.array_equal(demo.ground_truth_label(frame), dataset.y):
            return tuple(f for f, _, _ in demo.GROUND_TRUTH)
    if list(dataset.features) == evaldata.feature_names():
        truth = evaldata.ground_truth()
        holds = np.ones(dataset.n_rows, dtype=bool)
        for feature, lo, hi in truth:
            values = frame[feature].to_numpy()
            holds &= (values >= lo if lo is not None else True)
            holds &= (values <= hi if hi is not None else True)
        if np.array_equal(holds.astype(np.int8), dataset.y):
            return tuple(f for f, _, _ in truth)
    return None


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def train_prior(dataset, rows: np.ndarray, plan: Plan, *, cancel=None, progress=None):
    """Fit cutlass on `rows` only and build the prior with a query row; also the session's."""
    from rap_core.fit import FitParams
    from rap_core.fit_process import load_or_fit
    from rap_core.split import subset
    from rap_core.studio import Studio

    sub = subset(dataset, rows, "train")
    fit = load_or_fit(sub, FitParams(), cancel=cancel, progress=progress)
    # `sub` is training rows only; its held-out rows are the transformer's business here.
    studio = Studio.from_fit(sub, fit, statistic=plan.statistic, held_out=False)
    info = {"votes": [name for _, name, _, _ in studio.rule.votes()],
            "rule": studio.rule_text(), "adopted": bool(fit.adopted),
            "fit_s": round(float(fit.elapsed_s), 1)}
    rap = ep.with_query_row(studio.bias(), studio.rule.effective_weights())
    session = None
    if plan.session is not None:
        from rap_core.session import check_fingerprint, load_session

        saved = load_session(plan.session, dataset.features)
        check_fingerprint(saved, dataset.sha256, plan.session)
        for edit in saved.edits:  # the user's edits, replayed on the training-rows fit
            studio.apply(edit)
        session = ep.with_query_row(studio.bias(), studio.rule.effective_weights())
        info["session_rule"] = studio.rule_text()
    return rap, session, info


def arm_prior(arm: str, size: int, seed: int, base: dict) -> tuple[np.ndarray | None, dict]:
    """The bias of one run (None for `none`) and how it runs (gate learnt or frozen at 0)."""
    if arm == "none":
        return None, {}
    if arm == "zero":
        return base["rap"], {"gate": "frozen", "alpha_init": 0.0}
    # The controls scramble the prior under test: the edited one when only a session is tested
    # (the TUI's quick evaluation), else the fitted one.
    source = base["session"] if base.get("derive") == "session" else base["rap"]
    if arm == "shuffled":
        return ep.shuffled_prior(source, 1000 * size + seed), {}
    if arm == "random":
        return ep.random_prior(source, 1000 * size + seed), {}
    return base[arm], {}


def build_runs(dataset, plan: Plan, out: Path, *, say=print, cancel=None) -> dict:
    """Everything before training: split, per-size fits and priors, binned rows, run specs."""
    split = make_split(dataset.y, SPLIT_SEED)
    sizes = resolve_sizes(plan.sizes, split.pool.size, clip=plan.clip_sizes)
    hashes = ep.row_hashes(dataset.X, dataset.y)
    test_hashes = [hashes[i] for i in split.test]
    truth = plan.oracle
    if "oracle" in plan.arms:
        truth = truth or known_truth(dataset)
        if not truth:
            raise RapError(f"{dataset.name}: no ground truth is known for the oracle arm; pass "
                           f"--oracle FEATURE,FEATURE,... or leave oracle out of --arms")
        unknown = [f for f in truth if f not in dataset.features]
        if unknown:
            raise RapError(f"--oracle: {', '.join(unknown)} not among {dataset.name}'s features")
    for sub in ("priors", "splits", "runs"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    settings = asdict(plan.settings)
    per_size, baselines, runs, splits = {}, {}, [], {}
    for size in sizes:
        rows = split.train(size)
        fitted = [hashes[i] for i in rows]
        ep.check_no_leak(fitted, test_hashes, f"{dataset.name} size {size}")
        say(f"size {size}: fitting cutlass on the {size} training rows (cached after the "
            f"first time)")
        rap, session, info = train_prior(dataset, rows, plan, cancel=cancel)
        base = {"rap": rap, "session": session,
                "derive": "session" if session is not None and "rap" not in plan.arms else "rap"}
        if truth:
            positions = [dataset.features.index(f) for f in truth]
            base["oracle"] = ep.oracle_prior(positions, dataset.n_features)
        arrays = split_arrays(dataset.X, dataset.y, split, size, N_BINS)
        split_path = out / "splits" / f"size_{size}.npz"
        np.savez(split_path, **arrays)
        splits[str(size)] = str(split_path)
        baselines[str(size)] = bag_baselines(arrays) if plan.baselines else {}
        per_size[str(size)] = {"bias_sha256": ep.bias_sha256(rap), "fitted_rows": size,
                               "fitted_on": "train", "rows_sha256": ep.rows_digest(fitted),
                               "statistic": plan.statistic, **info}
        for seed in range(plan.seeds):
            for arm in plan.arms:
                bias, how = arm_prior(arm, size, seed, base)
                sha = None
                spec = {"arm": arm, "size": size, "seed": seed,
                        "alpha_init": plan.settings.alpha_init, **how}
                if bias is not None:
                    sha = ep.bias_sha256(bias)
                    path = out / "priors" / f"{sha[:20]}.npy"
                    if not path.exists():
                        np.save(path, bias)
                    spec["prior"] = str(path)
                spec["prior_sha256"] = sha
                spec["key"] = _digest([CODE_VERSION, dataset.sha256, SPLIT_SEED, N_BINS, size,
                                       seed, arm, sha, how, settings])[:24]
                runs.append(spec)
    prior = per_size[str(sizes[-1])]
    return {"split": split, "sizes": sizes, "runs": runs, "splits": splits,
            "baselines": baselines, "per_size": per_size, "truth": truth,
            "prior": {"bias_sha256": prior["bias_sha256"], "fitted_rows": prior["fitted_rows"],
                      "fitted_on": "train", "rows_sha256": prior["rows_sha256"],
                      "per_size": per_size},
            "test_rows_sha256": ep.rows_digest(test_hashes)}


def _child_env() -> dict:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_child(job: dict, out: Path, *, on_event=None, cancel=None) -> None:
    """Train the job's runs in `python -m rap_nanochat.evaluation` (guarded: it dies with us); stop
    it when `cancel()`."""
    job_path = out / "job.json"
    job_path.write_text(json.dumps(job))
    child = subprocess.Popen([sys.executable, "-m", "rap_core.guarded", "rap_nanochat.evaluation",
                              str(job_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, env=child_env(_child_env()), text=True)
    lines: queue.Queue = queue.Queue()
    errors: list[str] = []

    def pump(stream, sink) -> None:
        for line in stream:
            sink(line)
        if stream is child.stdout:
            lines.put(None)

    threading.Thread(target=pump, args=(child.stdout, lines.put), daemon=True).start()
    threading.Thread(target=pump, args=(child.stderr, errors.append), daemon=True).start()
    try:
        while True:
            if cancel is not None and cancel():
                raise KeyboardInterrupt
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            event = json.loads(line)
            if event[0] == "error":
                raise RapError(f"evaluation worker failed: {event[1]}")
            if on_event is not None:
                on_event(event)
        child.wait()
        if child.returncode != 0:
            last = (errors or ["no message"])[-1].strip()
            raise RapError(f"evaluation worker stopped (exit {child.returncode}: {last[:160]})")
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def collect(runs: list[dict], out: Path) -> list[dict]:
    """Results of the finished runs (a missing or unreadable file = not finished)."""
    done = []
    for spec in runs:
        try:
            done.append(json.loads((out / "runs" / f"{spec['key']}.json").read_text()))
        except (OSError, ValueError):
            continue
    return done


def summarise(results: list[dict], arms: list[str], sizes: list[int]):
    """(summary rows, verdict of rap per size, verdicts of every arm, step time vs none)."""
    by = {}
    for r in results:
        by.setdefault((r["arm"], r["size"]), {})[r["seed"]] = r
    summary, verdicts, timing = [], {}, {}
    for arm in arms:
        for size in sizes:
            runs = by.get((arm, size), {})
            none = by.get(("none", size), {})
            for metric in METRICS:
                values = {s: r.get(metric) for s, r in runs.items()}
                if metric == "samples_to_threshold":  # never reached: count as the budget
                    values = {s: (v if v is not None else math.inf) for s, v in values.items()}
                    finite = [v for v in values.values() if math.isfinite(v)]
                    mean, half = mean_ci(finite)
                    row = {"arm": arm, "size": size, "metric": metric, "n": len(values),
                           "reached": len(finite), "mean": _num(mean), "ci95": _num(half),
                           "diff_vs_none": None, "diff_ci95": None}
                    summary.append(row)
                    continue
                mean, half = mean_ci(list(values.values()))
                row = {"arm": arm, "size": size, "metric": metric, "n": len(values),
                       "mean": _num(mean), "ci95": _num(half), "diff_vs_none": None,
                       "diff_ci95": None, "verdict": None}
                if arm != "none":
                    base = {s: r.get(metric) for s, r in none.items()}
                    diff, dhalf, pairs = paired_diff(values, base)
                    row.update(diff_vs_none=_num(diff), diff_ci95=_num(dhalf), pairs=pairs,
                               verdict=verdict(diff, dhalf, LOWER_IS_BETTER[metric])
                               if pairs else None)
                    if metric == "test_loss" and pairs:
                        verdicts.setdefault(arm, {})[str(size)] = row["verdict"]
                summary.append(row)
        ms = [r["step_ms"] for (a, _), runs in by.items() if a == arm for r in runs.values()]
        base_ms = [r["step_ms"] for (a, _), runs in by.items() if a == "none"
                   for r in runs.values()]
        if ms and base_ms:
            timing[arm] = round((sum(ms) / len(ms)) / (sum(base_ms) / len(base_ms)), 3)
    return summary, verdicts.get("rap", {}), verdicts, timing


def _num(value):
    return None if value is None or not math.isfinite(value) else round(float(value), 6)
