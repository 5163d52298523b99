"""The inspector's words: which side made S, a vote that is off, the diagonal, outside votes."""

from __future__ import annotations

from rap_core.pair_stats import ClassCounts, PairStats
from tui.widgets.pair_inspector import CellInfo, head_line, reason_lines


def stats(*, s=-0.4, wi=1.0, wj=0.8, si=1, sj=1, i=0, j=1, statistic="cpmi"):
    pos = ClassCounts(127, 4, 127, 4, -0.17)
    neg = ClassCounts(214, 0, 83, 0, 0.25)
    return PairStats(i, j, "a", "b", si, sj, wi, wj, pos, neg, statistic, s, s * wi * wj,
                     s * wi * wj / 0.61)


def plain(lines) -> list[str]:
    return [line.plain for line in lines]


def test_a_negative_entry_names_the_negatives_and_the_product():
    st = stats()
    head = head_line(CellInfo("a", "b", st.b, 1, 1), st, 0.61).plain
    assert head.startswith("B a × b = ") and "= S -0.400 × w 1.00 × 0.80 ÷ 0.61" in head
    first, second = plain(reason_lines(st, True))
    assert first.startswith("positives both 4/127 (3%), each 127, 4, PMI −0.17")
    assert second.endswith("→ S < 0: more in negatives")


def test_off_votes_diagonal_and_outside_votes_are_said():
    assert plain(reason_lines(stats(wj=0.0), True))[1].endswith("→ B = 0: b is off")
    assert "by definition" in plain(reason_lines(stats(i=0, j=0), True))[0]
    assert plain(reason_lines(stats(si=-1, sj=-1), True))[0].endswith("· both vote outside")
    assert plain(reason_lines(stats(sj=-1), True))[0].endswith("· b votes outside")


def test_a_block_names_its_strongest_pair():
    st = stats()
    head = head_line(CellInfo("lag 1", "lag 2", 0.3, 1, 9), st, 0.61).plain
    assert "(sum of 9 pairs); strongest a × b" in head
    _, second = plain(reason_lines(st, False))
    assert "S -0.400 × w 1.00 × 0.80" in second
