"""The interactive process runs its BLAS on one thread (rap_core.threads)."""

from __future__ import annotations

import subprocess
import sys


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
