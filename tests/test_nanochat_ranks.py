"""The artifact is read once per load and agreed on by every rank (rap_nanochat/rap_ranks.py).

Two gloo processes on the CPU stand in for a torchrun job: a rank with another file, or without
the file, stops both ranks with the same line (no hang), and with $NANOCHAT_RAP_BROADCAST=1 a
rank without the file gets rank 0's artifact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

import rap_nanochat.rap_attention as rap_attention
import rap_nanochat.rap_ranks as rap_ranks
from rap_nanochat.rap_prior import DEFAULT_ALPHA_INIT, PriorFormatError
from rap_nanochat.testing import build, tiny_config, write_prior


@pytest.fixture
def reads(monkeypatch):
    """How many times the artifact file is loaded (every reader goes through load_prior)."""
    count = []
    for module in (rap_ranks, rap_attention):
        real = module.load_prior

        def counted(path, _real=real):
            count.append(str(path))
            return _real(path)

        monkeypatch.setattr(module, "load_prior", counted)
    return count


def test_building_a_model_the_nanochat_way_reads_the_artifact_once(tmp_path, reads):
    path = write_prior(tmp_path / "p.pt", size=12)
    model = build(tiny_config(path))  # meta device, to_empty, init_weights
    assert reads == [str(path)]
    assert model.rap.artifact is None, "the artifact is released once its bias is copied in"
    assert model.config.rap_prior_sha256 == model.rap.sha256


def test_a_validated_artifact_handed_in_is_not_read_again(tmp_path, reads):
    from rap_nanochat.gpt import GPT

    path = write_prior(tmp_path / "p.pt", size=12)
    artifact = rap_ranks.read_artifact(str(path))  # what dev/train_rap.py does before building
    with torch.device("meta"):
        model = GPT(tiny_config(path), rap_artifact=artifact)
    model.to_empty(device="cpu")
    model.init_weights()
    assert reads == [str(path)]
    assert torch.equal(model.rap.bias, artifact["bias"])


def test_default_alpha_init_is_one():
    assert DEFAULT_ALPHA_INIT == 1.0


def test_disagreement_names_the_first_failing_rank_or_the_differing_hash():
    assert rap_ranks.disagreement("p.pt", [("a" * 64, None), ("a" * 64, None)]) is None
    line = rap_ranks.disagreement("p.pt", [("a" * 64, None), ("b" * 64, None), ("b" * 64, None)])
    assert line.startswith("p.pt: rank 1's bias_sha256 bbbbbbbbbbbb… is not rank 0's aaaaaaaaaaaa…")
    assert "2 of 3 ranks differ" in line and "\n" not in line
    line = rap_ranks.disagreement("p.pt", [("a" * 64, None), (None, "rank 1: p.pt: no such file"),
                                           (None, "rank 2: p.pt: no such file")])
    assert line == "rank 1: p.pt: no such file (and 1 more rank(s))"


RANK_SCRIPT = r"""
import json, os, sys
import torch, torch.distributed as dist
from rap_nanochat.rap_prior import PriorFormatError
from rap_nanochat.rap_ranks import read_artifact
from rap_nanochat.testing import build, tiny_config

rank, store, cases = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
out = {}
for name, case in cases.items():
    os.environ["NANOCHAT_RAP_BROADCAST"] = "1" if case["broadcast"] else ""
    path = case["paths"][rank]
    try:
        if case.get("model"):
            model = build(tiny_config(path))
            out[name] = {"sha": model.rap.sha256, "sum": float(model.rap.bias.sum()),
                         "config_sha": model.config.rap_prior_sha256}
        else:
            artifact = read_artifact(path)
            out[name] = {"sha": artifact["bias_sha256"], "sum": float(artifact["bias"].sum())}
    except PriorFormatError as exc:
        out[name] = {"error": str(exc)}
dist.destroy_process_group()
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs gloo")
def test_two_gloo_ranks_agree_on_the_artifact_or_stop_together(tmp_path):
    one = str(write_prior(tmp_path / "one.pt", size=12))
    other = str(write_prior(tmp_path / "other.pt", size=12, seed=5))
    missing = str(tmp_path / "absent" / "p.pt")
    cases = {
        "same": {"paths": [one, one], "broadcast": False},
        "differ": {"paths": [one, other], "broadcast": False},
        "rank1_missing": {"paths": [one, missing], "broadcast": False},
        "broadcast": {"paths": [one, missing], "broadcast": True},
        "broadcast_rank0_missing": {"paths": [missing, one], "broadcast": True},
        "broadcast_model": {"paths": [one, missing], "broadcast": True, "model": True},
    }
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    env.pop("NANOCHAT_RAP_BROADCAST", None)
    argv = [str(tmp_path / "store"), json.dumps(cases)]
    procs = [subprocess.Popen([sys.executable, str(script), str(rank), *argv], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in (0, 1)]
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-2000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    r0, r1 = outs

    assert r0["same"] == r1["same"] and "sha" in r0["same"]
    for name in ("rank1_missing", "broadcast_rank0_missing"):
        assert "error" in r0[name] and r0[name] == r1[name], f"{name}: both ranks stop alike"
        assert "\n" not in r0[name]["error"]
    # Each rank names its own path, then the same verdict.
    assert r0["differ"]["error"].startswith(f"{one}: rank 1's bias_sha256 ")
    assert r1["differ"]["error"].startswith(f"{other}: rank 1's bias_sha256 ")
    assert r0["differ"]["error"].split(": ", 1)[1] == r1["differ"]["error"].split(": ", 1)[1]
    assert r0["rank1_missing"]["error"].startswith("rank 1: ")
    assert r0["broadcast_rank0_missing"]["error"].startswith("rank 0: ")
    assert r0["broadcast"] == r1["broadcast"] == r0["same"], "rank 1 got rank 0's artifact"
    model0, model1 = r0["broadcast_model"], r1["broadcast_model"]
    assert model0 == model1 and model0["sha"] == r0["same"]["sha"] == model0["config_sha"]


def test_single_process_errors_are_plain(tmp_path):
    with pytest.raises(PriorFormatError, match="absent"):
        rap_ranks.read_artifact(str(tmp_path / "absent.pt"))
