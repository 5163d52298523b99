"""Axis labels of the prior's heatmap: position names along the top and down the left edge.

A heatmap of 30 features without names is a grid of colours; with them a user finds "mean_area"
at once. There is no room for every name, so each axis names the first and the last position on
screen and the cursor's position (highlighted), then as many others as fit without touching.
Long names are shortened in the middle (`abbreviate`): feature names often share a prefix
(`mean_`, `worst_`) or a suffix (`_t7`), and the ends are what tell them apart.

These widgets hold no state of their own: the Prior pane hands them the heatmap's geometry
(`AxisView`) and the labels after every cursor move, zoom or resize, and they draw that.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

_LABEL = Style(dim=True)
_CURSOR = Style(reverse=True, bold=True)
GUTTER_MAX = 10  # the left axis is at most this wide (it takes room from the heatmap)


def abbreviate(label: str, width: int) -> str:
    """`label` in at most `width` cells: head…tail when it does not fit."""
    if width <= 0:
        return ""
    if len(label) <= width:
        return label
    if width == 1:
        return "…"
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return label[:head] + "…" + (label[-tail:] if tail else "")


def gutter_width(labels: tuple[str, ...]) -> int:
    """Columns for the left axis: the longest name (and a space), at most GUTTER_MAX."""
    longest = max((len(s) for s in labels), default=0)
    return max(4, min(GUTTER_MAX, longest + 1))


@dataclass(frozen=True)
class AxisView:
    """What the axes need of the heatmap: which blocks sit where on screen."""

    bs: int  # positions per block
    cell: int  # half-lines per block (or lines, when rows_per_line is 1)
    cell_w: int  # columns per block
    rows_per_line: int  # 2 in half-block colour mode, 1 in glyph mode
    origin: tuple[int, int]  # first visible block row, column
    cursor: tuple[int, int]  # block row, column
    n_blocks: int
    width: int  # heatmap columns
    height: int  # heatmap lines

    @classmethod
    def of(cls, heatmap) -> AxisView:
        return cls(heatmap.bs, heatmap.cell, heatmap.cell_w, heatmap.rows_per_line,
                   heatmap.origin, heatmap.cursor, heatmap.n_blocks, heatmap.size.width,
                   heatmap.size.height)


def _place(buffer: list[str], styles: list[Style | None], start: int, text: str,
           style: Style, force: bool = False) -> bool:
    """Write `text` at `start` if those cells (and one either side) are free, or if forced."""
    end = start + len(text)
    if start < 0 or end > len(buffer) or not text:
        return False
    if not force and any(styles[k] is not None
                         for k in range(max(0, start - 1), min(len(buffer), end + 1))):
        return False
    buffer[start:end] = list(text)
    styles[start:end] = [style] * len(text)
    return True


def top_axis_text(view: AxisView, labels: tuple[str, ...], gutter: int) -> Text:
    """One line: column names at their columns, after `gutter` blank cells."""
    width = view.width
    buffer, styles = [" "] * width, [None] * width
    ocol, nb, cw = view.origin[1], view.n_blocks, view.cell_w
    last = min(nb - 1, ocol + max(1, width // cw) - 1)
    if nb == 0 or width <= 0 or not labels:
        return Text(" " * (gutter + width))

    def name(block: int) -> str:
        return labels[min(block * view.bs, len(labels) - 1)]

    def x_of(block: int) -> int:
        return (block - ocol) * cw

    cursor = view.cursor[1]
    room = max(4, min(12, width // 3))
    text = abbreviate(name(cursor), room)
    centre = x_of(cursor) + cw // 2
    _place(buffer, styles, min(max(0, centre - len(text) // 2), width - len(text)), text, _CURSOR,
           force=True)
    first = abbreviate(name(ocol), room)
    _place(buffer, styles, 0, first, _LABEL)
    end = abbreviate(name(last), room)
    _place(buffer, styles, min(width, x_of(last) + cw) - len(end), end, _LABEL)
    for block in range(ocol + 1, last):  # as many more as fit, left to right
        label = abbreviate(name(block), room)
        _place(buffer, styles, x_of(block) + cw // 2 - len(label) // 2, label, _LABEL)
    return _assemble(" " * gutter, buffer, styles)


def left_axis_text(view: AxisView, labels: tuple[str, ...], gutter: int) -> Text:
    """`view.height` lines: row names at their lines, right-aligned in `gutter - 1` cells."""
    lines = [""] * view.height
    kinds: list[Style | None] = [None] * view.height
    orow, nb, per_line = view.origin[0], view.n_blocks, view.rows_per_line
    if nb == 0 or not labels:
        return Text("\n".join(lines))
    room = gutter - 1

    def line_of(block: int) -> int:
        return (block - orow) * view.cell // per_line

    def name(block: int) -> str:
        return abbreviate(labels[min(block * view.bs, len(labels) - 1)], room)

    visible = [b for b in range(orow, nb) if 0 <= line_of(b) < view.height]
    if not visible:
        return Text("\n".join(lines))

    def put(block: int, style: Style, force: bool = False) -> None:
        y = line_of(block)
        gap = 1 if view.cell < per_line else 0  # two blocks per line: keep labels apart
        near = range(max(0, y - gap), min(view.height, y + gap + 1))
        if not force and any(kinds[k] is not None for k in near):
            return
        lines[y], kinds[y] = name(block), style

    put(view.cursor[0], _CURSOR, force=True)
    put(visible[0], _LABEL)
    put(visible[-1], _LABEL)
    for block in visible[1:-1]:
        put(block, _LABEL)
    text = Text(no_wrap=True, overflow="crop")
    for y, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if y:
            text.append("\n")
        text.append(line.rjust(room), style=kind or "")
    return text


def _assemble(prefix: str, buffer: list[str], styles: list[Style | None]) -> Text:
    text = Text(prefix, no_wrap=True, overflow="crop")
    run, run_style = "", None
    for ch, style in zip(buffer, styles, strict=True):
        if style is not run_style and run:
            text.append(run, style=run_style or "")
            run = ""
        run += ch
        run_style = style
    if run:
        text.append(run, style=run_style or "")
    return text


class TopAxis(Static):
    """Column names above the heatmap."""

    def show(self, view: AxisView, labels: tuple[str, ...], gutter: int) -> None:
        self.update(top_axis_text(view, labels, gutter), layout=False)


class LeftAxis(Static):
    """Row names beside the heatmap."""

    def show(self, view: AxisView, labels: tuple[str, ...], gutter: int) -> None:
        if self.styles.width is None or self.styles.width.value != gutter:
            self.styles.width = gutter
        self.update(left_axis_text(view, labels, gutter), layout=False)
