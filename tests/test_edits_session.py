"""Edits are validated data that replay by name; sessions are atomic, fingerprinted JSON logs.

What a user notices: a bad value is refused with one line, a saved session comes back with the
same edits, a damaged or foreign session file is refused with one line saying what to do.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rap_core.edits import (
    MAX_WEIGHT,
    Edit,
    apply_edit,
    flip,
    parse_value,
    restore,
    toggle,
    vote_state,
)
from rap_core.errors import RapError
from rap_core.rules import Rule
from rap_core.session import (
    Session,
    check_fingerprint,
    default_session_path,
    load_session,
    save_session,
)

FEATURES = ("A_t0", "A_t1", "B_t0", "B_t1")
SHA = "1a2b" + "0" * 60


def rule():
    return Rule.make(FEATURES, [1, -1, 1, 1], [1, 1, 0, 0], [True, True, False, False], 10.0, 2)


EDITS = [Edit("weight", "A_t0", 1.5), Edit("enable", "B_t0", True), Edit("sign", "A_t1", 1),
         Edit("K", None, 4.0), Edit("m", None, 1)]


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: e.kind)
def test_edits_round_trip_json(edit):
    again = Edit.from_json(json.loads(json.dumps(edit.to_json())))
    assert again == edit


@pytest.mark.parametrize("kind, feature, value, fragment", [
    ("weight", "A_t0", -1, "from 0 to 100 (0 turns the vote off); got -1"),
    ("weight", "A_t0", float("nan"), "from 0 to 100 (0 turns the vote off); got nan"),
    ("weight", "A_t0", "heavy", "'heavy' is not a number"),
    ("sign", "A_t0", 0, "+1"),
    ("enable", "A_t0", "yes", "true or false"),
    ("K", None, 0, "K (the logit scale) must be a number above 0"),
    ("m", None, -0.5, "m (the vote threshold) must be a number of 0 or more"),
    ("bold", "A_t0", 1, "unknown edit kind"),
    ("weight", None, 1, "feature name"),
])
def test_bad_edits_are_refused_in_one_line(kind, feature, value, fragment):
    with pytest.raises(RapError, match=None) as err:
        Edit(kind, feature, value)
    assert fragment in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("kind, text, value, note", [
    ("weight", " 2.5 ", 2.5, None),
    ("weight", "1e308", 100.0, "a vote's weight 1e+308 is above the maximum; set to 100"),
    ("K", "1e308", 1e6, "K (the logit scale) 1e+308 is above the maximum; set to 1e+06"),
    ("m", "3", 3.0, None),
])
def test_a_typed_value_is_parsed_and_its_clamping_announced(kind, text, value, note):
    assert parse_value(kind, text) == (value, note)


@pytest.mark.parametrize("kind, text, fragment", [
    ("weight", "", "press escape to keep the value"),
    ("weight", "abc", "'abc' is not a number"),
    ("weight", "inf", "got inf"),
    ("weight", "-1", "from 0 to 100"),
    ("K", "0", "above 0"),
    ("m", "nan", "0 or more"),
])
def test_a_bad_typed_value_says_what_is_allowed(kind, text, fragment):
    with pytest.raises(RapError) as err:
        parse_value(kind, text)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_huge_weights_are_clamped():
    assert Edit("weight", "A_t0", 1e9).value == MAX_WEIGHT


def test_apply_edit_returns_a_new_rule_and_leaves_the_old_one():
    old = rule()
    new = apply_edit(old, Edit("weight", "A_t0", 2.5))
    assert new.weight[0] == 2.5 and old.weight[0] == 1.0
    assert apply_edit(old, Edit("m", None, 1)).m == 1 and old.m == 2


def test_turning_on_a_vote_without_weight_gives_it_weight_one():
    new = apply_edit(rule(), Edit("enable", "B_t0", True))
    assert new.enabled[2] and new.weight[2] == 1.0
    assert [f for _, f, _, _ in new.votes()] == ["A_t0", "A_t1", "B_t0"]


def test_flip_and_toggle_are_plain_sign_and_enable_edits():
    r = rule()
    assert flip(r, "A_t1") == Edit("sign", "A_t1", 1)
    assert toggle(r, "A_t0") == Edit("enable", "A_t0", False)
    with pytest.raises(RapError, match="unknown feature 'Z9'"):
        flip(r, "Z9")


@pytest.mark.parametrize("edit", EDITS + [Edit("enable", "A_t0", False)], ids=str)
def test_restore_undoes_exactly(edit):
    r = rule()
    back = restore(apply_edit(r, edit), edit, vote_state(r, edit))
    assert back.same_as(r)


def session(edits=(), redo=()):
    return Session(SHA, "INDC", {"Cs": 5}, "cpmi", tuple(edits), tuple(redo))


def test_session_save_load_round_trip(tmp_path):
    path = save_session(tmp_path / "s.json", session(EDITS[:3], EDITS[3:]))
    loaded = load_session(path, FEATURES)
    assert loaded.edits == tuple(EDITS[:3]) and loaded.redo == tuple(EDITS[3:])
    assert (loaded.data_sha256, loaded.target, loaded.fit_params, loaded.statistic) == (
        SHA, "INDC", {"Cs": 5}, "cpmi")
    data = json.loads(path.read_text())
    assert data["format"] == "rap-session" and data["version"] == 1 and data["saved_at"]
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"], "no temp file left behind"


def test_default_path_follows_xdg_state_home_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "one"))
    assert default_session_path(SHA) == tmp_path / "one" / "rap-studio" / "sessions" / (
        SHA[:16] + ".json")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "two"))
    assert default_session_path(SHA).parts[-4] == "two"


@pytest.mark.parametrize("content, fragment", [
    ('{"format": "rap-session", "version": 1, "edits": [', "not valid JSON"),
    ('{"format": "something-else"}', "not a RAP Studio session"),
    ('{"format": "rap-session", "version": 7}', "version 7"),
    ('{"format": "rap-session", "version": 1, "target": "INDC"}', "data_sha256"),
    ('{"format": "rap-session", "version": 1, "data_sha256": "ab", "target": "INDC", '
     '"edits": [{"kind": "italic", "feature": "A_t0", "value": 1}]}', "unknown edit kind"),
    ('{"format": "rap-session", "version": 1, "data_sha256": "ab", "target": "INDC", '
     '"edits": [{"kind": "weight", "feature": "Q_t9", "value": 1}]}', "'Q_t9'"),
])
def test_damaged_sessions_are_refused_in_one_line(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RapError) as err:
        load_session(path, FEATURES)
    message = str(err.value)
    assert fragment in message and "bad.json" in message and "\n" not in message


def test_missing_session_is_one_line(tmp_path):
    with pytest.raises(RapError, match="no such file"):
        load_session(tmp_path / "nope.json")


def test_fingerprint_mismatch_says_which_data(tmp_path):
    with pytest.raises(RapError) as err:
        check_fingerprint(session(), "3c4d" + "f" * 60, tmp_path / "S.json")
    assert str(err.value) == ("session S.json was saved for different data (fingerprint 1a2b0000…, "
                              "this data is 3c4dffff…); open the data it was made for or start a "
                              "new session")


def test_saving_over_a_session_replaces_it_whole(tmp_path):
    path = tmp_path / "s.json"
    save_session(path, session(EDITS))
    save_session(path, session(EDITS[:1]))
    assert load_session(path).edits == (EDITS[0],)
    assert np.isclose(json.loads(path.read_text())["edits"][0]["value"], 1.5)


def test_a_session_that_is_a_fifo_is_named_as_one_in_one_line(tmp_path):
    """The message read "is not a regular file, not a regular file" after a rewording."""
    import os

    from rap_core.session import load_session

    fifo = tmp_path / "s.json"
    os.mkfifo(fifo)
    with pytest.raises(RapError) as err:
        load_session(fifo)
    message = str(err.value)
    assert "is a FIFO (named pipe), not a regular file" in message, message
    assert message.count("not a regular file") == 1 and "\n" not in message
