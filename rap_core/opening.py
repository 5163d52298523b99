"""The one way in: parameters -> data -> bundled/cached/provisional fit -> Studio with a session.

The TUI's load worker and the CLI's commands open a dataset the same way, so both call this module
and each side's start-up is a few lines: what differs (printing notes or showing toasts, the
session lock, a provisional preview on screen) is a callback or an argument.

The steps, in the order a bad argument is cheapest to catch:
1. `prepare(params)`: the fit parameters validated and the backend checked (a second, no data);
2. `load_data(path, ...)`: the data (the bundled demo when `path` is None), parsed once and cached
   by content hash (`rap_core.data_cache`) for the app;
3. `open_fitted(dataset, params, ...)`: the bundled or cached fit at once; otherwise the
   rectifier's ranges give a provisional Studio (shown through `on_provisional`) while cutlass
   fits in a child process (progress, cancel); then the session file is replayed and edits
   autosave where the caller says (`autosave`; None for a read-only replay, as `rap export`).

`open_cached` runs the three steps only as far as they are instant (nothing to parse, nothing to
fit): rap-studio calls it before it takes over the terminal.

Modules are imported inside the functions on purpose: opening the TUI must paint before numpy,
pandas or cutlass load (issue 13), and this module is imported at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from rap_core.studio import SAME, Studio

__all__ = ["AT_ONCE_BYTES", "Fitting", "Opened", "fork_session", "open_cached", "open_fitted",
           "load_data", "lock_session", "prepare", "session_file", "session_stamp"]


@dataclass(frozen=True)
class Fitting:
    """What `on_provisional` is told when cutlass has to run: the preview and what to expect."""

    preview: Studio  # provisional: every rectified feature votes until the fit ends
    estimate_s: float  # rap_core.fit_speed's estimate of the fit's wall time
    warning: str | None  # a slow-fit warning with how to make it faster, or None


def prepare(params=None, *, interactive: bool = False):
    """(validated FitParams, a note about the backend or None); raises RapError on a bad value.

    Cheap and data-free, so a typo in a parameter costs a second, not a data load or a fit.
    `interactive` (the app): numpy in this process uses one BLAS thread (rap_core.threads: an
    editor's small products finish sooner than a thread pool wakes); `rap` keeps the pool.
    """
    from rap_core.fit import FitParams
    from rap_core.fit_speed import check_backend

    if interactive:
        from rap_core.threads import single_blas_thread

        single_blas_thread()
    params = (params or FitParams()).validate()
    return params, check_backend(params)


def load_data(path: str | Path | None, *, target: str, cv: int, cache: bool = True,
              parse: bool = True, max_bytes: int | None = None):
    """The dataset at `path` (the bundled demo when None).

    cache=True (the app) goes through the parsed-data cache, so a second launch on the same file
    is as fast as the demo; cache=False (`rap`, pipelines) parses the file and writes nothing:
    a command refused for a bad argument must leave no trace. parse=False (with the cache):
    None when the file would have to be parsed, or it or its cached parse is over `max_bytes`.
    """
    from rap_core.demo import demo_path

    path = demo_path() if path is None else Path(path)
    if not cache:
        from rap_core.dataset import load_dataset

        return load_dataset(path, target=target, cv=cv)
    from rap_core.data_cache import load_dataset_cached

    return load_dataset_cached(path, target=target, cv=cv, parse=parse, max_bytes=max_bytes)


def session_file(dataset, session: str | Path | None) -> Path:
    """The session file of `dataset`: `session`, or the data's default session when None."""
    from rap_core.session import default_session_path

    return Path(session) if session is not None else default_session_path(dataset.sha256)


def session_stamp(path: str | Path) -> tuple[int, int, int] | None:
    """(size, mtime, inode) of a session file, None when there is none: taken before a replay
    and compared once the lock is held, it tells whether another instance saved in between."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def lock_session(dataset, session: str | Path | None):
    """Lock the session file for this process (`rap_core.session_lock.SessionAccess`): `session`,
    or the data's default session when None. Its `source` is replayed, its `path` (None when
    read-only) receives the autosaves, and its `notice` says what happened if another process
    holds the file."""
    from rap_core.session_lock import open_session

    return open_session(session_file(dataset, session))


def fork_session(source: str | Path, why: str):
    """A copy of the session `source` for this process's edits, with `why` in its notice
    (`rap_core.session_lock.fork_session`): the lock was taken, but the file is not this
    process's to write."""
    from rap_core.session_lock import fork_session as fork

    return fork(source, why)


