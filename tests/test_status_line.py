"""The status line fits any width and never cuts what the session file holds."""

from __future__ import annotations

import pytest
from rich.text import Text

from tui.status_line import status_text

RIGHT = Text(" · ● 3 edits · saved")


def line(width: int, name: str = "demo.csv.gz") -> str:
    return status_text(name=name, rows=3000, features=80, fit="fit k=4", right=RIGHT,
                       width=width).plain


def test_wide_terminals_get_every_word():
    assert line(120) == ("RAP Studio · demo.csv.gz · 3000 rows · 80 features · fit k=4"
                         " · ● 3 edits · saved")


def test_at_80_columns_the_shape_shortens_and_nothing_is_cut():
    assert line(78) == "RAP Studio · demo.csv.gz · 3000×80 · fit k=4 · ● 3 edits · saved"


@pytest.mark.parametrize("width", [40, 50, 60, 78, 100])
def test_the_save_state_and_the_fit_always_show(width):
    text = line(width, name="a_really_long_registry_table_name_2024_v3.parquet")
    assert len(text) <= width
    assert text.endswith("fit k=4 · ● 3 edits · saved"), text


def test_without_data_only_the_title_shows():
    assert status_text(name=None, right=Text(" · read-only"), width=80).plain == (
        "RAP Studio · read-only")


def test_a_long_rule_sentence_is_cut_at_a_word_with_an_ellipsis():
    from rich.console import Console

    from tui.widgets.rules_pane import fit_lines

    sentence = Text(", ".join(f"V{i}_t{i % 8} in [0.{i}1, 1.{i}9]" for i in range(60)))
    for width in (78, 118, 198):
        shown = [line.plain for line in fit_lines(sentence, width, 3, Console(width=width))]
        assert len(shown) == 3 and all(len(line) <= width for line in shown), width
        assert shown[-1].endswith(" …"), shown[-1]
        assert shown[-1][:-2].split()[-1] in sentence.plain.split(), "cut at a whole word"
    short = "\n".join(line.plain for line in fit_lines(Text("all of: V1_t0 ≥ 2"), 78, 3,
                                                     Console(width=78)))
    assert short == "all of: V1_t0 ≥ 2", "a short sentence is left alone"
