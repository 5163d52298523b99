"""Sessions: a data fingerprint, the fit parameters, and the ordered edits — saved as small JSON.

A session is a replayable log (the VisiData / GAM Changer model): the rule is always
`fit + edits`, so the file never stores a rule or a prior and stays valid as long as the data and
the fit are the same. The fingerprint is the dataset's content hash: a session is refused, with one
line saying so, on data it was not made for.

Writes are atomic (rap_core.atomic), so a crash mid-save leaves the previous session, never half
a file. `SessionWriter` does them off the caller's thread (an fsync can take 20 ms on a busy
disk). The default location follows the XDG base-directory rule, read at call time so a test or
a user can point $XDG_STATE_HOME elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from rap_core.atomic import write_text_atomic
from rap_core.edits import Edit
from rap_core.errors import RapError
from rap_core.jsonfile import CorruptJSON, read_json_file
from rap_nanochat.artifact_spec import LAYOUTS

SESSION_FORMAT = "rap-session"
SESSION_VERSION = 1
MAX_SESSION_BYTES = 16 << 20  # a session of 100,000 edits is ~6 MB
MAX_NOTE = 500  # characters of a note on an edit
_HEX = re.compile(r"[0-9a-f]{1,64}\Z")


@dataclass(frozen=True)
class Stamp:
    """When an edit was made and the user's note on it (the history view shows both)."""

    time: str | None = None  # ISO 8601, UTC, seconds
    note: str = ""

    @classmethod
    def now(cls) -> Stamp:
        return cls(datetime.now(UTC).isoformat(timespec="seconds"))

    def json_fields(self) -> dict:
        out: dict = {}
        if self.time is not None:
            out["time"] = self.time
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Session:
    """What a session file holds (edits oldest first; redo: the next edit to redo last).

    `stamps` / `redo_stamps` run parallel to `edits` / `redo` (empty: no times or notes, as in
    files written before they existed); `layout` is the prior layout last shown."""

    data_sha256: str
    target: str
    fit_params: dict | None
    statistic: str
    edits: tuple[Edit, ...] = field(default=())
    redo: tuple[Edit, ...] = field(default=())
    saved_at: str | None = None
    split: dict | None = None  # rap_core.split.Split.describe(): the rows the fit saw
    stamps: tuple[Stamp, ...] = field(default=())
    redo_stamps: tuple[Stamp, ...] = field(default=())
    layout: str | None = None

    def stamp(self, i: int) -> Stamp:
        return self.stamps[i] if i < len(self.stamps) else Stamp()

    def redo_stamp(self, i: int) -> Stamp:
        return self.redo_stamps[i] if i < len(self.redo_stamps) else Stamp()

    def to_json(self) -> dict:
        return {
            "format": SESSION_FORMAT,
            "version": SESSION_VERSION,
            "data_sha256": self.data_sha256,
            "target": self.target,
            "fit_params": self.fit_params,
            "statistic": self.statistic,
            "split": self.split,
            "layout": self.layout,
            "edits": [{**e.to_json(), **self.stamp(i).json_fields()}
                      for i, e in enumerate(self.edits)],
            "redo": [{**e.to_json(), **self.redo_stamp(i).json_fields()}
                     for i, e in enumerate(self.redo)],
            "saved_at": self.saved_at,
        }


