"""The session writer never holds a process open, and a bounded flush says what it did not write."""

from __future__ import annotations

import threading

import pytest

import rap_core.session as session_module
from rap_core.errors import RapError
from rap_core.session import Session, SessionWriter

SESSION = Session("a" * 64, "INDC", None, "cpmi")


def test_a_stuck_write_is_reported_not_waited_for(tmp_path, monkeypatch):
    release = threading.Event()
    real_save = session_module.save_session

    def stuck(path, session):  # an NFS server gone away, a disk that does not answer
        release.wait(30)
        return real_save(path, session)

    monkeypatch.setattr(session_module, "save_session", stuck)
    writer = SessionWriter()
    writer.submit(tmp_path / "s.json", SESSION)
    try:
        assert writer.busy
        assert all(t.daemon for t in threading.enumerate() if t.name == "rap-session-writer")
        with pytest.raises(RapError) as err:
            writer.flush(timeout=0.05)
        assert str(err.value).startswith(f"session {tmp_path / 's.json'}: the newest edits "
                                         f"were not written within 0.05 s")
    finally:
        release.set()
    writer.flush()
    assert (tmp_path / "s.json").is_file() and not writer.busy and writer.failure is None


def test_a_failure_stays_visible_until_a_write_succeeds(tmp_path, monkeypatch):
    real_save = session_module.save_session
    full = [True]

    def maybe_full(path, session):
        if full[0]:
            raise RapError(f"cannot save session {path}: No space left on device")
        return real_save(path, session)

    monkeypatch.setattr(session_module, "save_session", maybe_full)
    writer = SessionWriter()
    writer.submit(tmp_path / "s.json", SESSION)
    with pytest.raises(RapError, match="No space left"):
        writer.flush()
    writer.flush()  # the error is raised once ...
    assert "No space left" in writer.failure  # ... and stays visible
    full[0] = False
    writer.submit(tmp_path / "s.json", SESSION)
    writer.flush()
    assert writer.failure is None
