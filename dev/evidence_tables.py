"""Print the docs/EVIDENCE.md tables and copy the plots from finished `rap eval` directories.

    python dev/evidence_tables.py ev/demo ev/needle ev/bc --plots docs/evidence

Each directory's results.json becomes a section: the summary table (the same rows `rap eval`
prints), the verdicts per arm and size, the fitted rules, and step time relative to none; its
PNGs are copied to --plots as <dir name>_<plot>.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rap_core.eval_report import markdown_table  # noqa: E402


def section(directory: Path, plots: Path | None) -> str:
    doc = json.loads((directory / "results.json").read_text())
    d, s = doc["data"], doc["settings"]
    lines = [f"### {d['name']} ({d['rows']} rows, {d['features']} features, "
             f"{d['positives']} positive)", "",
             f"`results.json`: data sha256 `{d['sha256'][:16]}…`, test rows "
             f"`{doc['split']['test_rows_sha256'][:16]}…`; {doc['seeds']} paired seeds, at most "
             f"{s['steps']} steps, {len(doc['runs'])} runs, {doc['elapsed_s']:.0f} s wall "
             f"(including the cutlass fits).", "",
             *markdown_table(doc)]
    lines += ["", "| verdict (test loss vs none) | " + " | ".join(map(str, doc["sizes"])) + " |",
              "| --- |" + " --- |" * len(doc["sizes"])]
    for arm, per in doc["verdicts"].items():
        lines.append(f"| {arm} | " + " | ".join(per.get(str(z), "—") for z in doc["sizes"])
                     + " |")
    lines.append("")
    for size, info in doc["prior"]["per_size"].items():
        lines.append(f"- fitted on the {size} training rows: {info['rule']} "
                     f"(polish adopted: {info['adopted']})")
    if doc["step_time_vs_none"]:
        lines += ["", "Step time relative to none: " + ", ".join(
            f"{a} {r:.2f}×" for a, r in doc["step_time_vs_none"].items())]
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
        lines.append("")
        for png in sorted(directory.glob("*.png")):
            target = plots / f"{directory.name}_{png.name}"
            shutil.copyfile(png, target)
            lines.append(f"![{directory.name} {png.stem}](evidence/{target.name})")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--plots", type=Path, default=None)
    args = parser.parse_args()
    print("\n".join(section(d, args.plots) for d in args.dirs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
