"""Natural order for names with numbers in them: V1, V2, …, V10 (not V1, V10, V2).

Feature and group names are sorted the way a person counts (the ranges table's feature and group
columns). Digit runs compare as integers and the rest case-insensitively; the split always starts
with a text part, so the keys of any two names compare part by part with matching types.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """A sort key: "V10_t2" -> ("v", 10, "_t", 2, ""), then the name itself to break ties."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if k % 2 else p.casefold() for k, p in enumerate(parts)), name
