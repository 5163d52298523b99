"""Evaluate pane (tab 4): does the current prior help the model learn? A quick paired run.

`r` starts `rap_core.quick_eval` (the edited prior vs none and shuffled, 3 paired seeds, 300
training rows, 100 steps) in a background child process; `c` cancels it. The pane shows the
progress, then a terminal chart of test loss against step per arm (mean line, spread band = the
seeds' min..max), the paired difference vs none with its 95% interval and verdict, and the final
gates. Results are cached by the prior's hash: undoing back to an evaluated prior shows its result
at once; an edit marks the shown result stale.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

GLYPHS = {"none": ("n", "white"), "session": ("p", "red"), "rap": ("r", "red"),
          "shuffled": ("s", "cyan"), "random": ("x", "magenta"), "oracle": ("o", "green")}
IDLE = ("Press r to evaluate the current prior against none and shuffled: 3 paired seeds, "
        "300 training rows, ≤ 2 min in the background (c cancels).")


def curve_stats(doc: dict, arm: str):
    """[(step, mean, low, high)] of test loss over the arm's seeds (last value carried)."""
    runs = [r for r in doc.get("runs", []) if r["arm"] == arm]
    if not runs:
        return []
    steps = sorted({p["step"] for r in runs for p in r["curve"]})
    rows = []
    for step in steps:
        values = []
        for r in runs:
            past = [p["test_loss"] for p in r["curve"] if p["step"] <= step]
            if past:
                values.append(past[-1])
        rows.append((step, sum(values) / len(values), min(values), max(values)))
    return rows


def loss_chart(doc: dict, width: int, height: int, no_color: bool = False) -> list[Text]:
    """Test loss (rows) against step (columns), one glyph per arm, spread band as '·'."""
    arms = [a for a in doc.get("arms", []) if curve_stats(doc, a)]
    stats = {a: curve_stats(doc, a) for a in arms}
    values = [v for rows in stats.values() for _, m, lo, hi in rows for v in (m, lo, hi)]
    if not values or width < 12 or height < 3:
        return [Text("no curves")]
    top, bottom = max(values), min(values)
    span = (top - bottom) or 1.0
    last_step = max(step for rows in stats.values() for step, *_ in rows) or 1
    label_w = 6
    cols = width - label_w
    grid = [[(" ", "")] * cols for _ in range(height)]

    def row_of(value: float) -> int:
        return min(height - 1, max(0, round((top - value) / span * (height - 1))))

    for arm in arms:
        glyph, colour = GLYPHS.get(arm, (arm[0], "white"))
        for step, mean, lo, hi in stats[arm]:
            c = min(cols - 1, round(step / last_step * (cols - 1)))
            for r in range(row_of(hi), row_of(lo) + 1):
                if grid[r][c][0] == " ":
                    grid[r][c] = ("·", "" if no_color else f"dim {colour}")
            grid[row_of(mean)][c] = (glyph, "" if no_color else f"bold {colour}")
    lines = []
    for r in range(height):
        value = top - span * r / (height - 1)
        line = Text(f"{value:5.3f} " if r in (0, height - 1) or r == height // 2 else " " * 6,
                    style="dim")
        for char, style in grid[r]:
            line.append(char, style=style)
        lines.append(line)
    axis = Text(" " * label_w + "0".ljust(cols - len(str(last_step))) + str(last_step),
                style="dim")
    lines.append(axis)
    legend = Text(" " * label_w)
    for arm in arms:
        glyph, colour = GLYPHS.get(arm, (arm[0], "white"))
        legend.append(f"{glyph}", style="" if no_color else f"bold {colour}")
        legend.append(f" {'your prior' if arm == 'session' else arm}   ")
    legend.append("· = seeds' spread   x: step", style="dim")
    lines.append(legend)
    return lines


def summary_lines(doc: dict) -> list[Text]:
    """Per arm: test loss, the paired difference vs none [95% CI], the verdict, final gates."""
    size = (doc.get("sizes") or [None])[0]
    lines = []
    for arm in doc.get("arms", []):
        row = next((s for s in doc.get("summary", []) if s["arm"] == arm
                    and s["size"] == size and s["metric"] == "test_loss"), None)
        if row is None or row["mean"] is None:
            continue
        name = "your prior" if arm == "session" else arm
        text = Text(f"{name:<11} loss {row['mean']:.3f}")
        if row.get("diff_vs_none") is not None:
            d, h = row["diff_vs_none"], row.get("diff_ci95")
            ci = f" [{d - h:+.3f}, {d + h:+.3f}]" if h is not None else ""
            text.append(f"  Δ vs none {d:+.3f}{ci}  ")
            verdict = row.get("verdict") or "—"
            text.append(verdict, style={"helps": "bold green", "hurts": "bold red"}.get(
                verdict, "bold"))
        gates = [r["final_gates"] for r in doc.get("runs", []) if r["arm"] == arm
                 and r["final_gates"]]
        if gates:
            mean = [sum(g[i] for g in gates) / len(gates) for i in range(len(gates[0]))]
            text.append("  gates " + " ".join(f"{g:.2f}" for g in mean), style="dim")
        lines.append(text)
    return lines