def open_fitted(dataset, params, *, session: str | Path | None = None,
                autosave: str | Path | None = SAME, statistic: str | None = None,
                layout: str = "features", advice: str = "cli",
                on_provisional: Callable[[Fitting], None] | None = None,
                on_slow: Callable[[str], None] | None = None,
                progress=None, cancel: Callable[[], bool] | None = None,
                fit_fn=None, only_cached: bool = False) -> Studio | None:
    """A fitted Studio of `dataset` (its training rows) with `session`'s edits replayed.

    - A bundled or cached fit opens at once; else cutlass runs (`fit_fn`, default
      `rap_core.fit_process.load_or_fit`: a child process, cached afterwards) with `progress`
      and `cancel` (raises FitCancelled).
    - Before cutlass runs, `on_provisional(Fitting)` receives a provisional Studio to show (only
      built when asked for) and `on_slow(warning)` a slow-fit warning worded for `advice`
      ("cli" flags or "tui" keys).
    - `autosave`: where later edits are written (SAME: the session file itself; None: nowhere).
    - `only_cached`: None instead of running cutlass (or building a preview).
    """
    from rap_core.fit import cached_fit
    from rap_core.split import train_dataset
    from rap_core.statistic import DEFAULT_STATISTIC

    statistic = statistic or DEFAULT_STATISTIC
    train = train_dataset(dataset)  # the fit sees the training rows only (rap_core.split)
    fit = cached_fit(train, params)
    if fit is not None:
        return Studio.from_fit(dataset, fit, statistic=statistic, layout=layout,
                               session_path=session, autosave=autosave)
    if only_cached:
        return None
    preview = None
    if on_slow is not None or on_provisional is not None:
        from rap_core.fit_speed import estimate_fit_seconds, slow_fit_warning

        warning = slow_fit_warning(train.n_rows, train.n_features, params, options=advice)
        if warning and on_slow is not None:
            on_slow(warning)
        if on_provisional is not None:
            from rap_core.ranges import rectify

            preview = Studio.provisional(dataset, rectify(train, params),
                                         statistic=statistic, layout=layout)
            on_provisional(Fitting(preview, estimate_fit_seconds(train.n_rows,
                                                                 train.n_features, params),
                                   warning))
    if fit_fn is None:  # here, not above: the child-process machinery is not needed at all
        from rap_core.fit_process import load_or_fit as fit_fn  # when the fit is cached

    fit = fit_fn(train, params, progress=progress, cancel=cancel)
    if preview is not None:  # reuses the preview's counts when the fit's ranges match
        return preview.with_fit(fit, session_path=session, autosave=autosave)
    return Studio.from_fit(dataset, fit, statistic=statistic, layout=layout,
                           session_path=session, autosave=autosave)


# Opening at once leaves the terminal as it is for as long as that takes, a few ms per MB of the
# file (hashed) and of its cached parse (read and checked): 0.17-0.38 s for the 5,000 x 1,000
# bench table (36 MB CSV, 40 MB parse). A file or cached parse over this opens behind the
# loading screen. (Opening that table in the background instead made it editable later: 2.3x
# the demo's time against 1.4x, the loader thread and the first frame competing.)
AT_ONCE_BYTES = 64 * 1024**2


class Opened(NamedTuple):
    """A Studio that opened without parsing or fitting (`open_cached`), with what the session
    lock needs afterwards."""

    dataset: object  # rap_core.dataset.Dataset
    params: object  # rap_core.fit.FitParams, validated
    studio: Studio  # the session replayed; autosaves nowhere until the lock is taken
    seen: tuple[int, int, int] | None  # session_stamp(session) before the replay


def open_cached(path: str | Path | None, params, *, target: str,
                session: str | Path | None = None) -> Opened | None:
    """`path`'s Studio if it opens in milliseconds: the bundled demo, or a table whose parse and
    fit are both cached. None when it would have to parse or fit, or on any error: the caller
    then opens it in the background (`prepare`, `load_data`, `open_fitted`), with progress, and
    reports what went wrong there.

    rap-studio calls this before it takes over the terminal, so the first frame it paints is the
    rule, not a "loading" screen that a thread contending for the interpreter then replaces
    (issue 13: ~40 ms of a ~350 ms start). It writes nothing and locks nothing. A file or a
    cached parse over AT_ONCE_BYTES opens in the background, and so does a backend other than
    the CPU (checking it imports cutlass).
    """
    if params is None or params.backend != "cpu":
        return None
    try:
        params, _ = prepare(params, interactive=True)
        dataset = load_data(path, target=target, cv=params.cv, parse=False,
                            max_bytes=AT_ONCE_BYTES)
        if dataset is None:
            return None
        replayed = session_file(dataset, session)
        seen = session_stamp(replayed)
        studio = open_fitted(dataset, params, session=replayed, autosave=None,
                             only_cached=True)
    except Exception:  # noqa: BLE001 - the background load meets it again and reports it
        return None
    return None if studio is None else Opened(dataset, params, studio, seen)
