"""argparse with the house style for usage errors: one line (what, and where to read more), exit 2.

argparse's default prints the whole usage block (seven lines for `rap export`) before the one line
that matters. Every command line of ours (`rap`, `rap-studio`, dev/*.py) builds its parser from
`OneLineParser`, so a typo costs one line: `rap export: error: argument --cv: invalid int value:
'x'; see rap export --help`. Subparsers inherit the class (argparse uses the parent's type).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # noqa: D401 - argparse's hook
        text = " ".join(str(message).split())
        print(f"{self.prog}: error: {text}; see {self.prog} --help", file=sys.stderr)
        raise SystemExit(2)


def nonempty_path(text: str) -> Path:
    """An argparse `type` for paths: an empty string is a usage error, not the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty")
    return Path(text)


def positive_int(text: str) -> int:
    """An argparse `type`: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
