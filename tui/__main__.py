"""`rap-studio [DATA] [--target COL] [--session FILE]`: open the TUI (the bundled demo by default).

Only argparse and the app are imported here: torch is imported by the first export, cutlass only
when a fit (or its version for the cache key) is needed. The exit guard (tui.exit_guard) is
installed before the app runs, so a hang-up, SIGTERM or SIGINT at any moment ends the process
within two seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rap_core.cli_parser import OneLineParser


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="rap-studio",
        description="Inspect and edit a Rectified Attention Prior, then export it.")
    parser.add_argument("data", nargs="?", type=Path, default=None,
                        help="CSV/TSV/Parquet dataset (default: the bundled demo)")
    parser.add_argument("--target", default="INDC", help="binary target column (default INDC)")
    parser.add_argument("--session", type=Path, default=None,
                        help="session file to restore and autosave (default: one per dataset "
                             "under $XDG_STATE_HOME/rap-studio/sessions)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rap_core.session import state_dir
    from tui.app import RapStudioApp
    from tui.exit_guard import ExitGuard

    app = RapStudioApp(args.data, target=args.target, session=args.session)
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
