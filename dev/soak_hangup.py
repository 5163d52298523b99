"""Hang up rap-studio's terminal at random moments and count the processes left behind.

    python dev/soak_hangup.py                          # 60 runs across every moment, seed 0
    python dev/soak_hangup.py --runs 200 --seed 3 --moments rule,editing
    python dev/soak_hangup.py --signal TERM            # SIGTERM instead of a hang-up

Each run starts `python -m tui` (the real `rap-studio`) in a fresh pseudo-terminal of 80x24 (the
stdlib `os.openpty`; the app is the session leader and the pty is its controlling terminal, as
under sshd or tmux), with its own XDG state/cache directories and `--session`, and hangs up at one
moment. Hanging up is what a dropped SSH connection does: the terminal's master side is closed,
and the kernel sends SIGHUP (and SIGCONT) to the app.

Moments:
    start    0-0.6 s after launch (imports, before the first paint)
    loading  0.3-2.5 s after launch (first paint, the loader thread, the studio build)
    rule     the instant the rule first appears in the terminal output
    editing  during a burst of edit keys (+ - ] [ f space up down ctrl+z), after the rule
    fit      during a real cutlass fit (a generated CSV, no cached fit; the child must go too)
    export   just after `e` `enter` starts writing rap_prior.pt (torch import, the write)

A run passes when the app and every process it started are gone within 2 s of the hang-up, the
session file (if any) loads, holds no more edits than keys were sent, and its lock is free. The
app and its children are SIGKILLed if they outlive the check, so nothing is left running here.
tests/test_hangup.py runs a short fixed selection of these through `run_once`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MOMENTS = ("start", "loading", "rule", "editing", "fit", "export")
GONE_WITHIN_S = 2.0
RULE_SEEN = "Rule K="
READY_LIMIT_S = 60.0  # a generous bound for the app to show its rule on a loaded machine
EDIT_KEYS = (b"+", b"-", b"]", b"[", b"f", b" ", b"\x1b[A", b"\x1b[B", b"\x1a")
_ANSI = re.compile(rb"\x1b\[[0-9;?<>=!$ ]*[@-~]"  # CSI: colours, cursor moves, modes
                   rb"|\x1b[\]P_^][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC/DCS strings
                   rb"|\x1b[=>()][0-9A-Za-z]?")

# The wrapper makes the pty the controlling terminal of the new session, then becomes the app.
_WRAPPER = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
            "os.execv(sys.executable, [sys.executable, '-m', 'tui', *sys.argv[1:]])")


@dataclass
class Outcome:
    moment: str
    delay_s: float  # when the hang-up came, seconds after launch
    phase: str  # what the screen showed then: blank | loading | ready
    exited: bool  # the app and every child were gone within GONE_WITHIN_S
    exit_s: float | None  # how long after the hang-up the last of them went
    returncode: int | None
    left: list[int] = field(default_factory=list)  # pids still running at the deadline
    children: int = 0  # processes the app had started when it was hung up (the fit child, ...)
    keys_sent: int = 0
    edits_on_disk: int | None = None
    problem: str | None = None  # a session that does not load, a lock still held, ...

    @property
    def ok(self) -> bool:
        return self.exited and self.problem is None

    def line(self) -> str:
        exit_s = "-" if self.exit_s is None else f"{self.exit_s:.2f}s"
        status = "ok" if self.ok else "FAIL"
        extra = f" left={self.left}" if self.left else ""
        extra += f" problem={self.problem}" if self.problem else ""
        return (f"{status:4} {self.moment:8} at {self.delay_s:5.2f}s ({self.phase:7}) "
                f"children={self.children} exit {exit_s:>6} rc={self.returncode} "
                f"keys={self.keys_sent} "
                f"edits={self.edits_on_disk}{extra}")


class PtyApp:
    """rap-studio in a pseudo-terminal. Only the reader thread touches the master fd after
    start (it reads, writes queued keys, and closes it to hang up), so the close is never raced."""

    def __init__(self, args: list[str], workdir: Path, size=(80, 24)) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = dict(os.environ, TERM="xterm-256color", PYTHONPATH=str(ROOT),
                   XDG_STATE_HOME=str(workdir / "state"), XDG_CACHE_HOME=str(workdir / "cache"))
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, *args], stdin=slave,
                                     stdout=slave, stderr=slave, cwd=workdir, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.started = time.monotonic()
        self._fd = master
        self._text = ""
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._keys: list[bytes] = []
        self._hangup = threading.Event()
        self.hung_up_at: float | None = None
        self.hangup_on: str | None = None  # hang up the instant this text appears
        self.seen = threading.Event()
        self.watch_for = RULE_SEEN
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        fd = self._fd
        while True:
            if self._hangup.is_set():
                break
            with self._lock:
                keys, self._keys = self._keys, []
            for key in keys:
                with contextlib.suppress(OSError):
                    os.write(fd, key)
            try:
                ready, _, _ = select.select([fd], [], [], 0.005)
                data = os.read(fd, 65536) if ready else b""
            except OSError:
                data = None  # the app closed its side (it exited)
            if data:
                self._raw += data
                with self._lock:
                    self._text = _ANSI.sub(b"", bytes(self._raw[-200_000:])).decode(
                        "utf-8", "replace")
                if self.watch_for in self._text:
                    self.seen.set()
                    if self.hangup_on is not None and self.hangup_on in self._text:
                        break
            elif data is None:
                self.seen.set()
                self._hangup.wait()
                break
        self.hung_up_at = time.monotonic()
        os.close(fd)

    @property
    def text(self) -> str:
        with self._lock:
            return self._text

    def phase(self) -> str:
        text = self.text
        if "fitting" in text[-3000:]:
            return "fitting"
        if RULE_SEEN in text:
            return "ready"
        return "loading" if "RAP Studio" in text else "blank"

    def send(self, key: bytes) -> None:
        with self._lock:
            self._keys.append(key)

    def hang_up(self) -> float:
        self._hangup.set()
        self._reader.join(5)
        return self.hung_up_at or time.monotonic()


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (through /proc/PID/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def make_fit_data(path: Path, seed: int) -> Path:
    """A CSV whose cutlass fit takes a few seconds (no cached fit exists for it)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n, columns = 1500, {}
    for var in "ABCDEF":
        level = rng.normal(size=n)
        for lag in range(6):
            level = 0.6 * level + 0.8 * rng.normal(size=n)
            columns[f"{var}_t{lag}"] = np.round(level, 4)
    target = (np.abs(columns["A_t1"]) < 0.9) & (columns["C_t3"] > -0.4)
    header = ",".join([*columns, "INDC"])
    rows = np.column_stack([*columns.values(), target.astype(int)])
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.4f")
    return path


