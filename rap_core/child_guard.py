"""A child process that dies with its parent: no fit (or evaluation) left running, adopted by init.

Why: a dropped SSH connection hangs up `rap export` or `rap-studio`; the parent dies (SIGHUP,
SIGTERM, or SIGKILL, which runs no cleanup at all), and a child still fitting would keep a core
busy for minutes. The parent cannot be trusted to stop it, so the child watches for itself.

How, two layers (the child calls `die_with_parent()` first thing):
- Linux: `prctl(PR_SET_PDEATHSIG, SIGTERM)` (ctypes, libc) — the kernel signals the child the
  moment its parent exits, however it exits. Caveat: "parent" is the *thread* that started the
  child; rap_core starts a child from a thread that waits for it, so the two end together.
- Everywhere (and if prctl is unavailable): a daemon thread polls `os.getppid()` every POLL_S;
  a changed parent (re-parented to init or a subreaper) means the parent is gone.
Either way the child gets SIGTERM first (its handler can stop its pool workers and let cutlass
unlink its shared memory), and if it is still alive GRACE_S later, SIGKILL for its whole process
group (the child runs in a session of its own, so the group is it and its workers).

A parent that died before the child got this far is caught too: the parent passes its pid in
PARENT_ENV (`child_env`), and the child compares it with its actual parent after arming the
signal.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PARENT_ENV = "RAP_PARENT_PID"
POLL_S = 0.25
GRACE_S = 1.0
_PR_SET_PDEATHSIG = 1


def child_env(env: dict | None = None) -> dict:
    """`env` (default: this process's environment) plus this process's pid for the child."""
    out = dict(os.environ if env is None else env)
    out[PARENT_ENV] = str(os.getpid())
    return out


def die_with_parent(sig: int = signal.SIGTERM, *, poll_s: float = POLL_S,
                    grace_s: float = GRACE_S) -> bool:
    """Arrange for this process to end when its parent does. True if the kernel signal is armed
    (Linux); the polling fallback runs in any case."""
    expected = _expected_parent()
    # A parent may have blocked the signal (the TUI lets a thread take its signals): a blocked
    # SIGTERM would never arrive, so unblock the ones that stop us.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig, signal.SIGHUP, signal.SIGINT})
    armed = _set_pdeathsig(sig)
    threading.Thread(target=_watch, args=(expected, sig, poll_s, grace_s), daemon=True,
                     name="rap-parent-watch").start()
    return armed


def _expected_parent() -> int:
    try:
        return int(os.environ[PARENT_ENV])
    except (KeyError, ValueError):
        return os.getppid()


def _set_pdeathsig(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(expected: int, sig: int, poll_s: float, grace_s: float) -> None:
    while os.getppid() == expected:
        time.sleep(poll_s)
    # The parent is gone (the kernel may already have sent `sig`; a second one is harmless).
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), sig)
    time.sleep(grace_s)
    # Still here: the handler could not run (stuck in C code). End the group, then ourselves.
    with contextlib.suppress(OSError):
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(128 + int(sig))
