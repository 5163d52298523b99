"""Colours and glyphs of the prior's heatmap, derived from the Textual theme and the terminal.

Why here and not in the heatmap: the legend, the axis labels and the image export all read the
same ramp, and the choice of *how* to draw (colour half blocks or glyphs) depends on the terminal,
not on the data.

- `Palette`: a diverging ramp from the theme's background (0) to red (positive) and blue
  (negative). The ends are darker on a light theme and brighter on a dark one, so both ends stay
  readable against the background; the zero colour sits a step off the background so the extent
  of the matrix stays visible.
- `draw_mode`: "colour" (half blocks, 256 colours or more), "glyph" (one glyph per cell, coloured
  red/blue where the terminal has 16 colours: 16 colours turn a smooth ramp into grey mush), or
  "mono" (glyphs only: NO_COLOR or TERM=dumb). Glyphs carry sign and magnitude by shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rich.color import Color

POS_GLYPHS = " .+*#"
NEG_GLYPHS = " ,-=≡"
CURSOR_GLYPH = "╋"  # never a data glyph: the cursor cannot be read as a value


@dataclass(frozen=True)
class Palette:
    background: tuple[int, int, int]
    zero: tuple[int, int, int]
    positive: tuple[int, int, int]
    negative: tuple[int, int, int]
    dark: bool

    def rgb(self, t: float, dim: bool = False) -> tuple[int, int, int]:
        """The colour of a value t in [-1, 1] (dim: blended toward the background)."""
        end = self.positive if t >= 0 else self.negative
        a = min(1.0, abs(t))
        rgb = tuple(int(round(z + (e - z) * a)) for z, e in zip(self.zero, end, strict=True))
        if dim:
            rgb = tuple(int(0.45 * c + 0.55 * b) for c, b in zip(rgb, self.background,
                                                                    strict=True))
        return rgb


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


def make_palette(background: tuple[int, int, int]) -> Palette:
    lum = 0.2126 * background[0] + 0.7152 * background[1] + 0.0722 * background[2]
    dark = lum < 128
    if dark:
        positive, negative, toward = (255, 72, 52), (64, 150, 255), (255, 255, 255)
    else:
        positive, negative, toward = (190, 20, 30), (20, 80, 190), (0, 0, 0)
    return Palette(background, _mix(background, toward, 0.08), positive, negative, dark)


DARK = make_palette((24, 24, 32))


def theme_palette(app) -> Palette:
    """The palette for the app's current theme (the dark default when it cannot be read)."""
    try:
        value = app.get_css_variables().get("background")
        colour = Color.parse(value) if value else None
        triplet = colour.get_truecolor() if colour is not None else None
    except Exception:  # noqa: BLE001 - a theme we cannot read still gets a readable ramp
        return DARK
    if triplet is None:
        return DARK
    return make_palette((triplet.red, triplet.green, triplet.blue))


def draw_mode(app) -> str:
    """"colour", "glyph" (16 colours: glyphs tinted red/blue) or "mono" (NO_COLOR, TERM=dumb)."""
    if getattr(app, "no_color", False) or os.environ.get("TERM") == "dumb":
        return "mono"
    system = getattr(getattr(app, "console", None), "color_system", "truecolor")
    if system in (None, "standard", "windows"):
        return "glyph"
    return "colour"


def glyph(level: int, levels: int) -> str:
    """The ramp glyph of a quantised level in [-levels, levels]: shape says sign and size."""
    steps = len(POS_GLYPHS) - 1
    index = min(steps, -(-abs(level) * steps // levels))  # ceil: any nonzero value shows
    return (POS_GLYPHS if level >= 0 else NEG_GLYPHS)[index]


@dataclass(frozen=True)
class ChartColours:
    """Styles of the text charts (histogram, J curve); the defaults are ANSI names."""

    positive: str = "red"
    negative: str = "blue"
    marker: str = "bold yellow"
    bars: str = "cyan"
    chosen: str = "bold yellow"


def chart_colours(app) -> ChartColours:
    """The charts' colours from the current theme: positives in its error colour, negatives in
    its primary, the critical range and the chosen k in its warning colour. Light themes pick
    darker colours than dark ones, so the charts stay readable on both."""
    theme = getattr(app, "current_theme", None)
    if theme is None:
        return ChartColours()
    warning = theme.warning or "yellow"
    return ChartColours(positive=theme.error or "red", negative=theme.primary or "blue",
                        marker=f"bold {warning}", bars=theme.primary or "cyan",
                        chosen=f"bold {warning}")