def state_dir() -> Path:
    """$XDG_STATE_HOME/rap-studio (default ~/.local/state/rap-studio)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rap-studio"


def default_session_path(data_sha256: str) -> Path:
    """Where the session of this data lives unless the user chose a file."""
    return state_dir() / "sessions" / f"{data_sha256[:16]}.json"


def save_session(path: str | os.PathLike, session: Session) -> Path:
    """Write `session` atomically (temp + fsync + rename); returns the path."""
    stamped = replace(session, edits=tuple(session.edits), redo=tuple(session.redo),
                      saved_at=datetime.now(UTC).isoformat(timespec="seconds"))
    text = json.dumps(stamped.to_json(), indent=1, ensure_ascii=False) + "\n"
    try:
        return write_text_atomic(path, text)
    except OSError as exc:
        raise RapError(f"cannot save session {path}: {exc.strerror or exc}") from None


def load_session(path: str | os.PathLike, features=None) -> Session:
    """Read a session file; RapError (one line) if it is missing, not JSON, or malformed.

    With `features` (the dataset's feature names), an edit naming another feature is refused.
    """
    file = Path(path)
    name = file.name
    try:
        data = read_json_file(file, "session", max_bytes=MAX_SESSION_BYTES)
    except FileNotFoundError:
        raise RapError(f"session {name}: no such file ({file})") from None
    except OSError as exc:
        raise RapError(f"session {name}: cannot read it ({exc.strerror or exc})") from None
    except CorruptJSON as exc:
        raise RapError(f"session {name} is corrupt: {exc}; fix it or delete it to start a new "
                       f"session") from None
    if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
        raise RapError(f"session {name} is not a RAP Studio session (format is not "
                       f"{SESSION_FORMAT!r})")
    if data.get("version") != SESSION_VERSION:
        raise RapError(f"session {name} has version {data.get('version')!r}; this RAP Studio "
                       f"reads version {SESSION_VERSION}")
    try:
        sha, target = data["data_sha256"], data["target"]
        if not isinstance(sha, str) or not _HEX.match(sha):
            raise RapError("data_sha256 must be a hex digest")
        if not isinstance(target, str):
            raise RapError("target must be a string")
        statistic = data.get("statistic", "cpmi")
        if not isinstance(statistic, str):
            raise RapError("statistic must be a string")
        if data.get("saved_at") is not None and not isinstance(data["saved_at"], str):
            raise RapError("saved_at must be a string")
        fit_params = data.get("fit_params")
        if fit_params is not None and not isinstance(fit_params, dict):
            raise RapError("fit_params must be an object")
        split = data.get("split")
        if split is not None and not isinstance(split, dict):
            raise RapError("split must be an object")
        edits = tuple(_edits(data.get("edits", []), "edits"))
        redo = tuple(_edits(data.get("redo", []), "redo"))
        stamps = tuple(_stamps(data.get("edits", [])))
        redo_stamps = tuple(_stamps(data.get("redo", [])))
        layout = data.get("layout")
        if layout is not None and layout not in LAYOUTS:
            raise RapError(f"layout must be one of {', '.join(LAYOUTS)}")
    except KeyError as exc:
        raise RapError(f"session {name} lacks the field {exc.args[0]!r}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise RapError(f"session {name} is corrupt ({str(exc)[:80]}); fix it or delete it to "
                       f"start a new session") from None
    except RapError as exc:
        raise RapError(f"session {name}: {exc}") from None
    if features is not None:
        known = set(features)
        for edit in edits + redo:
            if edit.feature is not None and edit.feature not in known:
                raise RapError(f"session {name} edits feature {edit.feature!r}, which this "
                               f"data does not have; open the data it was made for")
    return Session(sha, target, fit_params, statistic, edits, redo, data.get("saved_at"), split,
                   stamps, redo_stamps, layout)


def _edits(items, field_name: str) -> list[Edit]:
    if not isinstance(items, list):
        raise RapError(f"{field_name} must be a list")
    return [Edit.from_json(item) for item in items]


def _stamps(items) -> list[Stamp]:
    """The time and note of each edit object (both optional; checked like any input)."""
    out = []
    for item in items:
        time_, note = item.get("time"), item.get("note", "")
        if time_ is not None and (not isinstance(time_, str) or len(time_) > 40):
            raise RapError("an edit's time must be an ISO date string")
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise RapError(f"an edit's note must be text of at most {MAX_NOTE} characters")
        out.append(Stamp(time_, note))
    return out


def check_fingerprint(session: Session, data_sha256: str, path: str | os.PathLike) -> None:
    """Refuse a session saved for other data."""
    if session.data_sha256 != data_sha256:
        raise RapError(
            f"session {Path(path).name} was saved for different data (fingerprint "
            f"{session.data_sha256[:8]}…, this data is {data_sha256[:8]}…); open the data it "
            f"was made for or start a new session")


class SessionWriter:
    """Writes the newest session snapshot on a background thread; `flush` waits for it.

    The thread is a daemon, so it can never hold the process open: whoever ends the process
    calls `flush(timeout)` first, which says which file did not get its newest edits in time.
    `failure` keeps the last write error until a later write succeeds (the status line shows it;
    `raise_error` reports it once to the caller).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: tuple[Path, Session] | None = None
        self._running = False
        self._error: RapError | None = None
        self._failure: str | None = None
        self._path: Path | None = None

    def submit(self, path: Path, session: Session) -> None:
        with self._cond:
            self._pending = (path, session)  # supersedes any older snapshot not yet written
            self._path = Path(path)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="rap-session-writer",
                                 daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._pending is None:
                    self._running = False
                    self._cond.notify_all()
                    return
                path, session = self._pending
                self._pending = None
            error = None
            try:
                save_session(path, session)
            except RapError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - reported to the user at the next flush
                error = RapError(f"cannot save session {path}: {exc}")
            with self._cond:
                self._failure = None if error is None else str(error)
                if error is not None:
                    self._error = error

    @property
    def busy(self) -> bool:
        """A snapshot is waiting or being written."""
        with self._cond:
            return self._running or self._pending is not None

    @property
    def failure(self) -> str | None:
        """The last write's error, or None if it succeeded (or nothing was written)."""
        with self._cond:
            return self._failure

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every submitted snapshot is on disk; raise the last write error, if any.

        With `timeout` (seconds), give up after it and raise a RapError naming the file that
        does not hold the newest edits.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._running or self._pending is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise RapError(f"session {self._path}: the newest edits were not written "
                                   f"within {timeout:g} s; the file holds an earlier state")
                self._cond.wait(remaining)
        self.raise_error()

    def raise_error(self) -> None:
        with self._cond:
            error, self._error = self._error, None
        if error is not None:
            raise error
