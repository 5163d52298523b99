"""The status line: what is open, what the fit did, the edits and what the session file holds.

Why its own module: the line must fit any width without losing the save state, which a user needs
in order to trust that an edit is on disk. Variants are tried from the most complete to the most
compact, and the first that fits wins. The dataset's shape is shortened first ("3000 rows · 80
features" becomes "3000×80"), then the title and the shape go, and only then is the file name
cut with "…". The right part (edits and save state) is never cut.
"""

from __future__ import annotations

from rich.text import Text


def status_text(*, name: str | None, rows: int = 0, features: int = 0,
                fit: str | None = None, fit_style: str = "", right: Text | None = None,
                width: int = 80) -> Text:
    """The line for `width` cells: title · data · fit, then `right` (kept whole)."""
    right = right or Text()
    room = max(0, width - right.cell_len)
    datas = [None] if name is None else [f"{name} · {rows} rows · {features} features",
                                         f"{name} · {rows}×{features}", name]
    candidates = [(True, data) for data in datas] + [(False, data) for data in datas[1:]]
    for titled, data in candidates:
        left = _left(titled, data, fit, fit_style)
        if left.cell_len <= room:
            break
    else:
        left = _left(False, datas[-1], fit, fit_style)
        if left.cell_len > room and name is not None and fit is not None:
            # cut the name, keep the fit's words whole: "verylongna… · fit k=4"
            tail = _left(False, None, fit, fit_style)
            head = Text(name)
            head.truncate(max(1, room - tail.cell_len - 3), overflow="ellipsis")
            left = Text.assemble(head, " · ", tail) if tail.cell_len else head
        left.truncate(room, overflow="ellipsis")
    left.append_text(right)
    return left


def _left(titled: bool, data: str | None, fit: str | None, fit_style: str) -> Text:
    parts: list[Text] = []
    if titled:
        parts.append(Text("RAP Studio", style="bold"))
    if data:
        parts.append(Text(data))
    if fit:
        parts.append(Text(fit, style=fit_style))
    return Text(" · ").join(parts)
