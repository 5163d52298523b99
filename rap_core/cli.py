"""`rap`: the headless command line — export a prior, inspect a prior, write the demo data.

For pipelines: no terminal UI, progress on stderr only when stderr is a terminal, results on
stdout, and every user error as one line on stderr with exit status 2 (never a traceback).
Ctrl-C during a fit cancels it cleanly (exit 130).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from rap_core.cli_parser import OneLineParser, nonempty_path, positive_int
from rap_core.errors import FitCancelled, RapError

EXIT_USAGE = 2
EXIT_CANCELLED = 130


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="dataset: .csv, .tsv, .parquet (or .csv.gz)")
    parser.add_argument("--target", default="INDC", help="binary target column (default: INDC)")
    parser.add_argument("--session", type=nonempty_path, default=None,
                        help="session JSON whose edits to apply (default: none; the fitted rule)")
    fit = parser.add_argument_group("fit parameters (cutlass)")
    fit.add_argument("--Cs", type=int, default=15, help="number of C values on the L1 path (15)")
    fit.add_argument("--cv", type=int, default=3, help="cross-validation folds (3)")
    fit.add_argument("--K", type=float, default=10.0,
                     help="vote magnitude of the polished rule (10)")
    fit.add_argument("--intercept", default="mofk", choices=("mofk", "mean", "maxj"),
                     help="logic-polish intercept policy (mofk)")
    fit.add_argument("--m", type=int, default=None,
                     help="m of the m-of-k rule (default: k, an AND)")
    fit.add_argument("--sdfilter", type=float, default=3.0,
                     help="Rectifier outlier filter in SDs (3.0)")
    fit.add_argument("--snap", type=float, default=0.001, help="Rectifier snap fraction (0.001)")
    fit.add_argument("--no-polish", action="store_true", help="keep the L1 model (no logic polish)")
    add_speed_arguments(fit)


def add_speed_arguments(group) -> None:
    """cutlass's speed knobs (shared with rap-studio); they join the fit's cache key."""
    from rap_core.fit import BACKENDS, DTYPES, SOLVERS, FitParams

    default = FitParams()
    group.add_argument("--solver", default=default.solver, choices=SOLVERS,
                       help=f"cutlass L1 solver (default {default.solver}; see "
                            f"docs/BENCHMARKS.md for the speed and result of each)")
    group.add_argument("--backend", default=default.backend, choices=BACKENDS,
                       help="where cutlass computes: cpu, cuda (needs rap-studio[cuda12] and an "
                            "NVIDIA GPU), or auto (cuda when present and worth it, else cpu; "
                            f"default {default.backend})")
    group.add_argument("--n-jobs", type=int, default=default.n_jobs, metavar="N",
                       help="cross-validation worker processes (default: cutlass's choice, "
                            "min(cv, cores - 1))")
    group.add_argument("--dtype", default=default.dtype, choices=DTYPES,
                       help="numeric precision (cutlass 0.9 supports float64 only)")


def speed_params(args) -> dict:
    """The speed knobs parsed by `add_speed_arguments`, as FitParams fields."""
    return {"solver": args.solver, "backend": args.backend, "n_jobs": args.n_jobs,
            "dtype": args.dtype}


def build_parser() -> argparse.ArgumentParser:
    from rap_core.statistic import DEFAULT_STATISTIC, STATISTICS
    from rap_nanochat.artifact_spec import DEFAULT_ALPHA_INIT, LAYOUTS

    parser = OneLineParser(
        prog="rap", description="Rectified Attention Priors from cutlass rules (headless).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    export = sub.add_parser("export", help="dataset -> fit -> prior artifact (rap_prior.pt)",
                            description="Fit (or load the cached fit), apply a session's edits, "
                                        "and write the prior artifact atomically.")
    _add_data_arguments(export)
    export.add_argument("--layout", default="features", choices=LAYOUTS,
                        help="position = feature, or position = lag (default: features)")
    export.add_argument("--statistic", default=DEFAULT_STATISTIC, choices=STATISTICS,
                        help=f"co-activation statistic S (default: {DEFAULT_STATISTIC}, "
                             f"class-contrastive PMI)")
    export.add_argument("--alpha-init", type=float, default=DEFAULT_ALPHA_INIT,
                        help=f"initial attention gate alpha (default: {DEFAULT_ALPHA_INIT:g})")
    export.add_argument("--out", type=nonempty_path, default=Path("rap_prior.pt"),
                        help="output file (default: rap_prior.pt)")

    rules = sub.add_parser("rules", help="print the critical ranges and the compressed rule")
    _add_data_arguments(rules)

    inspect = sub.add_parser("inspect", help="validate a prior file and summarise it")
    inspect.add_argument("file", type=Path, help="a rap_prior.pt")
    inspect.add_argument("--size", type=positive_int, default=24,
                         help="heatmap size in cells (block-averaged; default 24)")
    inspect.add_argument("--png", type=nonempty_path, metavar="FILE",
                         help="also save the prior as a PNG image (labelled axes, colour bar)")
    inspect.add_argument("--svg", type=nonempty_path, metavar="FILE",
                         help="also save the prior as an SVG image")

    demo = sub.add_parser("demo", help="write the bundled demo dataset")
    demo.add_argument("--out", type=nonempty_path, default=Path("demo.csv"),
                      help="default: demo.csv")

    from rap_core.eval_cli import add_parsers as add_eval_parsers

    add_eval_parsers(sub)  # rap eval, rap eval-data
    return parser


def _fit_params(args):
    from rap_core.fit import FitParams

    params = FitParams(Cs=args.Cs, cv=args.cv, K=args.K, intercept=args.intercept, m=args.m,
                       sdfilter=args.sdfilter, snap=args.snap, logic_polish=not args.no_polish,
                       **speed_params(args))
    params.validate()
    return params


def _open_studio(args, *, statistic: str | None = None, layout: str = "features",
                 precheck=None):
    """Load data, fit (cached), and open a Studio with the session's edits replayed read-only
    (exporting never rewrites the user's session file), through rap_core.opening.

    Everything that can be checked without the fit is checked first (parameters, backend, data,
    session, and `precheck(dataset)` for the command's own arguments): a bad argument costs a
    second, not a fit of minutes.
    """
    from rap_core.opening import load_data, open_fitted, prepare
    from rap_core.preflight import check_session

    params, backend_note = prepare(_fit_params(args))
    if backend_note:
        _note(backend_note)
    dataset = load_data(args.data, target=args.target, cv=args.cv, cache=False)
    for note in dataset.notes:
        _note(note)
    if args.session is not None:
        check_session(args.session, dataset)
    if precheck is not None:
        precheck(dataset)
    cancelled = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancelled.set())
    try:
        studio = open_fitted(dataset, params, session=args.session, autosave=None,
                             statistic=statistic, layout=layout, on_slow=_note,
                             progress=_progress_printer(), cancel=cancelled.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
    return dataset, studio.fit, studio


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def _progress_printer():
    if not sys.stderr.isatty():
        return None
    last = {"phase": None}

    def show(event) -> None:
        from rap_core.fit_speed import progress_text

        if event.phase != last["phase"] or event.fold is not None:
            last["phase"] = event.phase
            print(f"fit: {progress_text(event)} ({event.elapsed_s:.1f}s)", file=sys.stderr)

    return show


def cmd_export(args) -> int:
    from rap_core.preflight import check_export_args

    dataset, fit, studio = _open_studio(args, statistic=args.statistic, layout=args.layout,
                                        precheck=lambda data: check_export_args(args, data))
    from rap_core.export import export_prior, export_source

    result = export_prior(export_source(studio, args.layout), args.out,
                          alpha_init=args.alpha_init, inputs=[args.data, args.session])
    votes = studio.rule.votes()
    shape = f"{result.shape[0]}x{result.shape[1]}"
    print(f"wrote {result.path}  bias {shape}  layout {result.layout}  "
          f"alpha_init {result.alpha_init:g}")
    print(f"bias_sha256 {result.bias_sha256}")
    print(f"rule: {studio.rule_text()}  ({len(votes)} votes, {len(studio.edits)} edits)")
    return 0


def cmd_rules(args) -> int:
    from rap_core.ranges import format_range

    dataset, fit, studio = _open_studio(args)
    print(f"{dataset.name}: {dataset.n_rows} rows, {dataset.n_features} features, "
          f"{dataset.n_positive} positive ({dataset.target})")
    ranges = studio.ranges
    width = max(len(name) for name in ranges.features)
    print(f"{'feature':<{width}}  {'critical range':<24}")
    for i, name in enumerate(ranges.features):
        print(f"{name:<{width}}  {format_range(ranges.rmin[i], ranges.rmax[i]):<24}")
    print(f"fit: {studio.fit_note()}")
    print(f"{studio.rule_header()}: {studio.rule_text()}")
    rows = studio.split.describe()["rows"]
    for part, label in (("held_out", f"held-out ({rows['validation'] + rows['test']} rows)"),
                        ("train", f"train ({rows['train']} rows)")):
        metrics = studio.metrics("current", part)
        print(f"{label:<20} J {metrics.j:.3f}  AUC {metrics.auc:.3f}  TPR {metrics.tpr:.3f}  "
              f"FPR {metrics.fpr:.3f}  k {metrics.k}")
    return 0


def cmd_inspect(args) -> int:
    from rap_core.atomic import check_output_path
    from rap_core.inspect import describe_artifact
    from rap_nanochat.rap_prior import PriorFormatError, load_prior

    images = [(path, fmt) for path, fmt in ((args.png, "png"), (args.svg, "svg")) if path]
    for path, fmt in images:  # before loading: a bad path costs nothing
        check_output_path(path, [args.file], example=f"prior.{fmt}")
    try:
        artifact = load_prior(args.file)
    except PriorFormatError as exc:
        raise RapError(str(exc)) from None
    describe_artifact(artifact, args.file, size=args.size)
    if images:
        from rap_core.prior_image import save_prior_image

        for path, fmt in images:
            written = save_prior_image(path, artifact["bias"].numpy(),
                                       list(artifact["labels"]), layout=artifact["layout"],
                                       bias_sha256=artifact["bias_sha256"], fmt=fmt,
                                       inputs=[args.file])
            print(f"wrote {written}")
    return 0


def cmd_demo(args) -> int:
    from rap_core.atomic import check_output_path
    from rap_core.demo import GROUND_TRUTH, write_demo_csv

    check_output_path(args.out, example="demo.csv")
    try:
        path = write_demo_csv(args.out)
    except OSError as exc:
        raise RapError(f"cannot write {args.out}: {exc.strerror or exc}; choose another path "
                       f"with --out") from None
    print(f"wrote {path}")
    print("ground truth: INDC = 1 iff " + " and ".join(
        f"{feature} in [{'-inf' if lo is None else lo}, {'+inf' if hi is None else hi}]"
        for feature, lo, hi in GROUND_TRUTH))
    return 0


def cmd_eval(args) -> int:
    from rap_core.eval_cli import cmd_eval as run

    return run(args)


def cmd_eval_data(args) -> int:
    from rap_core.eval_cli import cmd_eval_data as run

    return run(args)


COMMANDS = {"export": cmd_export, "rules": cmd_rules, "inspect": cmd_inspect, "demo": cmd_demo,
            "eval": cmd_eval, "eval-data": cmd_eval_data}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except FitCancelled:
        print("rap: fit cancelled; nothing was written", file=sys.stderr)
        return EXIT_CANCELLED
    except RapError as exc:
        print(f"rap: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("rap: interrupted; nothing was written", file=sys.stderr)
        return EXIT_CANCELLED
    except OSError as exc:  # the disk or the OS refused something we did not foresee
        where = f" {exc.filename}" if exc.filename else ""
        print(f"rap: cannot complete:{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