class EvaluatePane(Vertical, can_focus=True):
    BINDINGS = [Binding("r", "run_eval", "Evaluate", show=True, id="evaluate.run"),
                Binding("c", "cancel_eval", "Cancel eval", show=True, id="evaluate.cancel")]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = "idle"  # idle | running | done | error
        self.message = IDLE
        self.doc: dict | None = None
        self.doc_key: str | None = None
        self._job = None
        self.studio = None  # handed down by the app (`load`) once the fit is ready
        self.data_path = None
        self.target = ""

    def compose(self) -> ComposeResult:
        yield Static(IDLE, id="eval-status")
        yield Static("", id="eval-chart")
        yield Static("", id="eval-summary")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.sync)

    def on_show(self) -> None:
        self.sync()

    def load(self, studio, data_path, target: str) -> None:
        """The fitted studio to evaluate (None while loading or fitting), and where its data is
        (the child process reads the file again)."""
        self.studio, self.data_path, self.target = studio, data_path, target
        self.sync()

    def _key(self) -> str | None:
        studio = self.studio
        if studio is None:
            return None
        from rap_core.quick_eval import prior_key

        return prior_key(studio)

    def sync(self) -> None:
        """Show the cached result of the current prior, or mark the shown one stale."""
        if not self.display or self.state == "running":
            return
        key = self._key()
        if key is not None and key != self.doc_key:
            from rap_core.quick_eval import cached

            doc = cached(key)
            if doc is not None:
                self.doc, self.doc_key, self.state = doc, key, "done"
                self.message = "result for the current prior (cached)"
        self._render_all(key)

    def _render_all(self, key: str | None = None) -> None:
        status = Text()
        if self.state == "running":
            status.append(self.message, style="bold")
        elif self.state == "error":
            status.append(self.message, style="bold red")
        elif self.doc is not None and key is not None and key != self.doc_key:
            status.append("stale: the prior was edited since this result — press r to "
                          "evaluate it", style="bold yellow")
        else:
            status.append(self.message)
        self.query_one("#eval-status", Static).update(status)
        chart, summary = Text(""), Text("")
        if self.doc is not None:
            width = max(20, self.size.width - 2)
            height = max(3, min(12, self.size.height - 10))
            no_color = bool(getattr(self.app, "no_color", False))
            chart = Text("\n").join(loss_chart(self.doc, width, height, no_color))
            summary = Text("\n").join(summary_lines(self.doc))
        self.query_one("#eval-chart", Static).update(chart)
        self.query_one("#eval-summary", Static).update(summary)

    def action_run_eval(self) -> None:
        studio = self.studio
        if studio is None or self.state == "running":
            return
        from rap_core.quick_eval import QuickEval

        self._job = QuickEval(studio, self.data_path, self.target)
        self.state, self.message = "running", "starting the evaluation (fitting the training rows)…"
        self._render_all()
        self._run(self._job)

    @work(thread=True, exclusive=True, group="evaluate")
    def _run(self, job) -> None:
        from rap_core.errors import RapError

        def progress(event) -> None:
            if event.total:
                text = (f"evaluating: {event.done}/{event.total} runs "
                        f"{_bar(event.done, event.total)}  (c cancels)")
            else:
                text = f"preparing: {event.message[:70]}"
            self.app.call_from_thread(self._progress, text)

        try:
            doc = job.run(progress)
        except RapError as exc:
            self.app.call_from_thread(self._finished, None, job.key, str(exc))
            return
        self.app.call_from_thread(self._finished, doc, job.key, "")

    def _progress(self, text: str) -> None:
        self.message = text
        self._render_all()

    def _finished(self, doc, key: str, error: str) -> None:
        self._job = None
        if doc is None:
            self.state, self.message = "error", error
        else:
            self.doc, self.doc_key, self.state = doc, key, "done"
            verdict = doc.get("verdicts", {}).get("session", {})
            self.message = "done · your prior vs none: " + (", ".join(verdict.values()) or "n/a")
        self._render_all(self._key())

    def action_cancel_eval(self) -> None:
        if self._job is not None:
            self._job.cancel()


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = 0 if total <= 0 else math.floor(width * done / total)
    return "█" * filled + "░" * (width - filled)
