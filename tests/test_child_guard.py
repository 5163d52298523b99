"""A child process dies with its parent (rap_core.child_guard), whatever kills the parent.

Each test starts a parent Python process that starts a child, kills the parent, and polls (bounded)
until the child is gone. The control case (a child that does not call the guard) shows the test
can fail: that child outlives its parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GONE_WITHIN_S = 2.0

PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from rap_core.child_guard import child_env
    guard, delay = sys.argv[1] == "guard", float(sys.argv[2])
    code = ("import sys, time\\n"
            f"time.sleep({delay})\\n"
            + ("from rap_core.child_guard import die_with_parent\\ndie_with_parent()\\n"
               if guard else "")
            + "print('armed', flush=True)\\ntime.sleep(120)\\n")
    child = subprocess.Popen([sys.executable, "-c", code], env=child_env(),
                             stdout=subprocess.PIPE, start_new_session=True)
    if delay == 0:
        child.stdout.readline()
    print(child.pid, flush=True)
    time.sleep(120)
""")


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for a reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, limit_s: float) -> bool:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return not alive(pid)


def start_parent(tmp_path, guard: bool, delay: float = 0.0):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    parent = subprocess.Popen([sys.executable, str(script), "guard" if guard else "none",
                               str(delay)], stdout=subprocess.PIPE, text=True, env=env)
    child_pid = int(parent.stdout.readline())
    return parent, child_pid


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_child_dies_with_its_parent(tmp_path, sig):
    parent, child = start_parent(tmp_path, guard=True)
    try:
        parent.send_signal(sig)
        parent.wait(10)
        assert wait_gone(child, GONE_WITHIN_S), f"child {child} outlived its parent ({sig!r})"
    finally:
        _cleanup(parent, child)


def test_parent_dead_before_the_child_armed_the_guard(tmp_path):
    parent, child = start_parent(tmp_path, guard=True, delay=0.5)
    try:
        parent.kill()
        parent.wait(10)
        assert wait_gone(child, 0.5 + GONE_WITHIN_S + 2.0)  # it arms after its 0.5 s sleep
    finally:
        _cleanup(parent, child)


def test_without_the_guard_the_child_is_left_behind(tmp_path):
    """The control: proves the assertion above can fail."""
    parent, child = start_parent(tmp_path, guard=False)
    try:
        parent.kill()
        parent.wait(10)
        assert not wait_gone(child, GONE_WITHIN_S)
    finally:
        _cleanup(parent, child)


FIT_PARENT = textwrap.dedent("""
    import os, sys, time
    from rap_core.dataset import load_dataset
    from rap_core.fit import FitParams
    from rap_core.fit_process import run_fit_in_child
    dataset = load_dataset(sys.argv[1])
    said = []
    def progress(event):
        if not said:
            said.append(1)
            print("fitting", flush=True)
    run_fit_in_child(dataset, FitParams(Cs=40, cv=5), progress=progress)
    print("finished", flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_fit_child_dies_with_its_parent(tmp_path, sig):
    """`rap export` hung up mid-fit: the cutlass child (and its workers) must not keep fitting."""
    from rap_core.demo import demo_path

    script = tmp_path / "fit_parent.py"
    script.write_text(FIT_PARENT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    parent = subprocess.Popen([sys.executable, str(script), str(demo_path())],
                              stdout=subprocess.PIPE, text=True, env=env)
    family: list[int] = []
    try:
        assert parent.stdout.readline().strip() == "fitting"
        family = _descendants(parent.pid)
        assert family, "no fit child found"
        parent.send_signal(sig)
        parent.wait(10)
        left = [pid for pid in family if not wait_gone(pid, GONE_WITHIN_S)]
        assert not left, f"fit processes {left} outlived their parent"
    finally:
        parent.kill()
        parent.wait(10)
        for pid in family:
            _kill(pid)


def _descendants(pid: int) -> list[int]:
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


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _cleanup(parent: subprocess.Popen, child: int) -> None:
    parent.kill()
    parent.wait(10)
    _kill(child)


GUARDED_PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from rap_core.child_guard import child_env
    child = subprocess.Popen([sys.executable, "-m", "rap_core.guarded", "sleeper"],
                             env=child_env(), stdout=subprocess.PIPE, start_new_session=True)
    child.stdout.readline()
    print(child.pid, flush=True)
    time.sleep(120)
""")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_a_guarded_module_dies_with_its_parent(tmp_path, sig):
    """`python -m rap_core.guarded MODULE` (how the evaluation's children run) arms the guard
    before the module starts, so the module needs no import of ours."""
    (tmp_path / "sleeper.py").write_text("import time\nprint('armed', flush=True)\n"
                                         "time.sleep(120)\n")
    script = tmp_path / "parent.py"
    script.write_text(GUARDED_PARENT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env=env)
    child = int(parent.stdout.readline())
    try:
        parent.send_signal(sig)
        parent.wait(10)
        assert wait_gone(child, GONE_WITHIN_S), f"guarded child {child} outlived its parent"
    finally:
        _cleanup(parent, child)