def run_once(moment: str, rng: random.Random, workdir: Path, *, sig: int = signal.SIGHUP,
             data: Path | None = None, limit_s: float = GONE_WITHIN_S) -> Outcome:
    """One launch, one hang-up (or `sig`) at `moment`; everything cleaned up before returning."""
    workdir.mkdir(parents=True, exist_ok=True)
    session = workdir / "session.json"
    args = ["--session", str(session)]
    if moment == "fit":
        args.insert(0, str(data or make_fit_data(workdir / "fit.csv", rng.randrange(1 << 30))))
    app = PtyApp(args, workdir)
    keys_sent = 0
    try:
        if moment == "rule" and sig == signal.SIGHUP:
            app.hangup_on = RULE_SEEN
        if moment == "start":
            time.sleep(rng.uniform(0.0, 0.6))
        elif moment == "loading":
            time.sleep(rng.uniform(0.3, 2.5))
        elif moment == "fit":
            app.watch_for = "fitting"
            app.seen.wait(READY_LIMIT_S)
            time.sleep(rng.uniform(0.0, 1.0))
        else:
            app.seen.wait(READY_LIMIT_S)
        if moment == "editing":
            stop_after = rng.randrange(1, 25)
            for _ in range(stop_after):
                app.send(rng.choice(EDIT_KEYS))
                keys_sent += 1
                time.sleep(rng.uniform(0.0, 0.06))  # typing pace, not synchronisation
        elif moment == "export":
            app.send(b"e")
            time.sleep(0.3)  # the dialog opens; then enter writes rap_prior.pt
            app.send(b"\r")
            time.sleep(rng.uniform(0.0, 2.0))
        phase = app.phase()
        family = [app.proc.pid, *descendants(app.proc.pid)]
        if sig == signal.SIGHUP:
            hung = app.hang_up()
        else:
            hung = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                os.kill(app.proc.pid, sig)
        delay = hung - app.started
        family += [p for p in descendants(app.proc.pid) if p not in family]
        deadline = hung + limit_s
        exit_s = None
        while time.monotonic() < deadline:
            app.proc.poll()
            if app.proc.returncode is not None and not any(alive(p) for p in family[1:]):
                exit_s = time.monotonic() - hung
                break
            time.sleep(0.01)
        app.proc.poll()
        left = [p for p in family if (p == app.proc.pid and app.proc.returncode is None)
                or (p != app.proc.pid and alive(p))]
        outcome = Outcome(moment, delay, phase, exit_s is not None, exit_s,
                          app.proc.returncode, left, len(family) - 1, keys_sent)
    finally:
        for pid in [app.proc.pid, *descendants(app.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if sig != signal.SIGHUP or app.hung_up_at is None:
            app.hang_up()
        with contextlib.suppress(subprocess.TimeoutExpired):
            app.proc.wait(10)
    outcome.edits_on_disk, outcome.problem = check_session(session, keys_sent)
    return outcome


def check_session(session: Path, keys_sent: int) -> tuple[int | None, str | None]:
    """(edits in the session file, a problem or None): it must load and its lock be free."""
    from rap_core.errors import RapError
    from rap_core.session import load_session
    try:
        from rap_core.session_lock import SessionBusy, SessionLock
    except ImportError:  # a checkout from before session locking (to measure the old exit)
        SessionLock = None

    edits = None
    if session.exists():
        try:
            edits = len(load_session(session).edits)
        except RapError as exc:
            return None, f"session does not load: {exc}"
        if edits > keys_sent:
            return edits, f"{edits} edits on disk but only {keys_sent} keys were sent"
    if SessionLock is None:
        return edits, None
    try:
        SessionLock(session).acquire().release()
    except SessionBusy as busy:
        return edits, f"session lock still held by {busy.owner}"
    except OSError as exc:
        return edits, f"session lock: {exc}"
    return edits, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--moments", default=",".join(MOMENTS),
                        help=f"comma-separated, from {','.join(MOMENTS)}")
    parser.add_argument("--signal", default="HUP", choices=("HUP", "TERM", "INT"),
                        help="HUP = close the terminal (default); TERM/INT = kill -s")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    parser.add_argument("--limit", type=float, default=GONE_WITHIN_S,
                        help="seconds the processes have to go (default 2; larger to diagnose)")
    args = parser.parse_args(argv)
    moments = [m for m in args.moments.split(",") if m]
    unknown = sorted(set(moments) - set(MOMENTS))
    if unknown:
        parser.error(f"unknown moment {unknown[0]!r}")
    sig = getattr(signal, f"SIG{args.signal}")
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="rap-soak-"))
    fit_data = make_fit_data(root / "fit.csv", args.seed) if "fit" in moments else None
    failures, exits = 0, []
    started = time.monotonic()
    try:
        for i in range(args.runs):
            moment = moments[i % len(moments)]
            outcome = run_once(moment, rng, root / f"run{i:04d}", sig=sig, data=fit_data,
                               limit_s=args.limit)
            failures += not outcome.ok
            if outcome.exit_s is not None:
                exits.append(outcome.exit_s)
            print(f"{i:4d} {outcome.line()}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    exits.sort()
    worst = f"{exits[-1]:.2f}s" if exits else "-"
    median = f"{exits[len(exits) // 2]:.2f}s" if exits else "-"
    print(f"runs {args.runs}  failures {failures}  exit after hang-up: median {median}, "
          f"worst {worst}  ({time.monotonic() - started:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
