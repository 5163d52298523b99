"""Start-up in a real terminal: launch in a fresh 80x24 tmux session and time until the screen
shows the minimal app's text / the demo's rule (`tmux capture-pane` every 20 ms, so +-10 ms),
the interpreter's own start included, as a user sees it.

    python dev/bench_tmux_startup.py [BEFORE_CHECKOUT]    # e.g. /tmp/before (git archive)

Needs tmux and the project's venv at .venv. The minimal app is a Static and a Footer, as in
dev/bench_tui.py. Every session is killed after its run; the demo's runs share its default
session file (as a user's launches do).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
MINIMAL = ("from textual.app import App\nfrom textual.widgets import Footer, Static\n"
           "class M(App):\n    def compose(self):\n"
           "        yield Static('hello-minimal')\n        yield Footer()\nM().run()\n")
TIMEOUT_S = 20.0


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def time_to_screen(command: list[str], marker: str, runs: int = 5) -> list[float]:
    """Seconds from `tmux new` to `marker` on the 80x24 screen, per run."""
    seconds = []
    for run in range(runs):
        name = f"bench-startup-{run}"
        tmux("kill-session", "-t", name)
        start = time.perf_counter()
        subprocess.run(["tmux", "new", "-d", "-s", name, "-x", "80", "-y", "24", *command],
                       check=True)
        try:
            while marker not in tmux("capture-pane", "-p", "-t", name):
                if time.perf_counter() - start > TIMEOUT_S:
                    raise SystemExit(f"{marker!r} not on screen after {TIMEOUT_S:.0f} s")
                time.sleep(0.02)
            seconds.append(time.perf_counter() - start)
        finally:
            tmux("kill-session", "-t", name)
    return seconds


def main() -> None:
    floor = time_to_screen([str(PYTHON), "-c", MINIMAL], "hello-minimal")
    m = statistics.median(floor)
    print(f"minimal app on screen: median {m:.3f} s {[round(s, 3) for s in floor]}")
    trees = [("this tree", ROOT)] + [("before", Path(arg).resolve()) for arg in sys.argv[1:2]]
    for label, root in trees:
        command = ["env", f"PYTHONPATH={root}", "sh", "-c", f"cd {root} && {PYTHON} -m tui"]
        runs = time_to_screen(command, "Rule K=")
        r = statistics.median(runs)
        print(f"{label}: the demo's rule on screen: median {r:.3f} s "
              f"{[round(s, 3) for s in runs]} = {r / m:.2f}x the minimal app")


if __name__ == "__main__":
    main()
