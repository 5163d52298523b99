"""The `rap eval` subcommand: arguments, progress, results.json, report and summary table.

    rap eval DATA [--target COL] [--session S.json] [--arms none,rap,...] [--sizes 100,300,all]
                  [--seeds N] [--steps N] [--quick] [--oracle F1,F2] --out DIR

`rap eval-data --out needle.csv` writes the generated evaluation table (rap_core/evaldata.py);
`rap eval-data --breast-cancer --out bc.csv` writes scikit-learn's bundled breast-cancer table.
Ctrl-C stops the training child; finished runs stay in DIR/runs and results.json is written from
them (exit 130). Running the same command again resumes.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from rap_core.errors import RapError

DEFAULT_SIZES = "100,300,1000,all"
QUICK = {"sizes": ["300"], "seeds": 3, "steps": 100, "arms": ["none", "rap", "shuffled"]}


def add_parsers(sub) -> None:
    """Called by rap_core.cli.build_parser."""
    ev = sub.add_parser("eval", help="does the prior help a transformer learn? (paired ablation)",
                        description="Fit on training rows only, train the small GPT with each "
                                    "arm's prior over sizes and paired seeds, and report test "
                                    "metrics with 95% intervals and verdicts.")
    ev.add_argument("data", type=Path, help="dataset: .csv, .tsv, .parquet (or .csv.gz)")
    ev.add_argument("--target", default="INDC", help="binary target column (default: INDC)")
    ev.add_argument("--session", type=Path, default=None,
                    help="session JSON whose edits make the 'session' arm")
    ev.add_argument("--arms", default=None,
                    help="comma-separated from none,rap,zero,shuffled,random,oracle,session "
                         "(default: all that apply)")
    ev.add_argument("--sizes", default=None,
                    help=f"training sizes, rows or 'all' (default: {DEFAULT_SIZES}, "
                         "those that fit)")
    ev.add_argument("--seeds", type=int, default=None,
                    help="paired seeds per arm and size (5; 3 with --quick)")
    ev.add_argument("--steps", type=int, default=None,
                    help="training steps per run, at most (200, 100 with --quick; early "
                         "stopping on validation)")
    ev.add_argument("--statistic", default="cpmi", choices=("cpmi", "pmi", "phi"))
    ev.add_argument("--oracle", default=None,
                    help="true features for the oracle arm (known for the demo and the needle)")
    ev.add_argument("--quick", action="store_true",
                    help="none, rap, shuffled; one size (300); 3 seeds; 100 steps; evaluated "
                         "every 25 steps; no bag-of-tokens baselines (--arms, --sizes, "
                         "--seeds and --steps given explicitly still apply)")
    ev.add_argument("--out", type=Path, required=True, help="output directory")

    data = sub.add_parser("eval-data", help="write an evaluation table (needle or breast cancer)")
    data.add_argument("--breast-cancer", action="store_true",
                      help="scikit-learn's bundled breast-cancer table (INDC = malignant)")
    data.add_argument("--rows", type=int, default=4000, help="needle rows (4000)")
    data.add_argument("--out", type=Path, required=True)


def _plan(args, dataset):
    from rap_core.evaluate import ARMS, Plan, Settings, known_truth

    # --quick only changes the defaults: a value the user typed is never silently replaced.
    quick = QUICK if args.quick else {"sizes": DEFAULT_SIZES.split(","), "seeds": 5,
                                      "steps": 200}
    seeds = quick["seeds"] if args.seeds is None else args.seeds
    steps = quick["steps"] if args.steps is None else args.steps
    if seeds < 2:
        raise RapError(f"--seeds {seeds}: at least 2 paired seeds are needed for an "
                       f"interval (5 recommended)")
    if steps < 10:
        raise RapError(f"--steps {steps}: use at least 10")
    sizes = ([s.strip() for s in args.sizes.split(",") if s.strip()] if args.sizes
             else list(quick["sizes"]))
    oracle = tuple(f.strip() for f in args.oracle.split(",")) if args.oracle else None
    if args.arms:
        arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    elif args.quick:
        arms = list(QUICK["arms"])
    else:
        arms = ["none", "rap", "zero", "shuffled", "random"]
        if oracle or known_truth(dataset):
            arms.append("oracle")
    if args.session is not None and "session" not in arms:
        arms.append("session")
    bad = [a for a in arms if a not in ARMS]
    if bad:
        raise RapError(f"--arms: unknown arm(s) {', '.join(bad)}; choose from {', '.join(ARMS)}")
    if "session" in arms and args.session is None:
        raise RapError("--arms session needs --session S.json")
    if args.session is not None and not args.session.is_file():
        raise RapError(f"{args.session}: no such session file; save one from rap-studio")
    if "none" not in arms:
        arms.insert(0, "none")  # every difference is paired against none
    arms = list(dict.fromkeys(arms))
    settings = Settings(steps=steps, eval_every=25) if args.quick else Settings(steps=steps)
    return Plan(arms=arms, sizes=sizes, seeds=seeds, settings=settings, baselines=not args.quick,
                statistic=args.statistic, oracle=oracle, session=args.session,
                clip_sizes=args.sizes is None or args.quick)


def cmd_eval_data(args) -> int:
    from rap_core import evaldata

    if args.breast_cancer:
        from rap_core.atomic import write_bytes_atomic

        frame = evaldata.breast_cancer_frame()
        path = write_bytes_atomic(args.out, frame.to_csv(index=False).encode())
        print(f"wrote {path}  ({len(frame)} rows, {frame.shape[1] - 1} features, "
              f"INDC = malignant, prevalence {frame['INDC'].mean():.3f})")
        return 0
    if args.rows < 200:
        raise RapError(f"--rows {args.rows}: the needle needs at least 200 rows")
    path = evaldata.write_needle_csv(args.out, args.rows)
    truth = " and ".join(f"{f} in [{'-inf' if lo is None else lo}, "
                         f"{'+inf' if hi is None else hi}]"
                         for f, lo, hi in evaldata.ground_truth())
    print(f"wrote {path}  ({args.rows} rows, 256 features)\nground truth: INDC = 1 iff {truth}")
    return 0


def cmd_eval(args) -> int:
    from rap_core.dataset import load_dataset
    from rap_core.eval_report import print_summary, write_outputs
    from rap_core.evaluate import build_runs, collect

    out = args.out
    if out.exists() and not out.is_dir():
        raise RapError(f"--out {out} is a file; give a directory")
    dataset = load_dataset(args.data, target=args.target)
    for note in dataset.notes:
        print(f"note: {note}", file=sys.stderr)
    plan = _plan(args, dataset)
    if args.session is not None:  # before any fit: a bad session costs nothing
        from rap_core.preflight import check_session

        check_session(args.session, dataset)
    out.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    previous_term = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interrupted, failure = False, None
    started = time.perf_counter()
    try:
        built = build_runs(dataset, plan, out, say=lambda m: print(m, file=sys.stderr),
                           cancel=stop.is_set)
        runs = built["runs"]
        todo = [r for r in runs if not (out / "runs" / f"{r['key']}.json").exists()]
        print(f"{len(runs)} runs ({len(runs) - len(todo)} cached): arms {','.join(plan.arms)}, "
              f"sizes {','.join(map(str, built['sizes']))}, {plan.seeds} seeds, "
              f"{plan.settings.steps} steps", file=sys.stderr)
        if todo:
            try:
                _train(todo, runs, plan, built, out, stop)
            except RapError as exc:  # report what finished, then the error
                failure = exc
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    if "built" not in locals():
        print("rap: interrupted before training; nothing to report", file=sys.stderr)
        return 130
    results = collect(built["runs"], out)
    doc = write_outputs(dataset, plan, built, results, out, time.perf_counter() - started)
    print_summary(doc)
    print(f"wrote {out / 'results.json'}, {out / 'report.md'} and plots "
          f"({len(results)}/{len(built['runs'])} runs)")
    if failure is not None:
        raise failure
    if interrupted or stop.is_set():
        print("rap: interrupted; finished runs are saved — run the same command to resume",
              file=sys.stderr)
        return 130
    return 0


def _train(todo, runs, plan, built, out, stop) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from rap_core.evaluate import run_child

    job = {"settings": vars(plan.settings), "runs_dir": str(out / "runs"),
           "splits": built["splits"], "runs": runs}
    labels = {r["key"]: f"{r['arm']} n={r['size']} seed {r['seed']}" for r in runs}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), transient=False,
                  disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("runs", total=len(runs), completed=len(runs) - len(todo))

        def on_event(event) -> None:
            if event[0] == "start":
                bar.update(task, description=labels.get(event[1], "run"))
            elif event[0] == "eval":
                bar.update(task, description=f"{labels.get(event[1], 'run')} "
                                             f"step {event[2]}/{event[3]}")
            elif event[0] == "done":
                bar.advance(task)
                if not sys.stderr.isatty():
                    r = event[2]
                    print(f"done {labels.get(event[1])}: test loss {r['test_loss']:.4f} "
                          f"acc {r['test_acc']:.3f}", file=sys.stderr, flush=True)

        run_child(job, out, on_event=on_event, cancel=stop.is_set)
