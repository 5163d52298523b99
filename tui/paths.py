"""Paths as the screen shows them."""

from __future__ import annotations

from pathlib import Path


def short_path(path: Path | str) -> str:
    """A path for the screen: relative to the working directory or ~ when possible."""
    p = Path(path)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(p.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(p)
