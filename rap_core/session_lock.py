"""One writer per session file: a lock (filelock) that records its owner, and what a second
instance does instead (fork the session, or open it read-only).

Why: two RAP Studios on the same data (two SSH logins, two terminals) would otherwise autosave to
the same session file, and the last write would win. The lock is `filelock.FileLock` (flock(2) on
`<session>.lock`): the kernel drops it when its holder dies, however it dies (SIGKILL, a power-off
aside), so a crashed instance can never keep the next launch out.

The lock file also holds its owner as one JSON line (pid, host, since), written after the lock is
taken and cleared when it is released. So a contender can say *who* holds the session, and a
record left behind (the owner died without releasing) tells the next owner that it took over a
dead instance's lock — it says so. If the lock is still held but its recorded owner is a process
on this host that no longer exists (the lock file descriptor outlived it in a forked child), the
lock is broken and taken over: a dead owner never blocks a launch.

`open_session` never fails: when the session cannot be written (read-only directory or file,
no lock possible), it answers "read-only" with the reason, and the caller tells the user at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout


@dataclass(frozen=True)
class Owner:
    """Who holds (or held) a session lock."""

    pid: int
    host: str
    since: str | None = None

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"

    def gone(self) -> bool:
        """True when the owner is a process of this host that no longer runs (never for another
        host's process: it cannot be checked from here)."""
        return self.host == socket.gethostname() and not pid_alive(self.pid)


def pid_alive(pid: int) -> bool:
    """Does `pid` run on this host (a zombie, dead but not reaped, does not)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def lock_path(session_path: str | os.PathLike) -> Path:
    path = Path(session_path)
    return path.with_name(path.name + ".lock")


class SessionBusy(Exception):
    """The session is locked by a live instance (`owner`, None if it left no record)."""

    def __init__(self, owner: Owner | None) -> None:
        super().__init__(f"session locked by {owner or 'another instance'}")
        self.owner = owner


class SessionLock:
    """An exclusive, non-blocking lock on one session file. `acquire` raises SessionBusy when a
    live instance holds it and OSError when the lock file cannot be created (read-only place)."""

    def __init__(self, session_path: str | os.PathLike) -> None:
        self.session_path = Path(session_path)
        self.path = lock_path(session_path)
        self._lock = FileLock(str(self.path), timeout=0, thread_local=False)
        self.took_over: Owner | None = None  # the dead owner whose lock this one replaced

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> SessionLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            owner = read_owner(self.path)
            if owner is None or not owner.gone():
                raise SessionBusy(owner) from None
            # Held through a descriptor its dead owner left to a child: break it.
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            try:
                self._lock.acquire()
            except Timeout:
                raise SessionBusy(owner) from None
            self.took_over = owner
        else:
            left = read_owner(self.path)  # a record nobody cleared: its owner died holding it
            if left is not None and left.pid != os.getpid():
                self.took_over = left
        self._write_owner(Owner(os.getpid(), socket.gethostname(),
                                datetime.now(UTC).isoformat(timespec="seconds")))
        return self

    def release(self) -> None:
        """Clear the owner record, then unlock (safe to call twice, or when never acquired)."""
        if not self._lock.is_locked:
            return
        with contextlib.suppress(OSError):
            os.truncate(self.path, 0)
        self._lock.release(force=True)

    def clear_owner(self) -> None:
        """Clear the owner record but keep the flock (the kernel drops it when the process
        ends): after a flushed exit on a signal, the next launch has nothing to take over."""
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                os.truncate(self.path, 0)

    def _write_owner(self, owner: Owner) -> None:
        line = json.dumps({"pid": owner.pid, "host": owner.host, "since": owner.since}) + "\n"
        with contextlib.suppress(OSError):  # the record is informative; the flock is the lock
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.ftruncate(fd, 0)
                os.write(fd, line.encode())
            finally:
                os.close(fd)


def read_owner(path: str | os.PathLike) -> Owner | None:
    """The owner recorded in a lock file; None if there is none (or it is unreadable)."""
    try:
        text = Path(path).read_text(encoding="utf-8")[:1000]
        data = json.loads(text) if text.strip() else None
        if not isinstance(data, dict):
            return None
        return Owner(int(data["pid"]), str(data["host"]), data.get("since"))
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        return None


@dataclass
class SessionAccess:
    """How this instance may use a session.

    mode     "write" (edits autosave to `path`), "fork" (to a new file `path`, because another
             instance holds `source`), or "read-only" (`path` is None: edits are not saved)
    source   the session whose edits to replay
    notice   what to tell the user (None when there is nothing to say)
    lock     the lock held for `path` (None in read-only mode)
    """

    mode: str
    source: Path
    path: Path | None
    notice: str | None
    lock: SessionLock | None = None

    @property
    def writable(self) -> bool:
        return self.path is not None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def open_session(source: str | os.PathLike) -> SessionAccess:
    """Lock `source` for this instance, or fork it, or fall back to read-only (never raises)."""
    source = Path(source)
    where = _short(source)
    try:
        lock = SessionLock(source).acquire()
    except SessionBusy as busy:
        holder = str(busy.owner) if busy.owner else "another RAP Studio"
        return _fork(source, f"{where} is open in {holder}")
    except OSError as exc:
        return SessionAccess("read-only", source, None,
                             f"edits cannot be saved: cannot write {_short(source.parent)} "
                             f"({exc.strerror or exc}); you can edit, but the edits stay in "
                             f"this window (give --session in a writable place to keep them)",
                             None)
    if source.exists() and not os.access(source, os.W_OK):
        lock.release()
        return SessionAccess("read-only", source, None,
                             f"edits cannot be saved: the session file {where} is read-only; "
                             f"you can edit, but the edits stay in this window (make it "
                             f"writable, or give another --session, to keep them)", None)
    notice = None
    if lock.took_over is not None:
        notice = (f"took over session {where} from {lock.took_over}, which ended without "
                  f"releasing it")
    return SessionAccess("write", source, source, notice, lock)


def fork_session(source: str | os.PathLike, why: str) -> SessionAccess:
    """Edits go to a new copy of `source`, for `why` (said in the notice); read-only when not
    even a copy can be written."""
    return _fork(Path(source), why)


def _fork(source: Path, why: str) -> SessionAccess:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    fork = source.with_name(f"{source.stem}.fork-{stamp}-{os.getpid()}{source.suffix or '.json'}")
    try:
        lock = SessionLock(fork).acquire()
    except (SessionBusy, OSError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        return SessionAccess("read-only", source, None,
                             f"{why}; a copy cannot be written either ({reason}): you can "
                             f"edit, but the edits stay in this window", None)
    return SessionAccess("fork", source, fork,
                         f"{why}: your edits go to the copy {_short(fork)} (continue them "
                         f"later with --session {fork})", lock)


def _short(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return "~/" + str(path.relative_to(Path.home()))
    return str(path)
