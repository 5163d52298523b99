"""Studio state -> the prior artifact on disk.

The one path from (dataset, fit, edits) to `rap_prior.pt`: the TUI's export and `rap export` both
call `export_prior`, so the same session gives a byte-identical bias whichever wrote it. The file
format itself lives in `nanochat/rap_prior.py` (torch-only, shared with training); this module only
assembles its fields. torch is imported here, lazily, so opening the app or validating data never
pays for it.
"""

from __future__ import annotations

from pathlib import Path

from rap_core.atomic import check_output_path, write_bytes_atomic
from rap_core.cache import json_float
from rap_core.errors import RapError
from rap_core.studio import ExportResult


def rules_payload(studio, positions: dict[str, int]) -> list[dict]:
    """The active votes as plain dicts: what a reader needs to know which ranges shaped B."""
    ranges = studio.ranges
    index = {name: i for i, name in enumerate(ranges.features)}
    votes = []
    for _, feature, sign, weight in studio.rule.votes():
        i = index[feature]
        votes.append({
            "feature": feature,
            "sign": int(sign),
            "weight": float(weight),
            "position": int(positions.get(feature, -1)),
            "rmin": json_float(ranges.rmin[i]),
            "rmax": json_float(ranges.rmax[i]),
        })
    return votes


def source_payload(studio) -> dict:
    """Provenance: which data, fit and edits produced a prior (no paths, no clock)."""
    dataset, fit = studio.dataset, studio.fit
    source = {
        "data_sha256": dataset.sha256,
        "data_name": dataset.name,
        "rows": int(dataset.n_rows),
        "features": int(dataset.n_features),
        "positives": int(dataset.n_positive),
        "target": dataset.target,
        "statistic": studio.statistic,
        "edits": len(studio.edits),
        "split": studio.split_info(),  # rap_core.split: the fit and the prior saw train rows only
        "K": float(studio.rule.K),
        "m": float(studio.rule.m),
    }
    if fit is not None:
        source.update({
            "cutlass_version": fit.cutlass_version,
            "fit_params": fit.params.to_dict(),
            "adopted": bool(fit.adopted),
        })
    else:
        source.update({"cutlass_version": None, "fit_params": None, "adopted": False})
    return source


def layout_positions(layout) -> dict[str, int]:
    """Feature name -> prior position, as the layout placed it (features without one omitted)."""
    return {name: int(position)
            for name, position in zip(layout.features, layout.position_of, strict=True)
            if position >= 0}


def build_artifact(studio, *, layout: str | None = None, alpha_init: float = 1.0) -> dict:
    """Assemble the validated artifact dict for the studio's current rule."""
    from rap_nanochat.rap_prior import PriorFormatError, check_alpha_init, make_prior

    try:
        alpha_init = check_alpha_init(alpha_init)
    except PriorFormatError as exc:
        raise RapError(str(exc)) from None
    original = studio.layout
    chosen = layout or original
    try:
        if chosen != original:
            studio.set_layout(chosen)
        labels = list(studio.labels())
        positions = layout_positions(studio.prior.layout)
        bias = studio.bias()
        scale = float(studio.scale)
        rules = rules_payload(studio, positions)
        source = source_payload(studio)
    finally:
        if chosen != original:
            studio.set_layout(original)
    try:
        return make_prior(bias, labels, chosen, float(alpha_init), scale, rules, source,
                          statistic=studio.statistic)
    except PriorFormatError as exc:
        raise RapError(str(exc)) from None


def export_prior(studio, path: str | Path, *, layout: str | None = None,
                 alpha_init: float = 1.0, inputs=()) -> ExportResult:
    """Write the artifact atomically (temp + fsync + rename); the old file survives a crash.

    The path is checked before the artifact is built (rap_core.atomic.check_output_path): never
    over the dataset or any of `inputs` (session, cache entry), never over a non-regular file.
    """
    from rap_nanochat.rap_prior import PriorFormatError, prior_bytes

    inputs = (studio.dataset.path, *inputs)
    target = check_output_path(path, inputs=inputs)
    prior = build_artifact(studio, layout=layout, alpha_init=alpha_init)
    try:
        data = prior_bytes(prior, str(target))
    except PriorFormatError as exc:
        raise RapError(str(exc)) from None
    try:
        written = write_bytes_atomic(path, data, inputs=inputs)
    except OSError as exc:
        raise RapError(f"cannot write {target}: {exc.strerror or exc}; "
                       f"choose another path") from None
    return ExportResult(
        path=written,
        shape=tuple(prior["bias"].shape),
        bias_sha256=prior["bias_sha256"],
        layout=prior["layout"],
        alpha_init=prior["alpha_init"],
    )
