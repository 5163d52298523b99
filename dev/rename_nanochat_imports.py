"""Rename references to our package `nanochat` to its installed name `rap_nanochat`.

    python dev/rename_nanochat_imports.py            # rewrite in place; lists the files changed
    python dev/rename_nanochat_imports.py --check    # exit 1 (and list them) if any still need it

Why a script: the repository folder nanochat/ installs as `rap_nanochat` (a top-level `nanochat`
would shadow karpathy/nanochat's package), and every import of ours outside that folder has to
follow. Branches written before the rename still say `nanochat.`; after merging one, run this
again. It is idempotent: a second run changes nothing.

What it rewrites, in rap_core/, tui/, dev/, tests/, docs/, README.md and .ci/ (outside
nanochat/, whose modules import each other relatively):
- `nanochat.<module>` where <module> is one of OUR modules (a .py file in nanochat/): imports,
  `python -m nanochat.evaluation`, module names in strings and docstrings;
- `from nanochat import ...` and `import nanochat` (the bare package).
A match preceded by a word character, `.`, `/` or `-` is left alone, so `rap_nanochat.gpt`,
`karpathy/nanochat.x` and paths like `nanochat/gpt.py` (the folder, and a checkout's files) are
never touched. Modules nanochat has and we do not (`nanochat.common`, `nanochat.flash_attention`,
`scripts.base_train`) never match.

What it never touches (they refer to the REAL nanochat, inside a checkout): the files in SKIP
below, and any line carrying the marker `real nanochat` in a comment.

Changed Python files then get their imports re-sorted by ruff (`rap_nanochat` sorts after
`rap_core`, where `nanochat` sorted before it), so the result is lint-clean.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = sorted(p.stem for p in (ROOT / "nanochat").glob("*.py") if p.stem != "__init__")
WHERE = ("rap_core", "tui", "dev", "tests", "docs", "README.md", ".ci")
SUFFIXES = {".py", ".md", ".sh", ".toml", ".txt", ".cfg", ""}
SKIP = {
    "dev/rename_nanochat_imports.py",  # this script: its patterns name the old package
    "dev/patch_nanochat.py",           # anchors are lines of the real nanochat's gpt.py
    "dev/gpu_check.py",                # runs inside a patched checkout: the real package
    "dev/gpu_check.sh",
    "tests/test_nanochat_patch.py",    # its scripts run inside a (fixture or real) checkout
    "tests/test_nanochat_packaging.py",  # tests this script: its examples use the old name
    "docs/NANOCHAT.md",                # mixes both packages; kept by hand
}
SKIP_DIRS = ("tests/fixtures/", "tests/__snapshots__/")
MARKER = "real nanochat"

_MODULE = re.compile(r"(?<![\w./-])nanochat\.(" + "|".join(map(re.escape, OURS)) + r")\b")
_FROM = re.compile(r"^(\s*)from nanochat import\b", re.MULTILINE)
_IMPORT = re.compile(r"^(\s*)import nanochat\s*$", re.MULTILINE)


def rename_line(line: str) -> str:
    if MARKER in line:
        return line
    line = _MODULE.sub(r"rap_nanochat.\1", line)
    line = _FROM.sub(r"\1from rap_nanochat import", line)
    return _IMPORT.sub(r"\1import rap_nanochat", line)


def rename_text(text: str) -> str:
    return "".join(rename_line(line) for line in text.splitlines(keepends=True))


def candidates() -> list[Path]:
    files = []
    for top in WHERE:
        path = ROOT / top
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in found:
            rel = file.relative_to(ROOT).as_posix()
            if rel in SKIP or rel.startswith(SKIP_DIRS) or "__pycache__" in rel:
                continue
            if file.suffix in SUFFIXES:
                files.append(file)
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if needed")
    args = parser.parse_args(argv)
    changed = []
    for file in candidates():
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = rename_text(text)
        if new != text:
            changed.append(file)
            if not args.check:
                file.write_text(new, encoding="utf-8")
    for file in changed:
        print(file.relative_to(ROOT))
    if args.check:
        return 1 if changed else 0
    python = [str(f) for f in changed if f.suffix == ".py"]
    if python:  # re-sort the imports we renamed (first-party order changed)
        subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--fix",
                        "--select", "I", *python], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
