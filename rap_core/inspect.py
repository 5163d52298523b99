"""`rap inspect`: a validated prior summarised for a person at a terminal (or a CI log).

The heatmap is block-averaged to a fixed number of cells so any L fits a terminal, and it stays
readable without colour (NO_COLOR, CI logs): glyph density carries |value|, and +/- carry sign.
"""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.text import Text

POSITIVE_GLYPHS = " .+*#"
NEGATIVE_GLYPHS = " .-=%"


def block_average(matrix: np.ndarray, size: int) -> np.ndarray:
    """Average `matrix` (L, L) into at most (size, size) blocks of near-equal extent."""
    length = matrix.shape[0]
    cells = max(1, min(size, length))
    edges = np.linspace(0, length, cells + 1).round().astype(int)
    rows = np.add.reduceat(matrix.astype(np.float64), edges[:-1], axis=0)
    blocks = np.add.reduceat(rows, edges[:-1], axis=1)
    counts = np.diff(edges)
    return blocks / np.outer(counts, counts)


def heatmap_text(matrix: np.ndarray, size: int, *, color: bool) -> Text:
    blocks = block_average(matrix, size)
    peak = float(np.abs(blocks).max()) or 1.0
    text = Text()
    for row in blocks:
        for value in row:
            level = int(round(min(1.0, abs(value) / peak) * (len(POSITIVE_GLYPHS) - 1)))
            glyphs = POSITIVE_GLYPHS if value >= 0 else NEGATIVE_GLYPHS
            glyph = glyphs[level] * 2
            style = ("red" if value > 0 else "blue") if color and level > 0 else ""
            text.append(glyph, style=style)
        text.append("\n")
    return text


def top_pairs(bias: np.ndarray, labels: list[str], count: int = 5) -> list[tuple[str, str, float]]:
    """The strongest off-diagonal pairs (upper triangle), largest |value| first."""
    upper = np.triu(np.abs(bias), k=1)
    flat = np.argsort(upper, axis=None)[::-1][:count]
    pairs = []
    for index in flat:
        i, j = np.unravel_index(index, bias.shape)
        if upper[i, j] > 0:
            pairs.append((labels[i], labels[j], float(bias[i, j])))
    return pairs


def describe_artifact(artifact: dict, path, *, size: int = 24,
                      console: Console | None = None) -> None:
    console = console or Console(highlight=False, soft_wrap=True)
    bias = artifact["bias"].numpy()
    labels = list(artifact["labels"])
    source = artifact.get("source", {})
    length = bias.shape[0]
    nonzero = int(np.count_nonzero(bias))
    console.print(f"{path}: RAP artifact v{artifact['version']}  layout {artifact['layout']}  "
                  f"{length}x{length}  statistic {artifact.get('statistic', '?')}")
    console.print(f"  hash verified: bias_sha256 {artifact['bias_sha256']}")
    console.print(f"  scale {artifact['scale']:.6g}  alpha_init {artifact['alpha_init']:g}  "
                  f"range [{bias.min():.3f}, {bias.max():.3f}]  non-zero {nonzero}/{bias.size}")
    shown = ", ".join(labels[:6]) + (", …" if length > 6 else "")
    console.print(f"  positions: {shown}")
    console.print(f"  source: data {str(source.get('data_sha256', '?'))[:12]}…  "
                  f"rows {source.get('rows', '?')}  target {source.get('target', '?')}  "
                  f"cutlass {source.get('cutlass_version', '?')}  edits {source.get('edits', 0)}")
    votes = artifact.get("rules", [])
    console.print(f"  votes ({len(votes)}): " + ", ".join(
        f"{v['feature']}{'' if v['sign'] > 0 else ' (outside)'} ×{v['weight']:g}" for v in votes))
    pairs = top_pairs(bias, labels)
    if pairs:
        console.print("  strongest pairs: " + ", ".join(
            f"{a}·{b} {value:+.3f}" for a, b, value in pairs))
    cells = min(size, length)
    console.print(f"  heatmap ({cells}x{cells} blocks; '+*#' positive, '-=%' negative):")
    console.print(heatmap_text(bias, size, color=not console.no_color))
