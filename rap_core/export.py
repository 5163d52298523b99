"""Studio state -> the prior artifact on disk, as a pure function of one snapshot of that state.

The one path from (dataset, fit, edits) to `rap_prior.pt`: the TUI's export and `rap export` both
call `export_prior`, so the same session gives a byte-identical bias whichever wrote it. The file
format itself lives in `nanochat/rap_prior.py` (torch-only, shared with training); this module only
assembles its fields. torch is imported here, lazily, so opening the app or validating data never
pays for it.

Design choice — snapshot, then build. `export_source(studio, layout)` takes what an export reads
(rule, ranges, counts, layout, provenance) at one instant; every part is immutable, so the
artifact can be built in a worker thread while the user keeps editing or switches the heatmap's
layout, and it never switches the studio's layout to read another one. The bias is rebuilt from
the counts (`rap_core.prior.build_prior`), which equals the studio's incrementally kept prior
bitwise (rap_core/prior.py, tested in tests/test_prior.py and tests/test_studio.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rap_core.atomic import check_output_path, write_bytes_atomic
from rap_core.cache import json_float
from rap_core.errors import RapError
from rap_core.layout import Layout, make_layout
from rap_core.prior import build_prior, normalise


@dataclass(frozen=True)
class ExportResult:
    path: Path
    shape: tuple[int, int]
    bias_sha256: str
    layout: str
    alpha_init: float


@dataclass(frozen=True, eq=False)
class ExportSource:
    """What an export reads, taken from a studio at one instant (all parts immutable)."""

    dataset: object  # rap_core.dataset.Dataset
    fit: object  # rap_core.fit.Fit or None (provisional)
    ranges: object  # rap_core.ranges.Ranges
    rule: object  # rap_core.rules.Rule
    counts: object  # rap_core.statistic.CoactivationCounts of the training rows
    statistic: str
    layout: Layout
    split: dict | None
    edits: int
    sessions: tuple[Path, ...]  # session files this studio read or writes: never written over


def export_source(studio, layout: str | None = None) -> ExportSource:
    """Snapshot `studio` for an export in `layout` (default: the layout on screen). O(P)."""
    current = studio.prior.layout
    chosen = layout or current.name
    if chosen != current.name:
        if chosen not in studio.layouts():
            raise RapError(f"layout {chosen!r} is not available for this data; choose one of "
                           f"{', '.join(studio.layouts())}")
        current = make_layout(chosen, current.features, current.lags)
    sessions = tuple(Path(p) for p in (studio.session_source, studio.session_path)
                     if p is not None)
    return ExportSource(studio.dataset, studio.fit, studio.ranges, studio.rule, studio.counts,
                        studio.statistic, current, studio.split_info(), len(studio.edits),
                        sessions)


def rules_payload(source: ExportSource, positions: dict[str, int]) -> list[dict]:
    """The enabled votes as plain dicts: what a reader needs to know which ranges shaped B."""
    ranges = source.ranges
    votes = []
    for i, feature, sign, weight in source.rule.votes():
        votes.append({
            "feature": feature,
            "sign": int(sign),
            "weight": float(weight),
            "position": int(positions.get(feature, -1)),
            "rmin": json_float(ranges.rmin[i]),
            "rmax": json_float(ranges.rmax[i]),
        })
    return votes


def source_payload(source: ExportSource) -> dict:
    """Provenance: which data, fit and edits produced a prior (no paths, no clock)."""
    dataset, fit = source.dataset, source.fit
    payload = {
        "data_sha256": dataset.sha256,
        "data_name": dataset.name,
        "rows": int(dataset.n_rows),
        "features": int(dataset.n_features),
        "positives": int(dataset.n_positive),
        "target": dataset.target,
        "statistic": source.statistic,
        "edits": source.edits,
        "split": source.split,  # rap_core.split: the fit and the prior saw train rows only
        "K": float(source.rule.K),
        "m": float(source.rule.m),
    }
    if fit is not None:
        payload.update({
            "cutlass_version": fit.cutlass_version,
            "fit_params": fit.params.to_dict(),
            "adopted": bool(fit.adopted),
        })
    else:
        payload.update({"cutlass_version": None, "fit_params": None, "adopted": False})
    return payload


def layout_positions(layout: Layout) -> dict[str, int]:
    """Feature name -> prior position, as the layout placed it (features without one omitted)."""
    return {name: int(position)
            for name, position in zip(layout.features, layout.position_of, strict=True)
            if position >= 0}


def build_artifact(source: ExportSource, *, alpha_init: float | None = None) -> dict:
    """The validated artifact dict for the snapshot's rule (pure: reads `source` only)."""
    from rap_nanochat.artifact_spec import DEFAULT_ALPHA_INIT, PriorFormatError, check_alpha_init
    from rap_nanochat.rap_prior import make_prior

    try:
        alpha_init = check_alpha_init(DEFAULT_ALPHA_INIT if alpha_init is None else alpha_init)
    except PriorFormatError as exc:
        raise RapError(str(exc)) from None
    rule, layout = source.rule, source.layout
    raw = build_prior(source.counts, rule.sign, rule.effective_weights(), layout,
                      source.statistic)
    bias, scale = normalise(raw)
    rules = rules_payload(source, layout_positions(layout))
    try:
        return make_prior(bias, list(layout.labels), layout.name, float(alpha_init),
                          float(scale), rules, source_payload(source),
                          statistic=source.statistic)
    except PriorFormatError as exc:
        raise RapError(str(exc)) from None


def check_target(source: ExportSource, path: str | Path, inputs=()) -> Path:
    """The checks `export_prior` makes of `path` before writing, alone: the TUI runs them
    before it asks whether to create a directory or replace a file (RapError: one line)."""
    return check_output_path(path, inputs=_inputs(source, inputs))


def _inputs(source: ExportSource, inputs=()) -> tuple[Path, ...]:
    """What an export must never write over: the data, the snapshot's session files, `inputs`."""
    return tuple(Path(p) for p in (source.dataset.path, *source.sessions, *inputs)
                 if p is not None)


def export_prior(source: ExportSource, path: str | Path, *, alpha_init: float | None = None,
                 inputs=()) -> ExportResult:
    """Write the artifact atomically (temp + fsync + rename); the old file survives a crash.

    The path is checked before the artifact is built (rap_core.atomic.check_output_path): never
    over the dataset, a session file of the snapshot or any of `inputs` (a cache entry…), never
    over a non-regular file.
    """
    from rap_nanochat.rap_prior import PriorFormatError, prior_bytes

    inputs = _inputs(source, inputs)
    target = check_output_path(path, inputs=inputs)
    artifact = build_artifact(source, alpha_init=alpha_init)
    try:
        data = prior_bytes(artifact, str(target), validated=True)  # make_prior did
    except PriorFormatError as exc:
        raise RapError(str(exc)) from None
    try:
        written = write_bytes_atomic(path, data, inputs=inputs)
    except OSError as exc:
        raise RapError(f"cannot write {target}: {exc.strerror or exc}; "
                       f"choose another path") from None
    return ExportResult(
        path=written,
        shape=tuple(artifact["bias"].shape),
        bias_sha256=artifact["bias_sha256"],
        layout=artifact["layout"],
        alpha_init=artifact["alpha_init"],
    )
