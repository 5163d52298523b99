"""The rap-studio process ends within EXIT_DEADLINE_S of SIGHUP, SIGTERM or SIGINT, whatever it
was doing, after flushing what can be flushed.

Why not an asyncio signal handler: it runs only when the event loop comes round, and on a terminal
hang-up the main thread can be stuck for good. We found it stuck (issue 14): the kernel's hang-up
sends SIGCONT with SIGHUP, Textual's SIGCONT handler (meant for resuming after ctrl+z) restarts
its output thread, that thread dies on its first write to the dead terminal (EIO), and the next
thirty screen writes fill its queue; the main thread then waits on `queue.put` forever, with the
app's own flush never run. Any exit path that needs the main thread, or joins a thread, can hang.

So a signal here is noticed off the main thread: `signal.set_wakeup_fd` makes the C-level handler
write the signal number to a pipe, which a daemon thread reads (the Python-level handler is a no-op
in the main thread). That thread then:
1. cancels a running fit and flushes the session writer, bounded by FLUSH_S; a write that did
   not finish is reported (stderr, and the log below), never waited for;
2. on SIGTERM/SIGINT (the terminal is still there) asks Textual to exit normally, so the terminal
   is restored, and waits for that until the deadline; on SIGHUP there is no terminal to restore;
3. ends the process with `os._exit(128 + signal)`: no atexit hook, thread join or pending write
   can hold it. Child processes go with it (rap_core.child_guard); the session lock is a flock,
   which the kernel releases.
Textual's normal exit waits for a running thread worker (an export), so the wait in 2 is short.
And as a backstop that needs no Python thread at all (a C extension being loaded, such as torch's
on the first export, can hold the GIL for a second), the guard arms a kernel timer when it starts:
SIGALRM, left at its default action, ends the process HARD_LIMIT_S after the signal in any case.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
FLUSH_S = 0.8
EXIT_DEADLINE_S = 1.0
HARD_LIMIT_S = 1.8
# What Textual's stop_application_mode writes, for when it cannot run: leave the alternate screen,
# show the cursor, stop mouse and focus reporting, bracketed paste and the kitty keyboard mode.
RESTORE_TERMINAL = ("\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l"
                    "\x1b[?1004l\x1b[?2004l\x1b[?7h")


class ExitGuard:
    """Install once, in the main thread, before the app runs.

    flush(timeout) -> str | None   saves what it can; returns what it could not write
    request_exit(code)             asks the app to exit normally (thread-safe, non-blocking)
    log_path                       where a report is appended when stderr may be gone
    """

    def __init__(self, flush: Callable[[float], str | None],
                 request_exit: Callable[[int], None], log_path: Path | None = None) -> None:
        self._flush = flush
        self._request_exit = request_exit
        self.log_path = log_path
        self.signal: int | None = None
        self._lock = threading.Lock()
        self._main_done = threading.Event()
        self._tty_attrs = None

    def install(self) -> None:
        with contextlib.suppress(termios.error, OSError, ValueError):
            if os.isatty(0):
                self._tty_attrs = termios.tcgetattr(0)  # cooked mode, before Textual's raw mode
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        for sig in SIGNALS:
            signal.signal(sig, _noted)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the backstop's timer ends the process
        threading.Thread(target=self._watch, args=(read_fd,), daemon=True,
                         name="rap-signals").start()

    def main_finished(self) -> None:
        """The main thread is past app.run(): the terminal is restored. If a signal started the
        exit, wait here for the guard to end the process (bounded)."""
        self._main_done.set()
        if self.signal is not None:
            time.sleep(EXIT_DEADLINE_S + FLUSH_S)  # the guard's os._exit comes first
            os._exit(128 + self.signal)

    def _watch(self, read_fd: int) -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except InterruptedError:
                continue
            except OSError:
                return
            for sig in data:
                if sig in SIGNALS:
                    self.trigger(sig)

    def trigger(self, sig: int) -> None:
        """Start the bounded exit (once; later signals change nothing: it is already bounded)."""
        with self._lock:
            if self.signal is not None:
                return
            self.signal = sig
        threading.Thread(target=self._finish, args=(sig,), daemon=True, name="rap-exit").start()

    def _finish(self, sig: int) -> None:
        start = time.monotonic()
        with contextlib.suppress(OSError, ValueError):
            signal.setitimer(signal.ITIMER_REAL, HARD_LIMIT_S)
        try:
            report = self._flush(FLUSH_S)
        except Exception as exc:  # noqa: BLE001 - the exit must happen whatever failed
            report = f"the session could not be flushed: {exc}"
        hangup = sig == signal.SIGHUP
        if not hangup:
            with contextlib.suppress(Exception):
                self._request_exit(128 + sig)
            self._main_done.wait(max(0.0, EXIT_DEADLINE_S - (time.monotonic() - start)))
            if not self._main_done.is_set():
                self._restore_terminal()
        if report:
            self._report(report, to_stderr=not hangup)
        os._exit(128 + sig)

    def _restore_terminal(self) -> None:
        with contextlib.suppress(OSError, termios.error, ValueError):
            if self._tty_attrs is not None:
                termios.tcsetattr(0, termios.TCSANOW, self._tty_attrs)
            os.write(sys.__stderr__.fileno(), RESTORE_TERMINAL.encode())

    def _report(self, message: str, *, to_stderr: bool) -> None:
        line = f"rap-studio: {message}\n"
        if to_stderr:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.write(sys.__stderr__.fileno(), line.encode())
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
                with open(self.log_path, "a", encoding="utf-8") as fh:
                    fh.write(f"{stamp} pid {os.getpid()} {line}")


def _noted(signum, frame) -> None:
    """The Python-level handler: nothing (the wakeup pipe carries the signal to the guard)."""
