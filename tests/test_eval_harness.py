"""The evaluation harness end to end at tiny sizes: training, pairing, determinism, `rap eval`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rap_core import eval_priors as ep
from rap_core.cli import main
from rap_core.eval_task import make_split, split_arrays
from rap_nanochat.evaluation import Settings, prior_artifact, train_run

TINY = Settings(steps=12, batch=16, eval_every=4, patience=10, n_layer=1, n_head=2, n_embd=16)


def _table(n=240, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).round(4)
    y = ((X[:, 1] > -0.3) & (X[:, 4] < 0.3)).astype(np.int8)
    return X, y


def _split_tensors():
    X, y = _table()
    arrays = split_arrays(X, y, make_split(y), 80, n_bins=8)
    out = {k: torch.from_numpy(np.asarray(v).astype(np.int64)) for k, v in arrays.items()}
    out["n_bins"] = 8
    return out


def _run(split, arm, prior="", seed=0, **extra):
    return train_run(split, {"key": arm, "arm": arm, "size": 80, "seed": seed, **extra}, TINY,
                     prior)


def test_same_seed_gives_the_same_curve(tmp_path):
    split = _split_tensors()
    prior_path = tmp_path / "p.npy"
    np.save(prior_path, ep.oracle_prior([1, 4], 6))
    prior = prior_artifact(str(prior_path), str(tmp_path), 1.0)
    first, second = _run(split, "oracle", prior), _run(split, "oracle", prior)
    assert first["curve"] == second["curve"]
    assert first["test_loss"] == second["test_loss"]
    other = _run(split, "oracle", prior, seed=1)
    assert other["curve"] != first["curve"]


def test_zero_arm_tracks_none_and_keeps_its_gate_at_zero(tmp_path):
    """Same initial weights and batches: with the gate frozen at 0 the prior's kernel path must
    give the unbiased model's numbers (up to float error)."""
    split = _split_tensors()
    prior_path = tmp_path / "p.npy"
    np.save(prior_path, ep.oracle_prior([1, 4], 6))
    prior = prior_artifact(str(prior_path), str(tmp_path), 0.0)
    none = _run(split, "none")
    zero = _run(split, "zero", prior, gate="frozen", alpha_init=0.0)
    assert zero["final_gates"] == [0.0]
    for a, b in zip(none["curve"], zero["curve"], strict=True):
        assert a["test_loss"] == pytest.approx(b["test_loss"], abs=1e-4)
    assert none["final_gates"] == []


@pytest.mark.slow
def test_rap_eval_end_to_end_and_resume(tmp_path, capsys):
    X, y = _table(n=300)
    frame = pd.DataFrame(X, columns=[f"F{c}x" for c in "abcdef"])
    frame["INDC"] = y
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "ev"
    args = [str(data), "--sizes", "60", "--seeds", "2", "--steps", "10",
            "--arms", "none,rap,zero,oracle", "--oracle", "Fbx,Fex", "--out", str(out)]
    assert main(["eval", *args]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["data"]["rows"] == 300 and doc["complete"]
    assert doc["prior"]["fitted_on"] == "train" and doc["prior"]["fitted_rows"] == 60
    assert {(r["arm"], r["seed"]) for r in doc["runs"]} == {
        (a, s) for a in ("none", "rap", "zero", "oracle") for s in (0, 1)}
    assert set(doc["verdict"]) == {"60"}
    assert doc["verdict"]["60"] in ("helps", "no detectable effect", "hurts")
    for name in ("report.md", "curves.png", "sizes.png", "gates.png"):
        assert (out / name).stat().st_size > 0
    assert "LR bag" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main(["eval", *args]) == 0  # resumed: every run cached
    assert "8 runs (8 cached)" in capsys.readouterr().err
    assert json.loads((out / "results.json").read_text())["runs"] == doc["runs"]


def test_rap_eval_refuses_bad_arguments_with_one_line(tmp_path, capsys):
    X, y = _table()
    frame = pd.DataFrame(X, columns=[f"F{c}x" for c in "abcdef"])
    frame["INDC"] = y
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    for extra, message in ((["--arms", "none,bogus"], "unknown arm"),
                           (["--arms", "none,oracle"], "no ground truth"),
                           (["--seeds", "1"], "at least 2 paired seeds"),
                           (["--sizes", "5000"], "exceeds")):
        code = main(["eval", str(data), "--out", str(tmp_path / "o"), *extra])
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_auc_matches_the_textbook_example():
    from rap_nanochat.tabular_task import auc

    scores = torch.tensor([0.1, 0.4, 0.35, 0.8])
    assert auc(scores, torch.tensor([0, 0, 1, 1])) == pytest.approx(0.75)
    assert auc(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([0, 1, 1])) == pytest.approx(0.75)
    assert np.isnan(auc(scores, torch.tensor([1, 1, 1, 1])))


def test_eval_data_writes_the_needle_and_breast_cancer(tmp_path, capsys):
    from rap_core.dataset import load_dataset
    from rap_core.evaluate import known_truth

    assert main(["eval-data", "--rows", "300", "--out", str(tmp_path / "n.csv")]) == 0
    assert "ground truth: INDC = 1 iff N07_t2" in capsys.readouterr().out
    needle = load_dataset(tmp_path / "n.csv")
    assert needle.n_features == 256
    assert known_truth(needle) == ("N07_t2", "N19_t5", "N28_t6")
    assert main(["eval-data", "--breast-cancer", "--out", str(tmp_path / "bc.csv")]) == 0
    bc = load_dataset(tmp_path / "bc.csv")
    assert (bc.n_rows, bc.n_features, bc.n_positive) == (569, 30, 212)
    assert known_truth(bc) is None


def test_quick_keeps_what_the_user_typed_and_checks_the_session_before_fitting(tmp_path,
                                                                               capsys,
                                                                               monkeypatch):
    """Found in a user drill: `--quick --sizes 0` ran at 300 rows and exited 0 (the typed
    value was silently replaced), and a bad `--session` was reported only after the fit."""
    import rap_core.evaluate as evaluate

    X, y = _table()
    frame = pd.DataFrame(X, columns=[f"F{c}x" for c in "abcdef"])
    frame["INDC"] = y
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    code = main(["eval", str(data), "--quick", "--sizes", "0", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "too few" in err and len(err.splitlines()) == 1, err
    code = main(["eval", str(data), "--quick", "--steps", "5", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--steps 5" in err, err

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking the session")

    monkeypatch.setattr(evaluate, "train_prior", no_fit)
    bogus = tmp_path / "s.json"
    bogus.write_text('{"x": 1}')
    code = main(["eval", str(data), "--quick", "--session", str(bogus),
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "s.json" in err and len(err.splitlines()) == 1, err
    assert main(["eval-data", "--rows", "300", "--out", str(tmp_path / "n.csv")]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "+inf" in out and "-inf" in out, out
