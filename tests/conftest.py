"""Shared test footing: isolated user directories, no animations, one small deterministic dataset.

Every test runs with its own XDG cache/state directories, so no test reads a fit cache or a session
left by another test or by the developer's real use of the app.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    # The heatmap draws glyphs in 16 colours (tui.widgets.palette.draw_mode), and Rich infers the
    # colour depth from TERM/COLORTERM: pin a modern terminal so screens do not depend on the shell.
    monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


def make_small_frame(n: int = 400, seed: int = 7) -> pd.DataFrame:
    """3 variables x 4 lags; INDC holds iff A_t1 in [-0.6, 1.2] and C_t3 > -0.4 (no label noise)."""
    rng = np.random.default_rng(seed)
    columns = {}
    for var in ("A", "B", "C"):
        level = rng.normal(size=n)
        for lag in range(4):
            level = 0.6 * level + 0.8 * rng.normal(size=n)
            columns[f"{var}_t{lag}"] = np.round(level, 4)
    frame = pd.DataFrame(columns)
    inside = frame["A_t1"].between(-0.6, 1.2) & (frame["C_t3"] > -0.4)
    frame["INDC"] = inside.astype(int)
    return frame


@pytest.fixture
def small_frame() -> pd.DataFrame:
    return make_small_frame()


@pytest.fixture
def small_csv(tmp_path, small_frame):
    path = tmp_path / "small.csv"
    small_frame.to_csv(path, index=False)
    return path
