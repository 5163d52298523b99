"""One BLAS thread in the interactive process: small products finish sooner than threads wake.

The Studio's products are small (the demo's co-activation Gram matrices: 3,000 × 80; a
5,000 × 1,000 table: about 5 GFLOP) and the app runs them between keypresses. OpenBLAS's thread
pool costs more than it saves there, and on a busy machine far more: building the demo's Studio
took 100–300 ms with the default pool at load average 5 on 2 cores, 2–14 ms with one thread.

Only this process is limited, at run time (threadpoolctl), not through OPENBLAS_NUM_THREADS: an
environment variable would be inherited by the fit's child process, where cutlass's large
solves do gain from threads.
"""

from __future__ import annotations


def single_blas_thread() -> bool:
    """Limit the BLAS libraries numpy loaded to one thread; False if that is not possible."""
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
