"""`rap-studio [DATA] [--target COL] [--session FILE] [fit options]`: open the TUI (default: demo).

Only argparse and the app are imported here: torch is imported by the first export, cutlass only
when a fit (or its version for the cache key) is needed. The exit guard (tui.exit_guard) is
installed before the app runs, so a hang-up, SIGTERM or SIGINT at any moment ends the process
within two seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rap_core.cli_parser import OneLineParser, nonempty_path


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="rap-studio",
        description="Inspect and edit a Rectified Attention Prior, then export it.")
    parser.add_argument("data", nargs="?", type=Path, default=None,
                        help="CSV/TSV/Parquet dataset (default: the bundled demo)")
    parser.add_argument("--target", default="INDC", help="binary target column (default INDC)")
    parser.add_argument("--session", type=nonempty_path, default=None,
                        help="session file to restore and autosave (default: one per dataset "
                             "under $XDG_STATE_HOME/rap-studio/sessions)")
    from rap_core.cli import add_speed_arguments

    fit = parser.add_argument_group("fit options (cutlass; also editable by a refit, ctrl+r)")
    fit.add_argument("--Cs", type=int, default=15, help="number of C values on the L1 path (15)")
    fit.add_argument("--cv", type=int, default=3, help="cross-validation folds (3)")
    add_speed_arguments(fit)
    return parser


def fit_params(args):
    """FitParams from the command line; RapError (one line) if a value is invalid."""
    from rap_core.cli import speed_params
    from rap_core.fit import FitParams

    return FitParams(Cs=args.Cs, cv=args.cv, **speed_params(args)).validate()


def check_session_arg(path: Path | None) -> None:
    """A --session that exists must be a regular file (a new path is created). Checked before
    the terminal is taken over: `--session /tmp` locked `/tmp.lock`, then reported a failed
    fit and advised removing /tmp."""
    from rap_core.errors import RapError

    if path is None or not (path.exists() or path.is_symlink()):
        return
    if path.is_dir():
        raise RapError(f"--session {path} is a directory; give a session file path, such as "
                       f"{path / 'my-session.json'} (created if missing)")
    if not path.is_file():
        raise RapError(f"--session {path} is not a regular file (a FIFO, device or broken "
                       f"link); give a session file path")


def dumb_terminal_defaults(environ) -> None:
    """Under TERM=dumb: no colours (the glyph heatmap, a monochrome app) and 16-colour escapes
    at most: Textual writes 24-bit colour whenever Rich detects no colour system at all. A
    user's own NO_COLOR / TEXTUAL_COLOR_SYSTEM wins."""
    if environ.get("TERM") == "dumb":
        environ.setdefault("NO_COLOR", "1")
        environ.setdefault("TEXTUAL_COLOR_SYSTEM", "standard")


def build_app(argv: list[str] | None = None, **options):
    """The app `rap-studio ARGV` runs, or raises RapError (a bad value, one line) before any
    terminal is taken over. The start-up bench (dev/bench_tui.py) opens the app through here."""
    import os

    args = build_parser().parse_args(argv)
    params = fit_params(args)
    check_session_arg(args.session)
    dumb_terminal_defaults(os.environ)
    from tui.app import RapStudioApp

    return RapStudioApp(args.data, target=args.target, session=args.session, params=params,
                        opened=open_at_once(args, params), **options)


def open_at_once(args, params):
    """The data opened now, before the terminal is taken over, when that takes milliseconds (the
    demo, or a table up to 64 MB whose parse and fit are cached): the app's first frame is then
    the rule. None otherwise: the app opens it in a worker behind a "loading" screen, with
    progress, and reports any problem there."""
    from rap_core.opening import open_cached
    from tui.panes import warm

    opened = open_cached(args.data, params, target=args.target, session=args.session)
    if opened is not None:
        warm(opened.studio)  # what the first screen shows
    return opened


def start_up() -> None:
    """What `rap-studio` does before anything heavy is imported (the start-up bench too).

    - Pause the cyclic collector: imports and the first screen allocate a great many objects
      that live as long as the app, and the collections they set off cost ~40 ms before the
      rule was editable (a fifth of it). The app turns it back on once the first rule is on
      screen (and freezes what it holds: tui.app), or `main` does if the app never runs.
    - One BLAS thread, set in the environment before numpy loads: no thread pool is started
      (rap_core.threads).
    """
    import gc

    from rap_core.threads import pin_before_numpy

    gc.disable()
    pin_before_numpy()


def main(argv: list[str] | None = None) -> int:
    import gc

    start_up()
    try:
        return _run(argv)
    finally:
        gc.enable()


def _run(argv: list[str] | None) -> int:
    import sys

    from rap_core.errors import RapError

    try:
        app = build_app(argv)
    except RapError as exc:
        print(f"rap-studio: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # ctrl+c before the terminal is taken over and the guard is in
        return 130
    from rap_core.session import state_dir
    from tui.exit_guard import ExitGuard

    guard = ExitGuard(app.flush_for_exit, app.request_exit, state_dir() / "exit.log")
    guard.install()
    try:
        app.run()
    except OSError:
        # The terminal went away (SSH drop) before the hang-up signal was seen.
        app.flush_for_exit(1.0)
        return 129
    finally:
        guard.main_finished()  # after a signal: the guard ends the process (bounded)
    return app.return_code or 0


if __name__ == "__main__":
    raise SystemExit(main())
