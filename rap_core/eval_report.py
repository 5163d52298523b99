"""results.json, report.md, PNG plots and the terminal summary of `rap eval` (no torch).

The schema of results.json is documented in docs/EVIDENCE.md ("results.json"). Plots use
matplotlib's Agg backend (files only, no display): learning curves with 95% bands, test loss
against training size (sample efficiency) with the bag-of-tokens baselines, gate trajectories.
A run that stopped early keeps its last value in the curve averages (it stopped learning there).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rap_core.atomic import write_text_atomic
from rap_core.stats import mean_ci

COLOURS = {"none": "#444444", "rap": "#d62728", "zero": "#8c564b", "shuffled": "#1f77b4",
           "random": "#9467bd", "oracle": "#2ca02c", "session": "#ff7f0e"}


def write_outputs(dataset, plan, built, results, out: Path, elapsed_s: float) -> dict:
    from rap_core.evaluate import FORMAT, VERSION, summarise

    sizes = built["sizes"]
    summary, verdict, verdicts, timing = summarise(results, plan.arms, sizes)
    split = built["split"]
    doc = {
        "format": FORMAT, "version": VERSION,
        "data": {"name": dataset.name, "sha256": dataset.sha256, "rows": dataset.n_rows,
                 "features": dataset.n_features, "positives": dataset.n_positive,
                 "target": dataset.target},
        "split": {"seed": 7, "pool": int(split.pool.size), "val": int(split.val.size),
                  "test": int(split.test.size), "test_rows_sha256": built["test_rows_sha256"]},
        "task": {"positions": dataset.n_features + 1, "query_position": dataset.n_features,
                 "n_bins": 16, "truth": list(built["truth"] or [])},
        "settings": asdict(plan.settings), "arms": plan.arms, "sizes": sizes,
        "seeds": plan.seeds, "statistic": plan.statistic,
        "prior": built["prior"],
        "baselines": built["baselines"],
        "runs": sorted(results, key=lambda r: (r["size"], r["seed"], plan.arms.index(r["arm"]))),
        "summary": summary,
        "verdict": verdict,
        "verdicts": verdicts,
        "step_time_vs_none": timing,
        "complete": len(results) == len(built["runs"]),
        "elapsed_s": round(elapsed_s, 1),
    }
    write_text_atomic(out / "results.json", json.dumps(doc, indent=1) + "\n")
    plots = write_plots(doc, out)
    write_text_atomic(out / "report.md", report_markdown(doc, plots))
    return doc


def _row(doc, arm, size, metric):
    for row in doc["summary"]:
        if row["arm"] == arm and row["size"] == size and row["metric"] == metric:
            return row
    return None


def _fmt(mean, half, digits=3):
    if mean is None:
        return "—"
    if half is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def table_rows(doc) -> list[list[str]]:
    """size, arm, test loss, acc, AUC, Δloss vs none [CI], verdict, reached threshold."""
    rows = []
    for size in doc["sizes"]:
        for arm in doc["arms"]:
            loss = _row(doc, arm, size, "test_loss")
            if loss is None or loss["n"] == 0:
                continue
            acc, auc = _row(doc, arm, size, "test_acc"), _row(doc, arm, size, "test_auc")
            reach = _row(doc, arm, size, "samples_to_threshold")
            diff = "—"
            if loss.get("diff_vs_none") is not None:
                d, h = loss["diff_vs_none"], loss["diff_ci95"]
                diff = (f"{d:+.3f} [{d - h:+.3f}, {d + h:+.3f}]" if h is not None
                        else f"{d:+.3f}")
            rows.append([str(size), arm, _fmt(loss["mean"], loss["ci95"]),
                         _fmt(acc["mean"], acc["ci95"]), _fmt(auc["mean"], auc["ci95"]), diff,
                         loss.get("verdict") or "—", f"{reach['reached']}/{reach['n']}"])
        for name, base in doc["baselines"].get(str(size), {}).items():
            rows.append([str(size), f"LR {name}", f"{base['test_loss']:.3f}",
                         f"{base['test_acc']:.3f}", f"{base['test_auc']:.3f}", "", "", ""])
    return rows


HEADERS = ["size", "arm", "test loss", "test acc", "test AUC", "Δ loss vs none [95% CI]",
           "verdict", "reached"]


def print_summary(doc) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text: the data's file name is the user's ("runs[2].csv"), not markup.
    table = Table(title=Text(f"rap eval — {doc['data']['name']} ({doc['seeds']} paired seeds, "
                             f"mean ± 95% CI)"), box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False)
    # At 80 columns (a pipe, a narrow terminal) the numbers wrap at their " ± "; the arm and
    # the verdict must not be cut ("shuffl…", "detect…" was what a reader got). Rich shrinks
    # the widest columns first, so the numbers get a maximum and the verdict a minimum.
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("arm", "verdict") else "right",
                         max_width=7 if header.startswith("test") else 8 if header == "arm"
                         or "CI" in header else None,
                         min_width=10 if header == "verdict" else None)
    styles = {"helps": "green", "hurts": "red"}
    for row in table_rows(doc):
        style = styles.get(row[6])
        table.add_row(*row[:6], f"[{style}]{row[6]}[/]" if style else row[6], row[7])
    Console().print(table)
    verdicts = ", ".join(f"{size}: {v}" for size, v in doc["verdict"].items())
    Console().print(f"verdict (rap vs none, test loss): {verdicts or 'n/a'}")


def markdown_table(doc) -> list[str]:
    """The results table as markdown lines (report.md and docs/EVIDENCE.md print the same)."""
    return (["| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
            + ["| " + " | ".join(row) + " |" for row in table_rows(doc)])


def report_markdown(doc, plots: list[str]) -> str:
    d = doc["data"]
    lines = [f"# rap eval — {d['name']}", "",
             f"{d['rows']} rows, {d['features']} features, {d['positives']} positive; split "
             f"pool/val/test {doc['split']['pool']}/{doc['split']['val']}/{doc['split']['test']}; "
             f"{doc['seeds']} paired seeds; {doc['settings']['steps']} steps max "
             f"(early stopping on validation); statistic {doc['statistic']}.", "",
             *markdown_table(doc)]
    lines += ["", "Verdict (rap vs none, paired test-loss difference): "
              + (", ".join(f"**{s}**: {v}" for s, v in doc["verdict"].items()) or "n/a"), ""]
    if doc["verdicts"]:
        lines += ["| arm | " + " | ".join(map(str, doc["sizes"])) + " |",
                  "| --- |" + " --- |" * len(doc["sizes"])]
        for arm, per in doc["verdicts"].items():
            lines.append(f"| {arm} | " + " | ".join(per.get(str(s), "—") for s in doc["sizes"])
                         + " |")
        lines.append("")
    if doc["step_time_vs_none"]:
        lines.append("Time per step relative to none: " + ", ".join(
            f"{arm} {ratio:.2f}x" for arm, ratio in doc["step_time_vs_none"].items()))
        lines.append("")
    for size, info in doc["prior"]["per_size"].items():
        lines.append(f"- size {size}: fitted rule {info['rule']} (adopted {info['adopted']}), "
                     f"bias {info['bias_sha256'][:12]}…")
    lines.append("")
    lines += [f"![{name}]({name})" for name in plots]
    if not doc["complete"]:
        lines += ["", "**Incomplete**: some runs have not finished; re-run to resume."]
    return "\n".join(lines) + "\n"


def _curves(doc, arm, size):
    """(samples grid, mean, half) of test loss over seeds, last value carried forward."""
    runs = [r for r in doc["runs"] if r["arm"] == arm and r["size"] == size]
    if not runs:
        return None
    grid = sorted({p["samples"] for r in runs for p in r["curve"]})
    values = []
    for r in runs:
        points = {p["samples"]: p["test_loss"] for p in r["curve"]}
        last, row = math.nan, []
        for s in grid:
            last = points.get(s, last)
            row.append(last)
        values.append(row)
    stats = [mean_ci([v[i] for v in values]) for i in range(len(grid))]
    return (np.array(grid), np.array([m for m, _ in stats]),
            np.nan_to_num(np.array([h for _, h in stats])))


def write_plots(doc, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    sizes = doc["sizes"]
    fig, axes = plt.subplots(1, len(sizes), figsize=(4 * len(sizes), 3.2), squeeze=False,
                             sharey=True)
    for ax, size in zip(axes[0], sizes, strict=True):
        for arm in doc["arms"]:
            curve = _curves(doc, arm, size)
            if curve is None:
                continue
            x, m, h = curve
            ax.plot(x, m, label=arm, color=COLOURS.get(arm))
            ax.fill_between(x, m - h, m + h, color=COLOURS.get(arm), alpha=0.15)
        ax.set_title(f"{size} training rows")
        ax.set_xlabel("samples seen")
    axes[0][0].set_ylabel("test loss")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=80)
    plt.close(fig)
    names.append("curves.png")

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for arm in doc["arms"]:
        pts = [(_row(doc, arm, s, "test_loss") or {}) for s in sizes]
        m = np.array([p.get("mean") if p.get("mean") is not None else np.nan for p in pts])
        h = np.array([p.get("ci95") if p.get("ci95") is not None else 0.0 for p in pts])
        ax.errorbar(sizes, m, yerr=h, label=arm, color=COLOURS.get(arm), marker="o",
                    capsize=3)
    for name, style in (("bag", ":"), ("onehot", "--")):
        vals = [doc["baselines"].get(str(s), {}).get(name, {}).get("test_loss") for s in sizes]
        if any(v is not None for v in vals):
            ax.plot(sizes, vals, style, color="black", label=f"LR {name}")
    ax.set_xscale("log")
    ax.set_xlabel("training rows")
    ax.set_ylabel("test loss (best validation step)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "sizes.png", dpi=80)
    plt.close(fig)
    names.append("sizes.png")

    gated = [a for a in doc["arms"] if a not in ("none", "zero")]
    if gated:
        size = sizes[0]
        fig, axes = plt.subplots(1, len(gated), figsize=(3.2 * len(gated), 2.8), squeeze=False,
                                 sharey=True)
        for ax, arm in zip(axes[0], gated, strict=True):
            for r in [r for r in doc["runs"] if r["arm"] == arm and r["size"] == size]:
                steps = [p["step"] for p in r["curve"]]
                layers = np.array([p["gates"] for p in r["curve"]])
                for layer in range(layers.shape[1] if layers.ndim == 2 else 0):
                    ax.plot(steps, layers[:, layer], color=f"C{layer}", alpha=0.6,
                            label=f"layer {layer}" if r["seed"] == 0 else None)
            ax.set_title(f"{arm} (n={size})")
            ax.set_xlabel("step")
        axes[0][0].set_ylabel("gate alpha")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "gates.png", dpi=80)
        plt.close(fig)
        names.append("gates.png")
    return names
