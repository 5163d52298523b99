"""Start-up in a real terminal: time from launch until the terminal receives the minimal app's
text / the demo's rule, the interpreter's own start included, as a user sees it.

    python dev/bench_tmux_startup.py [--rounds 15] [--via pty|tmux] [BEFORE_CHECKOUT]

- `--via pty` (default): the app runs on a pseudo-terminal of 80x24 that this script holds
  (TERM=xterm-256color, truecolor) and its output is read as it is written; the time is when
  the marker has arrived (escape sequences removed). Nothing polls, so nothing else competes for
  the 2-core box's CPU while the app starts.
- `--via tmux`: a fresh 80x24 tmux session per launch, `tmux capture-pane` every 10 ms (+-5 ms).
  As the issue measured; but each poll starts a tmux client, and on 2 cores those polls slow the
  longer start more than the shorter one (a ratio ~0.1x higher than over the pty).

Needs the project's venv at .venv (and tmux for --via tmux). The minimal app is a Static and a
Footer, as in dev/bench_tui.py. The launches are interleaved round by round (minimal, this tree,
before), so a change in the shared box's load hits all of them alike; each round's ratio is
taken against the minimal app of the same round, and the median of those ratios is reported
with their range. The demo's runs share its default session file (as a user's launches do).

Bytecode: a regular install compiles every module once (pip does). With an editable install
and PYTHONDONTWRITEBYTECODE set (this box, many containers), our ~50 modules compile from source
at every launch (+~50 ms); the first lines say which case each tree is in (compile a tree once
with `python -m compileall -q rap_core tui nanochat`).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
MINIMAL = ("from textual.app import App\nfrom textual.widgets import Footer, Static\n"
           "class M(App):\n    def compose(self):\n"
           "        yield Static('hello-minimal')\n        yield Footer()\nM().run()\n")
RAP_STUDIO = "import sys\nfrom tui.__main__ import main\nsys.exit(main())\n"
TIMEOUT_S = 20.0
ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=$ ]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-B]|[=>78])")


def via_pty(command: list[str], marker: str, root: Path | None = None) -> float:
    """Seconds from spawning `command` on a fresh 80x24 pty until `marker` has been written."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    if root is not None:
        env["PYTHONPATH"] = str(root)
    start = time.perf_counter()
    child = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                             cwd=root, start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        while True:
            left = TIMEOUT_S - (time.perf_counter() - start)
            if left <= 0:
                raise SystemExit(f"{marker!r} not on screen after {TIMEOUT_S:.0f} s")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                raise SystemExit(f"{command} ended before {marker!r}: {seen[-300:]!r}") from None
            now = time.perf_counter()
            seen += chunk
            if marker.encode() in ESCAPES.sub(b"", seen):
                return now - start
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        os.close(master)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def via_tmux(command: list[str], marker: str, root: Path | None = None) -> float:
    """Seconds from `tmux new` to `marker` on the 80x24 screen."""
    name = "bench-startup"
    tmux("kill-session", "-t", name)
    where = [] if root is None else ["-c", str(root), "-e", f"PYTHONPATH={root}"]
    new = ["tmux", "new", "-d", "-s", name, "-x", "80", "-y", "24", *where, *command]
    start = time.perf_counter()
    if subprocess.run(new).returncode != 0:  # the last kill-session's server was still exiting
        start = time.perf_counter()
        subprocess.run(new, check=True)
    try:
        while marker not in tmux("capture-pane", "-p", "-t", name):
            if time.perf_counter() - start > TIMEOUT_S:
                raise SystemExit(f"{marker!r} not on screen after {TIMEOUT_S:.0f} s")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        tmux("kill-session", "-t", name)


def bytecode_note(root: Path) -> str:
    if any((root / "tui" / "__pycache__").glob("app.*.pyc")):
        return "our modules' bytecode is compiled"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return "no bytecode and PYTHONDONTWRITEBYTECODE set: our modules compile at every launch"
    return "no bytecode yet: the first launch writes it"


def summary(label: str, seconds: list[float], floors: list[float] | None) -> str:
    text = f"{label}: median {statistics.median(seconds):.3f} s"
    if floors is not None:
        ratios = [s / f for s, f in zip(seconds, floors, strict=True)]
        text += (f" = {statistics.median(ratios):.2f}x the minimal app "
                 f"(rounds {min(ratios):.2f}-{max(ratios):.2f}x)")
    return text + f" {[round(s, 3) for s in seconds]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--via", choices=("pty", "tmux"), default="pty")
    parser.add_argument("before", nargs="?", type=Path, default=None)
    args = parser.parse_args()
    launch = via_pty if args.via == "pty" else via_tmux
    trees = [("this tree", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    for label, root in trees:
        print(f"{label}: {bytecode_note(root)}")
    print(f"via {args.via}; load average before: {os.getloadavg()[0]:.2f}")
    floor: list[float] = []
    runs: dict[str, list[float]] = {label: [] for label, _ in trees}
    for _ in range(args.rounds):
        floor.append(launch([str(PYTHON), "-c", MINIMAL], "hello-minimal"))
        for label, root in trees:  # what the `rap-studio` script runs, from that tree
            runs[label].append(launch([str(PYTHON), "-c", RAP_STUDIO], "Rule K=", root))
    print(summary("minimal app on screen", floor, None))
    for label, _ in trees:
        print(summary(f"{label}: the demo's rule on screen", runs[label], floor))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
