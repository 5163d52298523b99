"""Heatmap of the prior B, drawn with half blocks so one terminal line shows two matrix rows.

Design choices (after Textualize/toolong: draw only what is visible, cache what is expensive):
- The matrix is block-averaged to fit the widget: a block of `bs × bs` positions becomes one half
  cell. Colours span ±max|block mean| (stated in the legend), so a sparse prior whose block means
  are small still shows its structure; the cursor read-out gives the true value.
- The averages are taken over `bias_raw` (the unscaled prior), so a change of max|B| (a rescale)
  re-averages nothing: only the colour span (one max over the small block grid) is recomputed.
- An edit touches one row and one column of B (`Change.positions`): only the block row and block
  column holding each position are re-averaged, O(L · bs) each, never the whole matrix.
- `render_line` quantises one line of the cached averages (numpy) and reuses the painted strip
  when those levels are unchanged; styles are interned per quantised colour, and runs of equal
  style are merged into one Segment.
- The causal lower triangle (column <= row) is drawn at full strength; the upper triangle is
  dimmed toward the background, since a causal model never reads it.
- With NO_COLOR, TERM=dumb or 16 colours the sign would vanish in grey, so each cell becomes a
  glyph instead (one row per line): ". + * #" for positive and ", - = ≡" for negative magnitudes,
  tinted red/blue where the terminal has colours (tui.widgets.palette.draw_mode).
- Colours follow the Textual theme (tui.widgets.palette): 0 is near the theme's background.
- A block is `cell` half-lines high and `cell_w` columns wide: a mid-size prior (30 x 30 at 80
  columns) is stretched to the pane's width instead of drawn square in a third of it.
- The cursor is a glyph (╋, reverse video in glyph mode) that no value is ever drawn with, so it
  cannot be read as data in any colour depth; `0` and a resize keep it on the same position.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tui.widgets.palette import (
    CURSOR_GLYPH,
    DARK,
    NEG_GLYPHS,
    POS_GLYPHS,
    Palette,
    draw_mode,
    glyph,
    theme_palette,
)

LEVELS = 12  # colour steps per sign
MAX_STRETCH = 4  # a block is at most this many times wider than high (in screen cells)
_PLAIN = Style()  # never None: Textual's NO_COLOR filter needs a style
_CURSOR = Style(reverse=True, bold=True)
_GLYPH_TINT = {1: Style(color="red"), -1: Style(color="blue"),
               2: Style(color="bright_red", bold=True), -2: Style(color="bright_blue", bold=True)}


def diverging_rgb(level: int, dim: bool, palette: Palette = DARK) -> tuple[int, int, int]:
    """Blue (negative) - the theme's background (0) - red (positive); level in [-LEVELS, LEVELS]."""
    return palette.rgb(level / LEVELS, dim)


