"""The prior as an image (PNG or SVG): for a report, a paper or a pull request.

Used by `rap inspect --png/--svg FILE` and by the TUI's "Save prior image" command, so both draw
the same picture: B with labelled axes (position names; every k-th one when there are many), a
diverging colour map centred at 0 (red positive, blue negative, the same reading as the TUI), a
colour bar, and a title with the layout, the shape and the bias hash that identifies the prior.

Design choices:
- matplotlib's object API with the Agg canvas (`Figure` + `FigureCanvasAgg`), never pyplot: no
  global figure state, no display, safe from a worker thread of the TUI.
- The output path is checked like every other writer's (`rap_core.atomic.check_output_path`:
  never over an input, a directory, a device or a read-only file) before anything is drawn, and
  the bytes are written atomically, so a refused or failed write leaves the old file as it was.
- SVGs carry no date and a fixed id salt, so the same prior gives the same bytes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rap_core.atomic import check_output_path, write_bytes_atomic
from rap_core.errors import RapError

FORMATS = ("png", "svg")
MAX_TICKS = 40  # more position names than this overlap: name every k-th one


def image_format(path: str | os.PathLike, given: str | None = None) -> str:
    """The format to write: `given`, else the file's suffix; RapError for anything else."""
    fmt = (given or Path(path).suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise RapError(f"{path}: cannot tell the image format; give a file ending in .png or "
                       f".svg")
    return fmt


def _short(label: str, width: int = 14) -> str:
    return label if len(label) <= width else label[: width // 2] + "…" + label[-(width // 2 - 1):]


def render_prior(bias: np.ndarray, labels: Sequence[str], *, title: str, fmt: str = "png",
                 dpi: int = 110) -> bytes:
    """The image's bytes: B (L, L) with labelled axes and a colour map centred at 0."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matrix = np.asarray(bias, dtype=np.float64)
    length = matrix.shape[0]
    peak = float(np.abs(matrix).max()) if matrix.size else 0.0
    peak = peak if peak > 0 else 1.0
    side = min(12.0, 4.0 + 0.16 * min(length, MAX_TICKS))
    with matplotlib.rc_context({"svg.hashsalt": "rap-prior", "font.size": 8}):
        fig = Figure(figsize=(side + 1.6, side), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        shown = ax.imshow(matrix, cmap="RdBu_r", vmin=-peak, vmax=peak, interpolation="nearest")
        step = max(1, int(np.ceil(length / MAX_TICKS)))
        ticks = np.arange(0, length, step)
        names = [_short(str(labels[t])) for t in ticks]
        ax.set_xticks(ticks, names, rotation=90)
        ax.set_yticks(ticks, names)
        ax.set_xlabel("key position j")
        ax.set_ylabel("query position i")
        ax.set_title(title)
        bar = fig.colorbar(shown, ax=ax, shrink=0.8)
        bar.set_label("B (0 = white; red: co-activate more among positives)")
        out = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(out, format=fmt, dpi=dpi, metadata=metadata)
    return out.getvalue()


def bias_digest(bias: np.ndarray) -> str:
    """sha256 of the bias as contiguous float32 bytes, row-major: the artifact's `bias_sha256`
    (nanochat/rap_prior.py), computed without torch."""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(bias, dtype=np.float32).tobytes()).hexdigest()


def image_title(layout: str, shape: tuple[int, int], bias_sha256: str) -> str:
    return f"RAP prior · {layout} {shape[0]}×{shape[1]} · sha256 {bias_sha256[:16]}"


def save_prior_image(path: str | os.PathLike, bias: np.ndarray, labels: Sequence[str], *,
                     layout: str, bias_sha256: str, fmt: str | None = None,
                     inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Draw B and write it to `path` (checked first, written atomically); returns the path."""
    fmt = image_format(path, fmt)
    inputs = tuple(inputs)
    check_output_path(path, inputs, example=f"prior.{fmt}")
    data = render_prior(bias, labels, title=image_title(layout, tuple(bias.shape), bias_sha256),
                        fmt=fmt)
    try:
        return write_bytes_atomic(path, data, inputs=inputs)
    except OSError as exc:
        raise RapError(f"cannot write {path}: {exc.strerror or exc}; choose another path") \
            from None
