"""Critical ranges in the dataset's own column order, and indicators identical to cutlass's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from cutlass import Rectifier

from rap_core.dataset import dataset_from_frame
from rap_core.fit import FitParams
from rap_core.ranges import (
    Ranges,
    format_range,
    indicators,
    inside_rates,
    rectify,
    split_feature_name,
)


def shuffled_frame(small_frame: pd.DataFrame) -> pd.DataFrame:
    """Columns interleaved across groups, so cutlass's group order differs from the file's."""
    order = ["C_t3", "A_t0", "B_t2", "A_t1", "C_t0", "B_t0", "A_t3", "C_t1", "B_t3", "A_t2",
             "C_t2", "B_t1", "INDC"]
    return small_frame[order]


def rectifier_indicators(data, sdfilter=3.0, snap=0.001) -> np.ndarray:
    """cutlass's own transform, columns put back into the dataset's order."""
    rect = Rectifier(sdfilter=sdfilter, snap=snap).fit(data.frame(), data.y)
    theirs = np.asarray(rect.transform(data.frame()))
    position = {name: i for i, name in enumerate(rect.feature_names_)}
    return theirs[:, [position[f] for f in data.features]]


@pytest.mark.parametrize("params", [FitParams(), FitParams(sdfilter=None, snap=0.05)])
def test_indicators_equal_rectifier_transform(small_frame, params):
    data = dataset_from_frame(shuffled_frame(small_frame), name="s.csv")
    ranges = rectify(data, params)
    ours = indicators(data.X, ranges)
    assert ours.dtype == np.int8
    expected = rectifier_indicators(data, params.sdfilter, params.snap)
    np.testing.assert_array_equal(ours, expected, err_msg="indicators differ from cutlass")


def test_indicators_on_new_rows_and_bounds():
    ranges = Ranges(features=("a", "b"), groups=("a", "b"), lags=(None, None),
                    rmin=np.array([0.0, np.nan]), rmax=np.array([1.0, 2.0]))
    X = np.array([[0.0, -1e9], [1.0, 2.0], [-0.001, 2.001], [1.5, 0.0]])
    np.testing.assert_array_equal(indicators(X, ranges), [[1, 1], [1, 1], [-1, -1], [-1, 1]])


def test_ranges_follow_the_file_order_and_name_their_groups(small_frame):
    data = dataset_from_frame(shuffled_frame(small_frame), name="s.csv")
    ranges = rectify(data, FitParams())
    assert ranges.features == data.features
    a_t1 = ranges.features.index("A_t1")
    assert (ranges.groups[a_t1], ranges.lags[a_t1]) == ("A_t", 1)
    # The label rule is A_t1 in [-0.6, 1.2]: the range hugs it from inside.
    assert -0.6 <= ranges.rmin[a_t1] < -0.5 and 1.1 < ranges.rmax[a_t1] <= 1.2


def test_ranges_json_round_trip_keeps_open_sides(small_frame):
    ranges = rectify(dataset_from_frame(small_frame, name="s.csv"), FitParams())
    ranges = Ranges(ranges.features, ranges.groups, ranges.lags, ranges.rmin.copy(),
                    ranges.rmax.copy())
    ranges.rmax[0] = np.nan
    back = Ranges.from_json_dict(ranges.to_json_dict())
    assert back.features == ranges.features and back.lags == ranges.lags
    np.testing.assert_array_equal(back.rmin, ranges.rmin)
    np.testing.assert_array_equal(back.rmax, ranges.rmax)  # NaN == NaN here


def test_inside_rates_separate_the_rule_features(small_frame):
    data = dataset_from_frame(small_frame, name="s.csv")
    pos, neg = inside_rates(indicators(data.X, rectify(data)), data.y)
    assert np.all(pos > 0.98)  # ranges come from the positives (sdfilter trims a few)
    c_t3 = data.features.index("C_t3")
    assert neg[c_t3] < 0.6 < neg[data.features.index("B_t0")]


@pytest.mark.parametrize("name, expected", [
    ("V3_t7", ("V3_t", 7)), ("V10_t0", ("V10_t", 0)), ("X12", ("X", 12)),
    ("age", ("age", None)), ("7", ("", 7)),
])
def test_split_feature_name_follows_cutlass_prefix_rule(name, expected):
    assert split_feature_name(name) == expected


def test_format_range():
    assert format_range(0.41, 0.97) == "[0.41, 0.97]"
    assert format_range(math.nan, 4.1914) == "(−∞, 4.191]"
    assert format_range(195.0282, math.nan) == "[195, +∞)"
    assert format_range(math.nan, math.nan) == "(−∞, +∞)"
