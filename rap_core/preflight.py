"""Checks that run before a fit: every argument and input a command can verify cheaply.

A fit takes seconds to minutes; a typo in --out or a stale --session found after it wastes them.
`rap export` calls these after loading the data (which validates itself) and before fitting.
"""

from __future__ import annotations

import os
from pathlib import Path

from rap_core.errors import RapError


def check_session(path: Path, dataset) -> None:
    """A --session must exist, be a regular file, parse, and belong to this data."""
    from rap_core.atomic import check_regular_input
    from rap_core.session import check_fingerprint, load_session

    try:
        check_regular_input(path, "session")
    except RapError as exc:
        raise RapError(f"{exc}; save one from rap-studio or omit --session") from None
    check_fingerprint(load_session(path, dataset.features), dataset.sha256, path)


def check_export_args(args, dataset) -> None:
    """--alpha-init, --layout and --out, checked before the fit."""
    from rap_core.atomic import check_output_path
    from rap_core.layout import make_layout
    from rap_core.ranges import split_feature_name
    from rap_nanochat.artifact_spec import PriorFormatError, check_alpha_init

    try:
        check_alpha_init(args.alpha_init, "--alpha-init")
    except PriorFormatError as exc:
        raise RapError(str(exc)) from None
    if args.layout != "features":
        try:
            make_layout(args.layout, dataset.features,
                        [split_feature_name(f)[1] for f in dataset.features])
        except RapError as exc:
            raise RapError(f"--layout {args.layout}: {exc}") from None
    _check_not_in_cache(args.out)
    check_output_path(args.out, inputs=[args.data, args.session, *_cache_entries(args.out)])


def _cache_entries(out: Path) -> list[Path]:
    """Fit files `out` could be: the bundled demo fit, and the cache entries when `out` has
    other hard links (only then can it be one of them without being inside the cache)."""
    from rap_core.cache import cache_dir
    from rap_core.demo import demo_fit_path

    try:
        if out.stat().st_nlink < 2:
            return [demo_fit_path()]
        fits = cache_dir() / "fits"
        return [demo_fit_path(), *(fits.iterdir() if fits.is_dir() else ())]
    except OSError:
        return [demo_fit_path()]


def _check_not_in_cache(out: Path) -> None:
    from rap_core.cache import cache_dir

    fits = os.path.realpath(cache_dir() / "fits")
    if os.path.dirname(os.path.realpath(out)) == fits:
        raise RapError(f"{out} is inside the fit cache ({fits}); choose another output path")
