"""Run a cutlass fit in a child process, so that cancelling it is prompt; `load_or_fit`.

`load_or_fit` is how callers get a fit: the bundled demo fit or the disk cache
(`rap_core.fit.cached_fit`) at once, otherwise cutlass in a child process, then cached.

cutlass checks its cancel callback only between phases, and the CV path (most of a fit: minutes
on thousands of rows) is one phase. In-process, a cancel would wait for it. Here the fit runs in
a child `python -m rap_core.fit_process`; the parent relays its progress and polls `cancel`
every 0.1 s.

Design choices:
- A child program of its own (not multiprocessing's spawn): spawn re-imports the caller's main
  script, which breaks any script without an `if __name__ == "__main__"` guard; fork could copy a
  lock held by a TUI thread. The child costs a second or two of imports, small next to a fit.
- Protocol: the parent pickles (dataset, params) to the child's stdin (a private pipe between two
  copies of this code, never stored); the child answers with JSON lines on stdout: progress events,
  then the Fit's JSON (rebuilt, and so re-validated, here) or a one-line error.
- Stopping: SIGTERM; the child kills its own cutlass pool workers (else the pool would wait for
  them to finish their C path) and raises, so cutlass's `finally` unlinks its shared memory.
  SIGKILL only if that has not ended the child within 5 s.
- The child runs in its own session: Ctrl-C in a terminal reaches only the parent (the `rap` CLI),
  which turns it into a cancel.
- The child dies with its parent (rap_core.child_guard), even a parent killed by SIGKILL.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path

from rap_core.child_guard import child_env, die_with_parent
from rap_core.errors import FitCancelled, RapError
from rap_core.fit import Fit, FitParams, FitProgress, cached_fit, run_fit, store_fit
from rap_core.threads import BLAS_THREAD_VARIABLES

POLL_S = 0.1
STOP_GRACE_S = 5.0


def load_or_fit(dataset, params: FitParams | None = None, *, progress=None, cancel=None,
                cache_dir=None, isolate: bool = True) -> Fit:
    """Bundled demo fit -> disk cache -> cutlass (then cached). Raises FitCancelled, RapError.

    cutlass runs in a child process by default (`isolate`), so cancelling is prompt.
    """
    params = (params or FitParams()).validate()
    found = cached_fit(dataset, params, cache_dir=cache_dir)
    if found is not None:
        return found
    run = run_fit_in_child if isolate else run_fit
    fit = run(dataset, params, progress=progress, cancel=cancel)
    store_fit(fit, cache_dir=cache_dir)
    return fit


def run_fit_in_child(dataset, params: FitParams | None = None, *, progress=None, cancel=None):
    """`run_fit` in a child process; raises FitCancelled within ~POLL_S of `cancel()`."""
    params = (params or FitParams()).validate()
    if cancel is not None and cancel():
        raise FitCancelled()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen([sys.executable, "-m", "rap_core.fit_process"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                 start_new_session=True, env=child_env(_child_env()))
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(child.stdout, lines), daemon=True)
        reader.start()
        try:
            try:
                child.stdin.write(pickle.dumps((dataset, params), protocol=5))
                child.stdin.close()
            except BrokenPipeError:
                pass  # the child died at start; its stderr says why (below)
            while True:
                if cancel is not None and cancel():
                    raise FitCancelled()
                try:
                    line = lines.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if line is None:  # stdout closed without a result
                    child.wait()
                    errors.seek(0)
                    last = (errors.read().decode("utf-8", "replace").strip().splitlines()
                            or ["no message"])[-1]
                    raise RapError(f"{dataset.name}: the fit process stopped (exit code "
                                   f"{child.returncode}: {last[:160]})")
                kind, payload = json.loads(line)
                if kind == "progress" and progress is not None:
                    progress(FitProgress(**payload))
                elif kind == "fit":
                    return Fit.from_json_dict(payload)
                elif kind == "error":
                    raise RapError(payload)
        finally:
            _stop(child)


# One BLAS thread per fit process unless the user chose otherwise (issue 7): cutlass parallelises
# by process (its CV workers), and OpenBLAS's spinning threads on busy cores turned a 20,000 x
# 2,000 fista fit from 11 s into > 120 s at load 7; with one thread it took 22 s at that load, and
# 5,000 x 1,000 showed no difference (docs/BENCHMARKS.md, "Fit").
# (the names: rap_core.threads, which `rap-studio` also uses to pin itself before numpy loads)


def _child_env() -> dict:
    """The parent's environment, with this copy of rap_core first on the path (the child must
    run the same code even when rap_core is not installed, e.g. from a checkout), and one BLAS
    thread unless the user set one of BLAS_THREAD_VARIABLES."""
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    if not any(name in env for name in BLAS_THREAD_VARIABLES):
        env.update({name: "1" for name in BLAS_THREAD_VARIABLES})
    return env


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    child.stdout.close()


def _child_main() -> None:
    import multiprocessing
    import signal

    def stop(signum, frame):
        for worker in multiprocessing.active_children():  # cutlass's pool workers
            worker.kill()
        raise FitCancelled()

    signal.signal(signal.SIGTERM, stop)
    die_with_parent(signal.SIGTERM)  # a parent killed by a hang-up must not leave us fitting
    out = sys.stdout
    sys.stdout = sys.stderr  # anything cutlass prints must not corrupt the protocol

    def send(kind: str, payload) -> None:
        out.write(json.dumps([kind, payload], allow_nan=False) + "\n")
        out.flush()

    dataset, params = pickle.loads(sys.stdin.buffer.read())
    try:
        fit = run_fit(dataset, params, progress=lambda event: send("progress", asdict(event)))
        send("fit", fit.to_json_dict())
    except FitCancelled:
        pass
    except RapError as exc:
        send("error", str(exc))
    except Exception as exc:  # the child's traceback would be lost: say what it was
        send("error", f"{dataset.name}: the fit failed ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    _child_main()
