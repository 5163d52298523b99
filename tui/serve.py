"""`rap-studio-serve [--host H] [--port P] [rap-studio arguments]`: RAP Studio in a browser tab.

textual-serve (the optional `serve` extra: `pip install 'rap-studio[serve]'`) runs a small web
server; every browser tab that opens the page starts its own `rap-studio` process, drawn in the
page by xterm.js. The app is the same one a terminal runs, with the same keys.

Two tabs on one session cannot overwrite each other: each tab is its own process, and the
session lock (rap_core.session_lock) lets only the first write the session file; the second
forks it (and says where its edits go) or opens read-only. docs/TUI.md has the details.

The server listens on localhost unless told otherwise: a session holds the user's data, and
textual-serve has no authentication of its own.
"""

from __future__ import annotations

import shlex
import sys

from rap_core.cli_parser import OneLineParser


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="rap-studio-serve",
        description="Serve RAP Studio to a browser (one app process per tab).")
    parser.add_argument("--host", default="localhost",
                        help="interface to listen on (default localhost: only this machine)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--public-url", default=None,
                        help="the URL browsers use, when behind a proxy")
    return parser


def app_command(app_args: list[str]) -> str:
    """The shell command each tab runs: this Python's rap-studio with `app_args`."""
    return shlex.join([sys.executable, "-m", "tui", *app_args])


def main(argv: list[str] | None = None) -> int:
    args, app_args = build_parser().parse_known_args(argv)
    try:
        from textual_serve.server import Server
    except ImportError:
        print("rap-studio-serve: textual-serve is not installed; install the extra with "
              "pip install 'rap-studio[serve]'", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"rap-studio-serve: --port must be 1..65535, got {args.port}", file=sys.stderr)
        return 2
    server = Server(app_command(app_args), host=args.host, port=args.port,
                    title="RAP Studio", public_url=args.public_url)
    server.serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
