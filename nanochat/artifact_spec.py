"""The artifact's defaults, limits and the check of a user-chosen gate; standard library only.

Why a module of its own: the artifact format (`rap_prior.py`) needs torch, but the editor side
(`rap_core`, the TUI, `rap export`'s argument checks) must name the same defaults and refuse a bad
`--alpha-init` before any slow work, without importing torch. Each value is written here once;
the format module re-exports them.
"""

from __future__ import annotations

import math
from typing import Any

LAYOUTS = ("features", "lags")  # rap_core.layout builds them; the artifact records the name
DEFAULT_ALPHA_INIT = 1.0  # the gate's initial value when the user does not choose one
ALPHA_INIT_MAX = 100.0  # |alpha_init|; alpha * bias adds to attention logits


class PriorFormatError(ValueError):
    """A prior file (or a value for one) that cannot be used; the message is one line naming it."""


def check_alpha_init(value: Any, name: str = "alpha_init") -> float:
    """`value` as a float if it is a finite number with |value| <= ALPHA_INIT_MAX; else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or abs(value) > ALPHA_INIT_MAX:
        raise PriorFormatError(f"{name} must be a finite number between -{ALPHA_INIT_MAX:g} and "
                               f"{ALPHA_INIT_MAX:g} (the gate on the attention logits), "
                               f"got {value!r}")
    return float(value)
