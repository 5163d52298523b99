"""The interactive process runs its BLAS on one thread (rap_core.threads)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_single_blas_thread_limits_this_process_only():
    code = (
        "import numpy, os\n"
        "from threadpoolctl import threadpool_info\n"
        "from rap_core.threads import single_blas_thread\n"
        "ok = single_blas_thread()\n"
        "blas = [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "print(ok, set(blas) == {1} if blas else 'none', 'OPENBLAS_NUM_THREADS' in os.environ)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    # a child (the fit process) inherits no thread limit through the environment
    assert out.stdout.split() in (["True", "True", "False"], ["True", "none", "False"]), \
        out.stdout + out.stderr


def _blas_threads_after(statement: str) -> set[int]:
    code = (
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        f"{statement}\n"
        "print(*sorted({i['num_threads'] for i in threadpool_info() "
        "if i['user_api'] == 'blas'}))\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, env=env)
    return {int(n) for n in out.stdout.split()}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: BLAS has one thread anyway")
def test_only_the_app_opens_with_one_blas_thread():
    """`rap export` on a big table builds its counts with BLAS: the opener limits threads only
    for the interactive app (it limited every caller once the TUI and the CLI shared it)."""
    app = _blas_threads_after("from rap_core.opening import prepare; prepare(interactive=True)")
    cli = _blas_threads_after("from rap_core.opening import prepare; prepare()")
    if not app and not cli:
        pytest.skip("numpy has no BLAS that threadpoolctl can see")
    assert app == {1}
    assert max(cli) > 1, cli
