"""The `rap` command line end to end on the bundled demo data (its fit ships precomputed).

What a pipeline relies on: the artifact loads with weights_only=True and carries the contract's
keys; the ground-truth rule's features carry the largest bias; the same inputs give the same bias
bytes; an interrupted export keeps the old file; bad input is one line and exit status 2.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rap_core.cli import main
from rap_core.demo import GROUND_TRUTH, demo_path

ROOT = Path(__file__).resolve().parents[1]
GROUND_FEATURES = [feature for feature, _, _ in GROUND_TRUTH]


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory):
    return demo_path()


def export(tmp_path, *extra, name="rap_prior.pt", data=None):
    out = tmp_path / name
    code = main(["export", str(data or demo_path()), "--out", str(out), *extra])
    assert code == 0
    return out


def test_export_writes_the_contracted_artifact(tmp_path, capsys):
    out = export(tmp_path)
    prior = torch.load(out, weights_only=True)
    for key in ("format", "version", "bias", "labels", "layout", "alpha_init", "scale", "rules",
                "source", "bias_sha256"):
        assert key in prior, f"artifact lacks {key!r}"
    assert prior["format"] == "rap-prior" and prior["version"] == 1
    bias = prior["bias"]
    assert bias.dtype == torch.float32 and bias.shape == (80, 80)
    assert float(bias.abs().max()) == pytest.approx(1.0)
    assert prior["labels"][:2] == ["V1_t0", "V1_t1"]
    assert prior["source"]["rows"] == 3000 and prior["source"]["target"] == "INDC"
    assert len(prior["source"]["data_sha256"]) == 64
    assert sorted(v["feature"] for v in prior["rules"]) == sorted(GROUND_FEATURES)
    for vote in prior["rules"]:
        assert prior["labels"][vote["position"]] == vote["feature"], "a vote names its position"
    printed = capsys.readouterr().out
    assert "bias_sha256" in printed and "80x80" in printed


def test_ground_truth_pairs_carry_the_largest_bias(tmp_path):
    prior = torch.load(export(tmp_path), weights_only=True)
    bias = prior["bias"].numpy()
    index = [prior["labels"].index(f) for f in GROUND_FEATURES]
    truth_pairs = {(i, j) for i, j in itertools.permutations(index, 2)}
    off_diagonal = [(abs(bias[i, j]), (i, j)) for i in range(80) for j in range(80) if i != j]
    top = {pair for _, pair in sorted(off_diagonal, reverse=True)[: len(truth_pairs)]}
    assert top == truth_pairs, "the rule's feature pairs should be the strongest entries of B"
    assert np.all(bias[np.ix_(index, index)][~np.eye(len(index), dtype=bool)] > 0)


def test_same_inputs_give_byte_identical_bias(tmp_path):
    first = torch.load(export(tmp_path, name="a.pt"), weights_only=True)
    second = torch.load(export(tmp_path, name="b.pt"), weights_only=True)
    assert first["bias"].numpy().tobytes() == second["bias"].numpy().tobytes()
    assert first["bias_sha256"] == second["bias_sha256"]


def test_lags_layout_and_alpha_init(tmp_path):
    prior = torch.load(export(tmp_path, "--layout", "lags", "--alpha-init", "0.25"),
                       weights_only=True)
    assert prior["layout"] == "lags"
    assert prior["bias"].shape == (8, 8)
    assert prior["alpha_init"] == 0.25
    assert all(label.startswith("lag") for label in prior["labels"])
    for vote in prior["rules"]:  # lags 0..7 all present, so position = the feature's lag
        assert vote["position"] == int(vote["feature"].rsplit("_t", 1)[1])


def test_export_applies_a_session_like_the_studio(tmp_path):
    from rap_core.dataset import load_dataset
    from rap_core.edits import Edit
    from rap_core.export import export_prior, export_source
    from rap_core.fit import FitParams
    from rap_core.fit_process import load_or_fit
    from rap_core.split import train_dataset
    from rap_core.studio import Studio

    dataset = load_dataset(demo_path())
    fit = load_or_fit(train_dataset(dataset), FitParams())
    session = tmp_path / "session.json"
    studio = Studio.from_fit(dataset, fit, session_path=session)
    studio.apply(Edit("weight", GROUND_FEATURES[0], 2.5))
    studio.apply(Edit("enable", "V1_t0", True))
    studio.apply(Edit("weight", "V1_t0", 0.5))
    studio.save_session(session)
    expected = export_prior(export_source(studio), tmp_path / "studio.pt")

    prior = torch.load(export(tmp_path, "--session", str(session)), weights_only=True)
    assert prior["bias_sha256"] == expected.bias_sha256
    assert prior["source"]["edits"] == 3
    assert "V1_t0" in [v["feature"] for v in prior["rules"]]


def test_interrupted_export_keeps_the_old_file(tmp_path, monkeypatch):
    out = export(tmp_path)
    before = out.read_bytes()

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    code = main(["export", str(demo_path()), "--out", str(out), "--alpha-init", "0.5"])
    assert code == 2
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [out.name], "no temp file left behind"


def test_inspect_validates_and_summarises(tmp_path, capsys):
    out = export(tmp_path)
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "verified" in text and "80x80" in text
    assert any(feature in text for feature in GROUND_FEATURES)


@pytest.mark.parametrize("payload, fragment", [
    ({"format": "other"}, "not a RAP prior"),
    ("not a dict", "expected a dict"),
])
def test_inspect_refuses_bad_files_in_one_line(tmp_path, capsys, payload, fragment):
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "bad.pt" in err
    assert len(err.splitlines()) == 1


def test_bad_data_is_one_line_and_status_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,INDC\n1,2,0\n3,4,2\n5,6,1\n")
    result = subprocess.run([sys.executable, "-m", "rap_core.cli", "export", str(bad)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "INDC" in result.stderr and "bad.csv" in result.stderr
    assert not (tmp_path / "rap_prior.pt").exists()


def test_generate_script_matches_rap_export(tmp_path):
    expected = torch.load(export(tmp_path, "--layout", "lags"), weights_only=True)
    out = tmp_path / "script.pt"
    result = subprocess.run(
        [sys.executable, str(ROOT / "dev" / "generate_rap_prior.py"), str(demo_path()),
         "--layout", "lags", "--out", str(out)],
        capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 0, result.stderr
    assert torch.load(out, weights_only=True)["bias_sha256"] == expected["bias_sha256"]


def test_demo_command_writes_the_dataset(tmp_path, capsys):
    out = tmp_path / "demo.csv"
    assert main(["demo", "--out", str(out)]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert "INDC" in header and len(header) == 81
    assert "ground truth" in capsys.readouterr().out
