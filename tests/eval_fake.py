"""A canned quick-evaluation result (the shape rap eval writes) for TUI tests: no training."""

from __future__ import annotations


def fake_doc() -> dict:
    runs, summary = [], []
    losses = {"none": 0.56, "session": 0.42, "shuffled": 0.55}
    for arm, final in losses.items():
        for seed in range(3):
            curve = [{"step": s, "samples": s * 32, "val_loss": 0.6,
                      "test_loss": 0.6 - (0.6 - final - 0.01 * seed) * s / 100,
                      "test_acc": 0.8, "gates": [] if arm == "none" else [3.0 + s / 100] * 2}
                     for s in range(0, 101, 20)]
            runs.append({"arm": arm, "size": 300, "seed": seed, "test_loss": curve[-1]["test_loss"],
                         "final_gates": [] if arm == "none" else [4.0, 4.2], "curve": curve})
    for arm, final in losses.items():
        row = {"arm": arm, "size": 300, "metric": "test_loss", "n": 3, "mean": final + 0.01,
               "ci95": 0.02, "diff_vs_none": None, "diff_ci95": None, "verdict": None}
        if arm != "none":
            row.update(diff_vs_none=final - 0.56, diff_ci95=0.03, pairs=3,
                       verdict="helps" if arm == "session" else "no detectable effect")
        summary.append(row)
    return {"arms": ["none", "session", "shuffled"], "sizes": [300], "runs": runs,
            "summary": summary, "complete": True,
            "verdicts": {"session": {"300": "helps"}, "shuffled": {"300": "no detectable effect"}}}
