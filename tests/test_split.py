"""The split (rap_core.split): stratified, seeded, deterministic, recorded; fits see train only;
the Studio says what the fit did when the logic polish was not adopted."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import make_small_frame

from rap_core import cache
from rap_core.dataset import dataset_from_frame
from rap_core.errors import RapError
from rap_core.eval_task import make_split as eval_make_split
from rap_core.fit import Fit, FitParams, cutlass_version
from rap_core.metrics import MetricsEngine
from rap_core.ranges import indicators, rectify
from rap_core.split import SPLIT_SEED, make_split, train_dataset
from rap_core.studio import Studio


@pytest.fixture(scope="module")
def dataset():
    return dataset_from_frame(make_small_frame(n=1000), name="small.csv")


def hand_fit(data, *, adopted=True, coef=None, intercept=None):
    """A fit of `data` made by hand (no cutlass in unit tests): the AND of A_t1 and C_t3."""
    ranges = rectify(data)
    p = data.n_features
    truth = [data.features.index("A_t1"), data.features.index("C_t3")]
    if coef is None:
        coef = np.zeros(p)
        coef[truth] = 10.0
    return Fit(params=FitParams(Cs=3), ranges=ranges, l1_coef=np.asarray(coef) / 5,
               l1_intercept=-0.5, coef=np.asarray(coef, dtype=np.float64),
               intercept=-10.0 if intercept is None else intercept, adopted=adopted, K=10.0,
               j_curve=np.array([0.4, 0.9]), j_order=tuple(truth) + tuple(
                   i for i in range(p) if i not in truth), k_chosen=2, j0=0.8, C=0.1,
               data_sha256=data.sha256, cutlass_version=cutlass_version())


def test_split_is_stratified_and_a_partition():
    y = np.r_[np.ones(130, np.int8), np.zeros(870, np.int8)]
    split = make_split(y)
    parts = [split.pool, split.val, split.test]
    rows = np.concatenate(parts)
    assert np.array_equal(np.sort(rows), np.arange(y.size)), "every row in exactly one part"
    for part, share in zip(parts, (0.60, 0.15, 0.25), strict=True):
        assert part.size == pytest.approx(share * y.size, abs=2)
        assert y[part].mean() == pytest.approx(0.13, abs=0.01), "each part keeps the prevalence"
    assert np.array_equal(split.held_out, np.sort(np.r_[split.val, split.test]))


def test_split_is_seeded_and_deterministic():
    y = (np.arange(500) % 4 == 0).astype(np.int8)
    a, b = make_split(y), make_split(y)
    assert a.seed == SPLIT_SEED
    for x, z in ((a.pool, b.pool), (a.val, b.val), (a.test, b.test)):
        assert np.array_equal(x, z)
    other = make_split(y, seed=SPLIT_SEED + 1)
    assert not np.array_equal(a.pool, other.pool), "the seed decides the rows"


def test_rap_eval_and_the_studio_use_one_split(dataset):
    """One word, one meaning: `rap eval`'s split is the Studio's, and its largest training
    size is the Studio's training rows."""
    assert eval_make_split is make_split
    assert np.array_equal(train_dataset(dataset).y, dataset.y[make_split(dataset.y).pool])


def test_the_fit_sees_the_training_rows_only(dataset):
    train = train_dataset(dataset)
    split = make_split(dataset.y)
    assert train.n_rows == split.pool.size < dataset.n_rows
    np.testing.assert_array_equal(train.X, dataset.X[split.pool])
    held = {row.tobytes() for row in dataset.X[split.held_out]}
    assert not held & {row.tobytes() for row in train.X}, "no held-out row is a training row"
    # The cache key is the train rows' fingerprint: an all-rows fit is never served for it.
    params = FitParams().to_dict()
    assert (cache.fit_key(train.sha256, params, "0.9") != cache.fit_key(dataset.sha256, params,
                                                                         "0.9"))


def test_an_all_rows_fit_is_refused(dataset):
    with pytest.raises(RapError, match="saw every row of small.csv, held-out rows included"):
        Studio.from_fit(dataset, hand_fit(dataset))


def test_held_out_and_train_metrics_differ_in_rows(dataset):
    studio = Studio.from_fit(dataset, hand_fit(train_dataset(dataset)))
    held, train = studio.metrics("current"), studio.metrics("current", "train")
    for rows, got in ((studio.split.held_out, held), (studio.split.pool, train)):
        expected = MetricsEngine(indicators(dataset.X[rows], studio.ranges),
                                 dataset.y[rows]).evaluate(studio.rule)
        assert got == expected, "each column is measured on exactly its rows"
    assert held.k == train.k == 2
    assert held != train, "measured on other rows"
    with pytest.raises(RapError, match="unknown rows"):
        studio.metrics("current", "all")


def test_the_split_is_recorded_in_sessions_and_artifacts(dataset, tmp_path):
    studio = Studio.from_fit(dataset, hand_fit(train_dataset(dataset)))
    path = studio.save_session(tmp_path / "s.json")
    recorded = json.loads(path.read_text())["split"]
    assert recorded == {"seed": SPLIT_SEED, "stratified": True,
                        "shares": {"train": 0.6, "validation": 0.15, "test": 0.25},
                        "rows": {"train": 600, "validation": 150, "test": 250}}
    from rap_core.export import export_source, source_payload

    assert source_payload(export_source(studio))["split"] == recorded


def test_header_says_when_the_polish_was_not_adopted(dataset):
    train = train_dataset(dataset)
    coef = np.zeros(dataset.n_features)
    coef[[0, 3, 5]] = [1.5, -0.75, 0.5]
    studio = Studio.from_fit(dataset, hand_fit(train, adopted=False, coef=coef, intercept=-0.2))
    assert studio.fit_note() == "m-of-k not adopted: showing the L1 model, 3 votes"
    assert studio.rule_header() == (f"m-of-k not adopted: showing the L1 model, 3 votes · "
                                    f"K=1.5 m={studio.rule.m:g}")
    assert studio.metrics("fitted").k == 3, "k is the votes shown, not the polish's k"
    adopted = Studio.from_fit(dataset, hand_fit(train))
    assert adopted.fit_note() == "m-of-k rule, k=2" and adopted.rule_header() == "Rule K=10 m=2"
    off = dataclasses.replace(hand_fit(train, adopted=False, coef=coef),
                              params=FitParams(Cs=3, logic_polish=False))
    assert Studio.from_fit(dataset, off).fit_note().startswith("logic polish off")


def test_the_provisional_rule_is_labelled_provisional(dataset):
    studio = Studio.provisional(dataset, rectify(train_dataset(dataset)))
    assert studio.rule_header().startswith("Provisional rule (not fitted yet)")
    assert studio.fit_note().startswith("provisional rule")


def test_rap_rules_prints_held_out_then_train(capsys):
    from rap_core.cli import main
    from rap_core.demo import demo_path

    assert main(["rules", str(demo_path())]) == 0
    out = capsys.readouterr().out.splitlines()
    held = next(i for i, line in enumerate(out) if line.startswith("held-out (1200 rows) J"))
    assert out[held + 1].startswith("train (1800 rows)    J 1.000")
    assert "fit: m-of-k rule, k=4" in out and any(line.startswith("Rule K=10 m=4: all of:")
                                                   for line in out)
