"""The Studio facade: edits, undo/redo, autosave and replay give exactly the prior a rebuild gives.

What a user relies on: undo really returns to the previous state (same rule, same B bytes, same
metrics); a session reopened later shows the identical prior; every edit is on disk at once; a
session made for other data is refused.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_small_frame

from rap_core.dataset import dataset_from_frame
from rap_core.edits import Edit, flip, nudge
from rap_core.errors import RapError
from rap_core.export import export_prior, export_source
from rap_core.fit import Fit, FitParams, cutlass_version
from rap_core.layout import make_layout
from rap_core.prior import build_prior
from rap_core.ranges import rectify, split_feature_name
from rap_core.session import Session, save_session
from rap_core.split import train_dataset
from rap_core.studio import Studio

K = 10.0


@pytest.fixture(scope="module")
def dataset():
    return dataset_from_frame(make_small_frame(), name="small.csv")


@pytest.fixture(scope="module")
def fit(dataset):
    """A polished AND of the two ground-truth features (hand-made: no cutlass fit in tests),
    of the training rows, as every Studio fit is."""
    train = train_dataset(dataset)
    ranges = rectify(train)
    coef = np.zeros(dataset.n_features)
    truth = [dataset.features.index("A_t1"), dataset.features.index("C_t3")]
    coef[truth] = K
    p = dataset.n_features
    return Fit(params=FitParams(Cs=3), ranges=ranges, l1_coef=coef / 5, l1_intercept=-0.5,
               coef=coef, intercept=-K * (2 * 2 - 2 - 1), adopted=True, K=K,
               j_curve=np.array([0.4, 0.9]), j_order=tuple(truth) + tuple(
                   i for i in range(p) if i not in truth), k_chosen=2, j0=0.8, C=0.1,
               data_sha256=train.sha256, cutlass_version=cutlass_version())


def state(studio):
    return (studio.bias_raw().tobytes(), studio.bias().tobytes(), studio.scale,
            studio.metrics("current"), studio.rule_text())


def rebuilt(studio, layout="features"):
    lags = [split_feature_name(f)[1] for f in studio.dataset.features]
    return build_prior(studio.counts, studio.rule.sign, studio.rule.effective_weights(),
                       make_layout(layout, studio.dataset.features, lags), studio.statistic)


EDITS = [Edit("weight", "A_t1", 2.5), Edit("enable", "B_t2", True), Edit("sign", "C_t3", -1),
         Edit("m", None, 1), Edit("K", None, 3.0), Edit("enable", "A_t1", False),
         Edit("weight", "B_t2", 0.75)]


def test_opening_a_fit_shows_its_rule(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    assert studio.rule_text().startswith("all of: A_t1 in [")
    metrics = studio.metrics()
    assert metrics.k == 2 and metrics.j > 0.9, "the ground-truth rule classifies the data"
    assert studio.bias().shape == (12, 12) and np.abs(studio.bias()).max() == 1.0
    np.testing.assert_array_equal(studio.j_curve("train"), [0.4, 0.9])  # cutlass's own curve
    held = studio.j_curve()  # the same top-k rules on the held-out rows
    assert studio.j_curve_rows == "held_out" and held.shape == (2,) and held[1] > 0.9


def test_has_j_curve_says_whether_the_held_out_curve_is_computed(dataset, fit):
    # The app draws the rule first and the held-out curve when it is computed: it asks this.
    studio = Studio.from_fit(dataset, fit)
    assert not studio.has_j_curve(1) and not studio.has_j_curve()
    studio.j_curve(length=1)
    assert studio.has_j_curve(1) and not studio.has_j_curve(2), "a prefix is not the curve"
    studio.j_curve()
    assert studio.has_j_curve() and studio.has_j_curve(10)


def test_a_j_curve_prefix_is_the_start_of_the_whole_curve(dataset, fit):
    """A chart asks for the bars it can show; the prefix is the same numbers, and a longer
    request after a shorter one extends it."""
    whole = Studio.from_fit(dataset, fit).j_curve()
    studio = Studio.from_fit(dataset, fit)
    np.testing.assert_array_equal(studio.j_curve(length=1), whole[:1])
    np.testing.assert_array_equal(studio.j_curve(length=10), whole)
    np.testing.assert_array_equal(studio.j_curve("train", length=1), [0.4])


def test_edits_keep_the_prior_equal_to_a_rebuild(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    for edit in EDITS:
        studio.apply(edit)
        assert np.array_equal(studio.bias_raw(), rebuilt(studio)), f"after {edit}"
    studio.set_layout("lags")
    assert studio.labels() == tuple(f"lag {t}" for t in range(4))
    assert np.array_equal(studio.bias_raw(), rebuilt(studio, "lags"))


def test_undo_and_redo_restore_identical_state(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    states = [state(studio)]
    rules = [studio.rule]
    for edit in EDITS:
        studio.apply(edit)
        states.append(state(studio))
        rules.append(studio.rule)
    for i in range(len(EDITS), 0, -1):
        assert studio.undo() is not None
        assert state(studio) == states[i - 1], f"undo of {EDITS[i - 1]} is not exact"
        assert studio.rule.same_as(rules[i - 1])
    assert studio.undo() is None and not studio.can_undo and studio.can_redo
    for i in range(1, len(EDITS) + 1):
        studio.redo()
        assert state(studio) == states[i]
    assert studio.redo() is None and studio.edits == tuple(EDITS)


def test_a_new_edit_clears_redo(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    studio.apply(EDITS[0])
    studio.undo()
    studio.apply(EDITS[1])
    assert not studio.can_redo and studio.edits == (EDITS[1],)


def test_a_vote_edit_names_its_vote_and_its_prior_row(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    studio.bias_raw()  # B on screen (B is built when first read: the next test)
    a = dataset.features.index("A_t1")
    change = studio.apply(Edit("weight", "A_t1", 2.0))
    assert change.votes == (a,) and change.positions == (a,)
    assert change.rescaled and change.rule_changed and not change.params


def test_the_prior_is_counted_when_first_read_and_equals_one_kept_through_the_edits(
        dataset, fit, monkeypatch):
    """Opening counts nothing (the first screen shows the rule and its metrics: a 5,000 x 1,000
    table opened ~30 % sooner); edits made before B is read change only the rule; B then built
    is bitwise the B kept through the same edits, in the layout chosen meanwhile."""
    from rap_core.statistic import CoactivationCounts

    counted = []
    count = CoactivationCounts.from_indicators.__func__
    monkeypatch.setattr(CoactivationCounts, "from_indicators",
                        classmethod(lambda cls, *a: counted.append(1) or count(cls, *a)))
    late, kept = Studio.from_fit(dataset, fit), Studio.from_fit(dataset, fit)
    assert counted == [], "opening counted the co-activations"
    kept.bias_raw()
    assert counted == [1]
    for edit in EDITS:
        change = late.apply(edit)
        assert change.positions == () and not change.rescaled  # no B yet: nothing of it moved
        kept.apply(edit)
    late.set_layout("lags")
    kept.set_layout("lags")
    assert late.layout == "lags" and counted == [1]
    assert late.bias_raw().tobytes() == kept.bias_raw().tobytes()
    assert late.labels() == kept.labels() and late.scale == kept.scale
    assert counted == [1, 1]


def test_an_m_edit_changes_the_metrics_but_not_the_prior(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    before = studio.bias_raw().tobytes()
    change = studio.apply(Edit("m", None, 1))
    assert change.params and change.votes == () and change.positions == ()
    assert not change.prior_changed
    assert studio.bias_raw().tobytes() == before, "m does not enter the prior"
    assert studio.metrics("current") != studio.metrics("previous"), "m changes the metrics"
    assert studio.metrics("previous").tpr <= studio.metrics("current").tpr


def test_an_edit_while_b_is_counted_on_another_thread_goes_on_and_is_in_b(dataset, fit,
                                                                          monkeypatch):
    """The app counts B on a thread after the first frame: a key pressed meanwhile must not wait
    for the counts, and its edit must be in the B that results."""
    import threading

    from rap_core.statistic import CoactivationCounts

    started, release = threading.Event(), threading.Event()
    count = CoactivationCounts.from_indicators.__func__

    def slow(cls, *args):
        started.set()
        release.wait(10)
        return count(cls, *args)

    monkeypatch.setattr(CoactivationCounts, "from_indicators", classmethod(slow))
    late, kept = Studio.from_fit(dataset, fit), Studio.from_fit(dataset, fit)
    builder = threading.Thread(target=late.bias_raw)
    builder.start()
    assert started.wait(10)
    edited = threading.Event()
    editor = threading.Thread(target=lambda: (late.apply(EDITS[0]), edited.set()))
    editor.start()
    assert edited.wait(5), "the edit waited for the counts"
    release.set()
    builder.join(10)
    editor.join(10)
    kept.bias_raw()
    kept.apply(EDITS[0])
    assert late.bias_raw().tobytes() == kept.bias_raw().tobytes()


def test_undo_names_the_same_vote_as_the_edit(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    studio.bias_raw()  # B on screen
    a = dataset.features.index("A_t1")
    studio.apply(flip(studio.rule, "A_t1"))
    change = studio.undo()
    assert change.votes == (a,) and change.positions == (a,)


def test_a_layout_switch_is_a_relayout_change(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    change = studio.set_layout("lags")
    assert change.relayout and change.positions == tuple(range(4)) and not change.rule_changed
    assert studio.set_layout("lags").empty, "the same layout again changes nothing"


def test_previous_and_fitted_metrics(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    fitted = studio.metrics("fitted")
    studio.apply(flip(studio.rule, "A_t1"))
    studio.apply(Edit("K", None, 5.0))
    assert studio.metrics("previous") == studio.metrics("current"), "K does not change decisions"
    assert studio.metrics("fitted") == fitted and studio.metrics("current").j < fitted.j
    with pytest.raises(RapError, match="unknown metrics"):
        studio.metrics("best")


def test_autosave_writes_every_edit_and_reopening_replays_it(dataset, fit, tmp_path):
    path = tmp_path / "session.json"
    studio = Studio.from_fit(dataset, fit, session_path=path)
    assert not path.exists(), "opening alone writes nothing"
    for n, edit in enumerate(EDITS[:4], start=1):
        studio.apply(edit)
        studio.flush()  # autosave runs on a writer thread; flush waits for it
        saved = json.loads(path.read_text())
        assert len(saved["edits"]) == n and Edit.from_json(saved["edits"][-1]) == edit
    studio.undo()
    studio.flush()
    saved = json.loads(path.read_text())
    assert len(saved["edits"]) == 3 and [Edit.from_json(e) for e in saved["redo"]] == [EDITS[3]]

    again = Studio.from_fit(dataset, fit, session_path=path)
    assert again.restored_edits == 3 and again.can_redo
    assert state(again) == state(studio)
    again.redo()
    studio.redo()
    assert state(again) == state(studio)


def test_a_burst_of_edits_ends_with_all_of_them_on_disk(dataset, fit, tmp_path):
    path = tmp_path / "session.json"
    studio = Studio.from_fit(dataset, fit, session_path=path)
    for j in range(30):
        studio.apply(Edit("weight", "B_t1", 0.5 + j))
    studio.flush()
    saved = json.loads(path.read_text())
    assert len(saved["edits"]) == 30 and saved["edits"][-1]["value"] == 29.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.json"]


def test_a_failed_autosave_is_reported(dataset, fit, tmp_path, monkeypatch):
    import rap_core.session as session_module

    def full_disk(path, session):
        raise RapError(f"cannot save session {path}: No space left on device")

    monkeypatch.setattr(session_module, "save_session", full_disk)
    studio = Studio.from_fit(dataset, fit, session_path=tmp_path / "s.json")
    studio.apply(EDITS[0])
    with pytest.raises(RapError, match="No space left"):
        studio.flush()
    studio.flush()  # reported once; the edit itself stands
    assert studio.edits == (EDITS[0],)


def test_cli_style_replay_never_writes(dataset, fit, tmp_path):
    path = tmp_path / "session.json"
    save_session(path, Session(dataset.sha256, "INDC", None, "cpmi", tuple(EDITS[:2])))
    before = path.read_bytes()
    studio = Studio.from_fit(dataset, fit, session_path=path)
    studio.session_path = None
    studio.apply(EDITS[2])
    studio.flush()
    assert path.read_bytes() == before


def test_session_for_other_data_is_refused(dataset, fit, tmp_path):
    path = tmp_path / "other.json"
    save_session(path, Session("f" * 64, "INDC", None, "cpmi", (EDITS[0],)))
    with pytest.raises(RapError, match="saved for different data"):
        Studio.from_fit(dataset, fit, session_path=path)


def test_corrupt_session_is_one_line(dataset, fit, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "rap-session", "vers')
    with pytest.raises(RapError) as err:
        Studio.from_fit(dataset, fit, session_path=path)
    assert "broken.json" in str(err.value) and "\n" not in str(err.value)


def test_the_provisional_preview_votes_every_feature(dataset, fit):
    preview = Studio.provisional(dataset, fit.ranges)
    assert preview.fit is None and preview.metrics().k == dataset.n_features
    assert preview.j_curve().size == 0


def test_the_fit_after_a_preview_reuses_its_counts(dataset, fit):
    preview = Studio.provisional(dataset, fit.ranges)
    fitted = preview.with_fit(fit)
    assert fitted.counts is preview.counts, "the expensive counts are built once per dataset"
    assert state(fitted) == state(Studio.from_fit(dataset, fit))


def test_inside_rates_for_the_ranges_table(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    pos, neg = studio.inside_rates()
    a = dataset.features.index("A_t1")
    assert pos.shape == neg.shape == (dataset.n_features,)
    assert pos[a] == 1.0 and neg[a] < 1.0, "every positive lies inside A_t1's range"


def test_export_writes_the_studio_bias(dataset, fit, tmp_path):
    torch = pytest.importorskip("torch")
    studio = Studio.from_fit(dataset, fit)
    studio.apply(EDITS[0])
    result = export_prior(export_source(studio, "lags"), tmp_path / "p.pt", alpha_init=0.5)
    prior = torch.load(result.path, weights_only=True)
    assert result.shape == (4, 4) and result.layout == "lags" and studio.layout == "features"
    studio.set_layout("lags")
    assert prior["bias"].numpy().tobytes() == studio.bias().tobytes()


def test_an_export_writes_the_rule_of_its_snapshot(dataset, fit, tmp_path):
    """The TUI snapshots on the UI thread and writes in a worker while the user edits on."""
    torch = pytest.importorskip("torch")
    studio = Studio.from_fit(dataset, fit)
    studio.apply(EDITS[0])
    expected = studio.bias().tobytes()
    source = export_source(studio)
    studio.apply(Edit("enable", "A_t1", False))  # an edit made while the file is written
    written = export_prior(source, tmp_path / "p.pt")
    prior = torch.load(written.path, weights_only=True)
    assert prior["bias"].numpy().tobytes() == expected != studio.bias().tobytes()
    assert prior["source"]["edits"] == 1


def test_history_lists_every_edit_with_its_rule_and_jumps_anywhere(dataset, fit):
    studio = Studio.from_fit(dataset, fit)
    for edit in EDITS[:4]:
        studio.apply(edit)
    rules = [step.rule for step in studio.history()]
    assert [step.position for step in studio.history()] == [1, 2, 3, 4]
    assert rules[-1].same_as(studio.rule) and all(step.done for step in studio.history())
    change = studio.goto(1)
    assert studio.edits == (EDITS[0],) and studio.rule.same_as(rules[0])
    assert change.rule_changed and studio.can_redo
    steps = studio.history()
    assert [s.done for s in steps] == [True, False, False, False], "the rest is redo"
    assert all(a.rule.same_as(b) for a, b in zip(steps, rules, strict=True))
    studio.goto(4)
    assert studio.rule.same_as(rules[-1]) and studio.goto(4) is None
    studio.goto(0)
    assert studio.edits == () and studio.rule.same_as(studio.fitted_rule)
    with pytest.raises(RapError, match="out of range 0..4"):
        studio.goto(5)


def test_notes_times_and_layout_survive_a_reopen(dataset, fit, tmp_path):
    path = tmp_path / "s.json"
    studio = Studio.from_fit(dataset, fit, session_path=path)
    studio.apply(EDITS[0])
    studio.apply(EDITS[1])
    studio.set_note(1, "  first   try ")
    studio.undo()
    studio.set_note(2, "the redo side keeps notes too")
    studio.set_layout("lags")
    studio.flush()
    again = Studio.from_fit(dataset, fit, session_path=path)
    steps = again.history()
    assert [s.stamp.note for s in steps] == ["first try", "the redo side keeps notes too"]
    assert steps[0].stamp.time is not None and steps[0].stamp.time.endswith("+00:00")
    assert again.layout == "lags"
    with pytest.raises(RapError, match="no edit at history position 3"):
        again.set_note(3, "x")


def test_a_session_replays_on_other_data_with_the_same_features(dataset, fit, tmp_path):
    path = tmp_path / "s.json"
    studio = Studio.from_fit(dataset, fit, session_path=path)
    studio.apply(EDITS[0])
    studio.set_note(1, "why")
    studio.flush()
    other = Studio.from_fit(dataset, fit)
    change = other.replay(path)
    assert other.edits == (EDITS[0],) and change.rule_changed
    assert other.history()[0].stamp.note == "why"
    renamed = tmp_path / "renamed.json"
    text = path.read_text().replace('"A_t1"', '"Z_t9"').replace('"A_t0"', '"Z_t8"')
    renamed.write_text(text)
    with pytest.raises(RapError, match="this data has no feature Z_t"):
        Studio.from_fit(dataset, fit).replay(renamed)


def test_an_export_hashes_the_bias_once(dataset, fit, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from rap_nanochat import rap_prior

    calls = []
    real = rap_prior.bias_sha256
    monkeypatch.setattr(rap_prior, "bias_sha256", lambda t: calls.append(1) or real(t))
    studio = Studio.from_fit(dataset, fit)
    result = export_prior(export_source(studio), tmp_path / "p.pt")
    assert len(calls) == 1 and result.bias_sha256 == real(
        rap_prior.load_prior(result.path)["bias"])


def test_edits_made_before_there_is_a_session_file_are_saved_once_there_is(dataset, fit,
                                                                           tmp_path):
    """The app replays a session before its lock decides where edits go (tui.fitting)."""
    studio = Studio.from_fit(dataset, fit, session_path=None)
    feature = studio.rule.votes()[0][1]
    studio.apply(nudge(studio.rule, feature, 0.5))
    assert studio.save_state[0] == "unsaved"
    path = tmp_path / "later.json"
    studio.autosave_to(path)
    studio.flush()
    assert len(json.loads(path.read_text())["edits"]) == 1
    data_file = tmp_path / "small.csv"
    make_small_frame().to_csv(data_file, index=False)
    on_file = Studio.from_fit(dataset_from_frame(make_small_frame(), path=data_file), fit,
                              session_path=None)
    with pytest.raises(RapError, match="is the data file itself"):
        on_file.autosave_to(data_file)
    assert on_file.session_path is None
