"""One writer per session: a second instance forks or opens read-only and says which; a lock left
by a process that no longer exists never blocks a launch, and the user is told it was taken over;
a session that cannot be written is reported, never pretended."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rap_core.session_lock import SessionBusy, SessionLock, lock_path, open_session, read_owner

UNWRITABLE = Path("/sys/rap-studio-test/session.json")  # not writable, even by root


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_lock_names_the_owner(tmp_path):
    first = SessionLock(tmp_path / "s.json").acquire()
    try:
        with pytest.raises(SessionBusy) as busy:
            SessionLock(tmp_path / "s.json").acquire()
        assert busy.value.owner.pid == os.getpid()
        assert busy.value.owner.host == socket.gethostname()
    finally:
        first.release()
    SessionLock(tmp_path / "s.json").acquire().release()  # free again once released
    assert read_owner(lock_path(tmp_path / "s.json")) is None  # a clean release clears it


def test_second_instance_forks_the_session_and_says_so(tmp_path):
    source = tmp_path / "s.json"
    first = open_session(source)
    second = open_session(source)
    try:
        assert first.mode == "write" and first.path == source and first.notice is None
        assert second.mode == "fork" and second.source == source
        assert second.path != source and second.path.parent == tmp_path
        assert f"pid {os.getpid()}" in second.notice
        assert str(second.path) in second.notice  # where the edits go, and how to continue
    finally:
        first.release()
        second.release()


def test_a_dead_owners_record_is_taken_over_and_told(tmp_path):
    source = tmp_path / "s.json"
    pid = dead_pid()
    lock_path(source).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    access = open_session(source)
    try:
        assert access.mode == "write" and access.path == source
        assert f"took over session {source}" in access.notice
        assert f"pid {pid}" in access.notice
        assert read_owner(lock_path(source)).pid == os.getpid()
    finally:
        access.release()


HOLDER = textwrap.dedent("""
    import json, socket, sys, time
    from filelock import FileLock
    lock = FileLock(sys.argv[1], timeout=0, thread_local=False)
    lock.acquire()
    with open(sys.argv[1], "w") as fh:
        fh.write(json.dumps({"pid": int(sys.argv[2]), "host": socket.gethostname()}))
    print("held", flush=True)
    time.sleep(60)
""")


def test_a_lock_held_for_a_dead_owner_never_blocks_a_launch(tmp_path):
    """The flock outlived its owner (a forked child kept the descriptor): taken over anyway."""
    source = tmp_path / "s.json"
    pid = dead_pid()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path(source)), str(pid)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        access = open_session(source)
        assert access.mode == "write" and access.path == source
        assert f"pid {pid}" in access.notice
        access.release()
    finally:
        holder.kill()
        holder.wait()


def test_a_live_owner_on_another_host_is_respected(tmp_path):
    source = tmp_path / "s.json"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.replace(
        "socket.gethostname()", "'elsewhere'"), str(lock_path(source)), "1"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        access = open_session(source)
        assert access.mode == "fork" and "pid 1 on elsewhere" in access.notice
        access.release()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs /sys (Linux)")
def test_an_unwritable_place_opens_read_only_and_says_where():
    access = open_session(UNWRITABLE)
    assert access.mode == "read-only" and access.path is None and not access.writable
    assert access.notice.startswith("edits cannot be saved: cannot write /sys/rap-studio-test")
    # found in a drill: "this window is read-only" contradicted the edits the window allows
    assert "you can edit, but the edits stay in this window" in access.notice
    assert "window is read-only" not in access.notice


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a 0444 file")
def test_a_read_only_session_file_opens_read_only(tmp_path):
    source = tmp_path / "s.json"
    source.write_text("{}")
    source.chmod(0o444)
    access = open_session(source)
    assert access.mode == "read-only"
    assert "the session file" in access.notice and "is read-only" in access.notice
    assert "the edits stay in this window" in access.notice