def quantise(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] (NaN = no data) -> int levels in [-LEVELS, LEVELS]; NaN -> 99."""
    with np.errstate(invalid="ignore"):
        q = np.rint(np.clip(values, -1.0, 1.0) * LEVELS)
    q = np.where(np.isnan(values), 99, q)
    return q.astype(np.int16)


def block_sums(sub: np.ndarray, bs: int, axis: int) -> np.ndarray:
    """Sum consecutive runs of `bs` along `axis` (the last run may be short)."""
    starts = np.arange(0, sub.shape[axis], bs)
    return np.add.reduceat(sub, starts, axis=axis, dtype=np.float64)


class Heatmap(Widget, can_focus=True):
    """Block-averaged view of an (L, L) matrix with a cursor, zoom and causal emphasis."""

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False, id="prior.up"),
        Binding("down", "move(1, 0)", "Down", show=False, id="prior.down"),
        Binding("left", "move(0, -1)", "Left", show=False, id="prior.left"),
        Binding("right", "move(0, 1)", "Right", show=False, id="prior.right"),
        Binding("pageup", "move(-10, 0)", show=False, id="prior.page_up"),
        Binding("pagedown", "move(10, 0)", show=False, id="prior.page_down"),
        Binding("z", "zoom(1)", "Zoom in", id="prior.zoom_in"),
        Binding("o", "zoom(-1)", "Zoom out", id="prior.zoom_out"),
        Binding("0", "zoom_fit", "Fit", show=False, id="prior.fit"),
    ]

    class CursorMoved(Message):
        """The cursor now covers rows r0..r1-1 and columns c0..c1-1 with this mean value."""

        def __init__(self, rows: tuple[int, int], cols: tuple[int, int], value: float) -> None:
            super().__init__()
            self.rows = rows
            self.cols = cols
            self.value = value

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._source: Callable[[], tuple[np.ndarray, float]] | None = None
        self._size_l = 0
        self.zoom = 0
        self.bs = 1
        self.cell = 1  # half-lines per block (small priors are drawn larger)
        self.cell_w = 1  # columns per block (mid-size priors are stretched to the pane's width)
        self._palette = DARK
        self._mode = "colour"
        self._avg: np.ndarray | None = None  # (nb, nb) block means of bias_raw
        self._counts: np.ndarray | None = None
        self._scale = 1.0
        self._vmax = 1.0
        self.cursor = (0, 0)  # block row, block column
        self.origin = (0, 0)  # first visible block row, column
        self._styles: dict[tuple[int, int, bool, bool], Style] = {}
        # Painted lines keyed by their quantised colours: after an edit most lines quantise to
        # the same levels as before, so only the lines whose colours changed are painted again.
        self._lines: dict[tuple, Strip] = {}

    # -- data -------------------------------------------------------------------------------
    def set_source(self, source: Callable[[], tuple[np.ndarray, float]]) -> None:
        """Point at a callable returning (bias_raw, scale); rebuilds every block."""
        self._source = source
        raw, _ = source()
        self._size_l = int(raw.shape[0])
        self._rebuild()

    def invalidate(self, positions: Iterable[int] = (), *, everything: bool = False) -> None:
        """Re-average only the block rows/columns holding `positions`, then repaint."""
        if self._source is None:
            return
        raw, scale = self._source()
        if everything or raw.shape[0] != self._size_l or self._avg is None:
            self._size_l = int(raw.shape[0])
            self._rebuild()
            return
        self._scale = scale
        bs, avg, counts = self.bs, self._avg, self._counts
        shown = self._shown_levels()
        for block in sorted({int(p) // bs for p in positions}):
            lo, hi = block * bs, min((block + 1) * bs, self._size_l)
            row = block_sums(raw[lo:hi, :].sum(axis=0, dtype=np.float64)[None, :], bs, 1)[0]
            col = block_sums(raw[:, lo:hi].sum(axis=1, dtype=np.float64)[:, None], bs, 0)[:, 0]
            avg[block, :] = row / counts[block, :]
            avg[:, block] = col / counts[:, block]
        self._set_vmax()
        self._refresh_changed_lines(shown)
        self._post_cursor()

    def _shown_levels(self) -> np.ndarray | None:
        """The quantised colour levels of the block rows on screen (what render_line paints)."""
        if self._avg is None or self.size.width <= 0:
            return None
        orow, ocol = self.origin
        rows, cols = self._visible()
        return quantise(self._avg[orow:orow + rows + 1, ocol:ocol + cols + 1] / self._vmax)

    def _refresh_changed_lines(self, before: np.ndarray | None) -> None:
        """Repaint only the screen lines whose colours changed: an edit re-averages one block
        row and column, and most of that column keeps its quantised level. Fewer lines mean less
        work in Textual's compositor for the same frame (P = 512: 38 lines -> typically a few)."""
        after = self._shown_levels()
        if before is None or after is None or before.shape != after.shape:
            self.refresh()
            return
        changed = np.flatnonzero((before != after).any(axis=1))
        if changed.size == 0:
            return
        per_line = self.rows_per_line
        width = self.size.width
        lines = {int(y) for r in changed.tolist()
                 for y in range(r * self.cell // per_line, (r + 1) * self.cell // per_line + 1)}
        self.refresh(*(Region(0, y, width, 1) for y in sorted(lines)
                       if 0 <= y < self.size.height))

    def _rebuild(self) -> None:
        assert self._source is not None
        raw, self._scale = self._source()
        self.bs = self._block_size()
        sums = block_sums(block_sums(raw, self.bs, 0), self.bs, 1)
        sizes = np.diff(np.append(np.arange(0, self._size_l, self.bs), self._size_l))
        self._counts = np.outer(sizes, sizes).astype(np.float64)
        self._avg = sums / self._counts
        self.cell = self._cell_size()
        self.cell_w = self._cell_width()
        self._lines.clear()
        self._set_vmax()
        nb = self._avg.shape[0]
        self.cursor = (min(self.cursor[0], nb - 1), min(self.cursor[1], nb - 1))
        self._follow_cursor()
        self.refresh()
        self._post_cursor()

    def _set_vmax(self) -> None:
        """Colours span ±max|block mean|: block means of a sparse prior are small, and scaling
        them by max|B| would paint them all as zero. The legend states the span."""
        peak = float(np.abs(self._avg).max()) if self._avg is not None and self._avg.size else 0.0
        self._vmax = peak if peak > 0 else 1.0

    @property
    def colour_span(self) -> float:
        """The value (in units of the normalised prior, max|B| = 1) of a full-strength colour."""
        return self._vmax / self._scale if self._scale > 0 else 0.0

    # -- geometry ---------------------------------------------------------------------------
    @property
    def palette(self) -> Palette:
        """The theme's ramp (read once per theme change: the CSS variables are not free)."""
        return self._palette

    @property
    def mode(self) -> str:
        """"colour", "glyph" or "mono" (tui.widgets.palette.draw_mode), per theme change."""
        return self._mode

    @property
    def rows_per_line(self) -> int:
        return 1 if self._mode != "colour" else 2

    def on_mount(self) -> None:
        self._theme_changed()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._theme_changed())

    def _theme_changed(self) -> None:
        """Colours (and the draw mode) follow the theme: repaint everything in the new ramp."""
        self._palette, self._mode = theme_palette(self.app), draw_mode(self.app)
        self._styles.clear()
        self._lines.clear()
        if self._source is not None:
            self._rebuild_keeping_cursor()

    def _fit_block_size(self) -> int:
        width = max(self.size.width, 8)
        height = max(self.size.height, 4) * self.rows_per_line
        cells = max(1, min(width, height))
        return max(1, math.ceil(self._size_l / cells)) if self._size_l else 1

    def _block_size(self) -> int:
        return max(1, self._fit_block_size() >> max(self.zoom, 0))

    @property
    def n_blocks(self) -> int:
        return 0 if self._avg is None else self._avg.shape[0]

    def _visible(self) -> tuple[int, int]:
        """How many block rows and columns fit on screen."""
        return (self.size.height * self.rows_per_line // self.cell,
                self.size.width // self.cell_w)

    def _cell_size(self) -> int:
        """Half-lines per block: > 1 only when even one position per cell leaves room."""
        if self.bs > 1 or self._size_l == 0:
            return 1
        room = min(self.size.width, self.size.height * self.rows_per_line)
        return max(1, room // self._size_l)

    def _cell_width(self) -> int:
        """Columns per block: the pane's width shared by the blocks, at most MAX_STRETCH times a
        block's height (half-lines are about as high as a column is wide)."""
        nb = self.n_blocks
        if nb == 0 or self.size.width <= 0:
            return 1
        return max(1, min(self.size.width // nb, MAX_STRETCH * self.cell))

    def _follow_cursor(self) -> None:
        rows, cols = self._visible()
        (cr, cc), (orow, ocol) = self.cursor, self.origin
        if rows > 0:
            orow = min(max(orow, cr - rows + 1), cr)
        if cols > 0:
            ocol = min(max(ocol, cc - cols + 1), cc)
        if self.rows_per_line == 2:
            orow -= orow % 2
        self.origin = (max(orow, 0), max(ocol, 0))

    def on_resize(self) -> None:
        if self._source is not None:
            self._rebuild_keeping_cursor()

    def _rebuild_keeping_cursor(self) -> None:
        """Rebuild for a new size or draw mode: the block size may change, the cursor's position
        must not."""
        position = self.cursor_position
        self._rebuild()
        if self.cursor_position != position:
            self.move_to(*position)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    # -- actions ----------------------------------------------------------------------------
    def action_move(self, drow: int, dcol: int) -> None:
        nb = self.n_blocks
        if nb == 0:
            return
        r = min(max(self.cursor[0] + drow, 0), nb - 1)
        c = min(max(self.cursor[1] + dcol, 0), nb - 1)
        self.cursor = (r, c)
        self._follow_cursor()
        self.refresh()
        self._post_cursor()

    def action_zoom(self, step: int) -> None:
        if self._source is None:
            return
        old_bs = self.bs
        centre = (self.cursor[0] * old_bs, self.cursor[1] * old_bs)
        new_zoom = max(0, self.zoom + step)
        if max(1, self._fit_block_size() >> new_zoom) == old_bs and step > 0:
            return  # already one position per cell
        self.zoom = new_zoom
        self.bs = self._block_size()
        self.cursor = (centre[0] // self.bs, centre[1] // self.bs)
        self._rebuild()

    def action_zoom_fit(self) -> None:
        """Show the whole prior again; the cursor stays on the position it was on."""
        position = self.cursor_position
        self.zoom = 0
        self.origin = (0, 0)
        if self._source is not None:
            self.bs = self._block_size()
            self.cursor = (position[0] // self.bs, position[1] // self.bs)
            self._rebuild()

    def block_means(self) -> np.ndarray | None:
        """What each cell shows: the block means of the unscaled prior, (n_blocks, n_blocks) —
        a copy (None before a prior is set)."""
        return None if self._avg is None else self._avg.copy()

    @property
    def cursor_position(self) -> tuple[int, int]:
        """The first (row, column) position under the cursor."""
        return self.cursor[0] * self.bs, self.cursor[1] * self.bs

    def move_to(self, row: int, col: int) -> None:
        """Put the cursor on the block holding position (row, col)."""
        nb = self.n_blocks
        if nb == 0:
            return
        self.cursor = (min(max(row // self.bs, 0), nb - 1), min(max(col // self.bs, 0), nb - 1))
        self._follow_cursor()
        self.refresh()
        self._post_cursor()

    def cursor_span(self) -> tuple[tuple[int, int], tuple[int, int], float]:
        r, c = self.cursor
        bs, size = self.bs, self._size_l
        value = float("nan")
        if self._avg is not None and self._scale > 0:
            value = float(self._avg[r, c] / self._scale)
        elif self._avg is not None:
            value = 0.0
        return ((r * bs, min((r + 1) * bs, size)), (c * bs, min((c + 1) * bs, size)), value)

    def _post_cursor(self) -> None:
        if self._avg is not None:
            rows, cols, value = self.cursor_span()
            self.post_message(self.CursorMoved(rows, cols, value))

    # -- painting ---------------------------------------------------------------------------
    def _style(self, top: int, bottom: int, dim_top: bool, dim_bottom: bool) -> Style:
        key = (top, bottom, dim_top, dim_bottom)
        style = self._styles.get(key)
        if style is None:
            palette = self._palette
            fg = None if top == 99 else Color.from_rgb(*diverging_rgb(top, dim_top, palette))
            bg = None if bottom == 99 else Color.from_rgb(*diverging_rgb(bottom, dim_bottom,
                                                                           palette))
            style = Style(color=fg, bgcolor=bg)
            self._styles[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._avg is None or width <= 0:
            return Strip.blank(width, _PLAIN)
        nb, cell = self.n_blocks, self.cell
        orow, ocol = self.origin
        cols = ocol + np.arange(width) // self.cell_w
        cols = cols[cols < nb]
        if self.rows_per_line == 1:
            return self._glyph_line(orow + y // cell, cols, width)
        top_r, bottom_r = orow + (2 * y) // cell, orow + (2 * y + 1) // cell
        if top_r >= nb or cols.size == 0:
            return Strip.blank(width, _PLAIN)
        scale = self._vmax
        top = quantise(self._avg[top_r, cols] / scale)
        if bottom_r < nb and bottom_r != top_r:
            bottom = quantise(self._avg[bottom_r, cols] / scale)
        elif bottom_r == top_r:
            bottom = top
        else:
            bottom = np.full(cols.size, 99, dtype=np.int16)
        cr, cc = self.cursor
        marker = cc if cr in (top_r, bottom_r) else -1
        mark = y == (cr - orow) * cell // 2  # a tall cursor cell shows its glyph once
        key = (top_r, bottom_r, int(cols[0]), width, cell, self.cell_w, marker, cr == top_r,
               mark, top.tobytes(), bottom.tobytes())
        cached = self._lines.get(key)
        if cached is not None:
            return cached
        if len(self._lines) > 4096:
            self._lines.clear()
        strip = self._lines[key] = self._paint(top, bottom, cols, top_r, bottom_r, width, mark)
        return strip

    def _paint(self, top: np.ndarray, bottom: np.ndarray, cols: np.ndarray, top_r: int,
               bottom_r: int, width: int, mark: bool = True) -> Strip:
        segments: list[Segment] = []
        run_style: Style | None = None
        run_len = 0
        cr, cc = self.cursor
        for i, col in enumerate(cols.tolist()):
            if col == cc and cr in (top_r, bottom_r):
                if run_len:
                    segments.append(Segment("▀" * run_len, run_style))
                    run_len = 0
                centre = (cc - self.origin[1]) * self.cell_w + self.cell_w // 2
                glyph_here = mark and i == centre
                segments.append(Segment(CURSOR_GLYPH if glyph_here else " ", self._cursor_style(
                    int(top[i] if cr == top_r else bottom[i]), col > cr)))
                run_style = None
                continue
            style = self._style(int(top[i]), int(bottom[i]), col > top_r, col > bottom_r)
            if style is run_style:
                run_len += 1
            else:
                if run_len:
                    segments.append(Segment("▀" * run_len, run_style))
                run_style, run_len = style, 1
        if run_len:
            segments.append(Segment("▀" * run_len, run_style))
        return Strip(segments).extend_cell_length(width, _PLAIN)

    def _cursor_style(self, level: int, dim: bool) -> Style:
        """The cursor cell: its value's colour behind a glyph in black or white, whichever
        contrasts; the glyph, not a colour, is what marks it."""
        rgb = self._palette.zero if level == 99 else diverging_rgb(level, dim, self._palette)
        light = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] > 128
        return Style(color="black" if light else "white", bgcolor=Color.from_rgb(*rgb), bold=True)

    def _glyph_line(self, row: int, cols: np.ndarray, width: int) -> Strip:
        if row >= self.n_blocks or cols.size == 0:
            return Strip.blank(width, _PLAIN)
        q = quantise(self._avg[row, cols] / self._vmax)
        cr, cc = self.cursor
        tinted = self._mode == "glyph"
        segments = []
        for level, col in zip(q.tolist(), cols.tolist(), strict=True):
            if cr == row and col == cc:
                first = (cc - self.origin[1]) * self.cell_w
                mark = glyph(level, LEVELS).strip() or CURSOR_GLYPH
                segments.append(Segment(mark if len(segments) == first else " ", _CURSOR))
                continue
            style = _PLAIN
            if tinted and level:
                style = _GLYPH_TINT[(1 if level > 0 else -1) * (2 if abs(level) > LEVELS // 2
                                                                else 1)]
            segments.append(Segment(glyph(level, LEVELS), style))
        return Strip(Segment.simplify(segments)).extend_cell_length(width, _PLAIN)


def legend_text(no_color: bool, span: float = 1.0, palette: Palette = DARK,
                steps: int = 2) -> list[tuple[str, Style | str]]:
    """A one-line legend: the colour (or glyph) ramp from -span to +span."""
    number = f"{span:.2g}".removeprefix("0")  # ".11": the legend shares 80 columns
    lo, hi = f"−{number} ", f" +{number}"
    if no_color:
        return [(lo + NEG_GLYPHS[::-1].strip() + " 0 " + POS_GLYPHS.strip() + hi, "")]
    parts: list[tuple[str, Style | str]] = [(lo, "")]
    for level in range(-LEVELS, LEVELS + 1, steps):
        parts.append(("█", Style(color=Color.from_rgb(*diverging_rgb(level, False, palette)))))
    parts.append((hi, ""))
    return parts
