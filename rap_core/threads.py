"""One BLAS thread in the interactive process: small products finish sooner than threads wake.

The Studio's products are small (the demo's co-activation Gram matrices: 3,000 × 80; a
5,000 × 1,000 table: about 5 GFLOP) and the app runs them between keypresses. OpenBLAS's thread
pool costs more than it saves there, and on a busy machine far more: building the demo's Studio
took 100–300 ms with the default pool at load average 5 on 2 cores, 2–14 ms with one thread.

Two ways, the first preferred:
- `pin_before_numpy()`, which `rap-studio` calls before anything imports numpy: the thread
  variables in the environment, so the BLAS library starts no pool at all. numpy's import is
  then 5–10 ms shorter (and loses its 100 ms outliers on a busy box), and threadpoolctl is not
  imported. The fit's child process inherits them, and runs with one thread as it would anyway
  (rap_core.fit_process: cutlass parallelises by process); a user's own setting of any of them
  is left alone, and then neither process is pinned by us.
- `single_blas_thread()`, at run time (threadpoolctl), when numpy was loaded first (the app
  opened from a test or a script); it limits this process only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_pinned = False  # set by pin_before_numpy: the BLAS libraries were loaded with one thread


def pin_before_numpy(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Set the BLAS thread variables to 1 before numpy loads; False (nothing set) when numpy is
    loaded already or the user set any of them."""
    global _pinned
    if "numpy" in sys.modules or any(name in environ for name in BLAS_THREAD_VARIABLES):
        return False
    for name in BLAS_THREAD_VARIABLES:
        environ[name] = "1"
    _pinned = environ is os.environ
    return True


def single_blas_thread() -> bool:
    """Limit the BLAS libraries numpy loaded to one thread; False if that is not possible."""
    if _pinned:
        return True  # loaded with one thread: nothing to limit
    try:
        import numpy  # noqa: F401 - threadpoolctl limits the libraries already loaded
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    try:
        threadpool_limits(1, user_api="blas")
    except Exception:  # noqa: BLE001 - an exotic BLAS build: keep its default pool, still correct
        return False
    return True
