"""The quick evaluation behind the TUI's Evaluate tab: the current (edited) prior vs none and
shuffled, 3 paired seeds, one size — `rap eval --quick` in a child process (no torch here).

- The edits are written as a session file and replayed by the child on a fit of the training
  rows only (`rap eval --session`), so the quick result has no leak even though the Studio's own
  fit saw every row. The `shuffled` arm scrambles that edited prior.
- Results are cached by the edited prior's hash (B with its query row) + the settings: undoing
  back to an evaluated prior finds its result at once (`cached`), in memory and on disk.
- Progress comes from the child's stderr lines ("N runs (M cached)", "done …"); `cancel()`
  terminates the child (its process group), which leaves finished runs on disk for next time.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from rap_core.errors import RapError

ARMS = "none,session,shuffled"
SETTINGS = {"size": 300, "seeds": 3, "steps": 100, "arms": ARMS}


@dataclass
class QuickProgress:
    done: int
    total: int
    message: str


def prior_key(studio) -> str:
    """The edited prior's hash (with its query row) + the quick settings."""
    from rap_core.eval_priors import bias_sha256, with_query_row

    prior = with_query_row(studio.bias(), studio.rule.effective_weights())
    return f"{bias_sha256(prior)[:16]}-{SETTINGS['size']}x{SETTINGS['seeds']}x{SETTINGS['steps']}"


def eval_dir(key: str) -> Path:
    from rap_core.cache import cache_dir

    return cache_dir() / "eval" / key


_MEMORY: dict[str, dict] = {}


def cached(key: str) -> dict | None:
    if key in _MEMORY:
        return _MEMORY[key]
    path = eval_dir(key) / "results.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if doc.get("complete"):
        _MEMORY[key] = doc
        return doc
    return None


class QuickEval:
    """One quick evaluation; `run()` blocks (call it from a worker thread)."""

    def __init__(self, studio, data_path: Path, target: str) -> None:
        from rap_core.session import save_session

        self.key = prior_key(studio)
        self.out = eval_dir(self.key)
        self.out.mkdir(parents=True, exist_ok=True)
        self.session_path = save_session(self.out / "session.json", studio.session())
        self.data_path, self.target = Path(data_path), target
        self._child: subprocess.Popen | None = None
        self._cancelled = threading.Event()

    def command(self) -> list[str]:
        size = str(SETTINGS["size"])
        return [sys.executable, "-m", "rap_core.guarded", "rap_core.cli", "eval",
                str(self.data_path), "--target", self.target, "--quick",
                "--session", str(self.session_path),
                "--arms", SETTINGS["arms"],
                "--sizes", size, "--seeds", str(SETTINGS["seeds"]), "--steps",
                str(SETTINGS["steps"]), "--out", str(self.out)]

    def run(self, progress=None) -> dict:
        from rap_core.child_guard import child_env
        from rap_core.evaluate import _child_env

        self._child = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True,
                                       start_new_session=True, env=child_env(_child_env()))
        done, total, last = 0, 0, ""
        for line in self._child.stderr:
            line = line.strip()
            last = line or last
            match = re.match(r"(\d+) runs \((\d+) cached\)", line)
            if match:
                total, done = int(match.group(1)), int(match.group(2))
            elif line.startswith("done "):
                done += 1
            if progress is not None:
                progress(QuickProgress(done, total, line))
        code = self._child.wait()
        if self._cancelled.is_set():
            raise RapError("evaluation cancelled; finished runs are kept for next time")
        if code != 0:
            raise RapError(last.removeprefix("rap: ") or f"evaluation failed (exit {code})")
        doc = json.loads((self.out / "results.json").read_text())
        _MEMORY[self.key] = doc
        return doc

    def cancel(self) -> None:
        self._cancelled.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)  # rap eval stops its training child, then exits
