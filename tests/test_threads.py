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


def _fresh(code: str, **env_changes: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, env=env)
    return out.stdout.split()


PIN = (
    "import os\n"
    "from rap_core.threads import pin_before_numpy, single_blas_thread\n"
    "pinned = pin_before_numpy()\n"
    "import numpy\n"
    "limited = single_blas_thread()  # what the app's opener does next\n"
    "from threadpoolctl import threadpool_info\n"
    "blas = sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'})\n"
    "print(pinned, limited, os.environ.get('OPENBLAS_NUM_THREADS'), *blas)\n"
)


def test_rap_studio_pins_one_blas_thread_before_numpy_loads():
    # rap-studio sets the variables before numpy loads: its BLAS starts no thread pool.
    pinned, limited, variable, *blas = _fresh(PIN)
    assert (pinned, limited, variable) == ("True", "True", "1")
    assert blas in ([], ["1"]), blas


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: BLAS has one thread anyway")
def test_a_users_thread_setting_is_left_alone():
    pinned, limited, variable, *blas = _fresh(PIN, OMP_NUM_THREADS="2")
    assert pinned == "False" and variable == "None", "nothing of ours is set"
    assert limited == "True" and blas in ([], ["1"]), "the run-time limit still applies"


def test_nothing_is_pinned_once_numpy_is_loaded():
    code = "import numpy\n" + PIN.replace("import numpy\n", "", 1)
    assert _fresh(code)[0] == "False"
