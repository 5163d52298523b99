"""The bundled demo: data obeying a known rule, and a shipped fit that recovers exactly it."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from rap_core import fit_process
from rap_core.dataset import load_dataset
from rap_core.demo import (
    GROUND_TRUTH,
    demo_fit_path,
    demo_path,
    feature_names,
    generate_demo,
    ground_truth_label,
    write_demo_csv,
)
from rap_core.fit import FitParams
from rap_core.fit_process import load_or_fit
from rap_core.split import train_dataset

TRUTH = sorted(feature for feature, _, _ in GROUND_TRUTH)


@pytest.fixture(scope="module")
def demo():
    return load_dataset(demo_path())


@pytest.fixture
def no_cutlass(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("cutlass ran: the bundled demo fit was not used")

    monkeypatch.setattr(fit_process, "run_fit_in_child", refuse)


def test_demo_shape_and_prevalence(demo):
    assert demo.features == tuple(feature_names())
    assert demo.features[:2] == ("V1_t0", "V1_t1") and demo.features[-1] == "V10_t7"
    assert demo.n_rows == 3000 and demo.notes == ()
    assert 0.2 <= demo.n_positive / demo.n_rows <= 0.3
    assert demo_path().stat().st_size < 1.5e6


def test_shipped_data_obeys_the_ground_truth_exactly():
    frame = pd.read_csv(demo_path())
    np.testing.assert_array_equal(ground_truth_label(frame), frame["INDC"].to_numpy())
    for feature, lo, hi in GROUND_TRUTH:  # each range alone is weak: 65-75% of rows inside
        values = frame[feature]
        inside = values.between(-np.inf if lo is None else lo, np.inf if hi is None else hi)
        assert 0.65 <= inside.mean() <= 0.75, feature


def test_generator_reproduces_the_shipped_csv():
    shipped = pd.read_csv(demo_path())
    fresh = generate_demo()
    assert list(fresh.columns) == list(shipped.columns)
    np.testing.assert_allclose(fresh.to_numpy(), shipped.to_numpy(), rtol=0, atol=1e-4)


def test_bundled_fit_loads_instantly_and_recovers_the_rule(demo, no_cutlass):
    started = time.perf_counter()
    fit = load_or_fit(train_dataset(demo), FitParams())
    assert time.perf_counter() - started < 1.0
    assert fit.data_sha256 == train_dataset(demo).sha256 != demo.sha256, "a train-only fit"
    assert fit.adopted
    assert sorted(demo.features[i] for i in fit.votes) == TRUTH
    assert fit.j_curve[fit.k_chosen - 1] == pytest.approx(1.0)


def test_the_bundled_fit_generalises_to_the_held_out_rows(demo, no_cutlass):
    from rap_core.studio import Studio

    studio = Studio.from_fit(demo, load_or_fit(train_dataset(demo), FitParams()))
    held, train = studio.metrics("fitted"), studio.metrics("fitted", "train")
    assert studio.split.held_out.size == 1200 and studio.train.n_rows == 1800
    assert train.j == pytest.approx(1.0), "in-sample the demo rule is perfect"
    assert 0.95 < held.j < 1.0, "held-out, ranges learnt from fewer positives miss a few rows"


def test_an_all_rows_fit_is_not_served_as_the_bundled_train_fit(demo, no_cutlass):
    with pytest.raises(AssertionError, match="cutlass ran"):
        load_or_fit(demo, FitParams())


def test_bundled_ranges_hug_the_ground_truth(demo, no_cutlass):
    ranges = load_or_fit(train_dataset(demo), FitParams()).ranges
    for feature, lo, hi in GROUND_TRUTH:
        i = ranges.features.index(feature)
        for truth, learnt, inward in ((lo, ranges.rmin[i], 1), (hi, ranges.rmax[i], -1)):
            if truth is None:
                assert np.isnan(learnt), f"{feature}: open side should stay open"
            else:  # the positives' extreme: just inside the true bound
                assert 0 <= inward * (learnt - truth) < 0.05 * abs(truth) + 0.05, feature


def test_other_params_do_not_get_the_bundled_fit(demo, no_cutlass):
    with pytest.raises(AssertionError, match="cutlass ran"):
        load_or_fit(train_dataset(demo), FitParams(K=5.0))


@pytest.mark.parametrize("name", ["demo.csv", "demo.csv.gz"])
def test_written_demo_is_the_same_dataset(tmp_path, demo, no_cutlass, name):
    path = write_demo_csv(tmp_path / name)
    copy = load_dataset(path)
    assert copy.sha256 == demo.sha256, "the bundled fit must apply to `rap demo` output"
    assert load_or_fit(train_dataset(copy), FitParams()).adopted


def test_bundled_fit_file_is_strict_json():
    import json

    json.loads(demo_fit_path().read_text(), parse_constant=lambda c: pytest.fail(c))
