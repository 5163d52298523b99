"""dev/train_rap.py: the gates learn, and two DDP processes on CPU stay in sync on one prior."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rap_nanochat.testing import write_prior

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "dev" / "train_rap.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_rap", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def synthetic_prior(tmp_path):
    # 12 synthetic features X0..X11; the label depends on X2 and X7.
    return write_prior(tmp_path / "syn.pt", size=12, alpha_init=0.5, prefix="X", votes=(2, 7))


def test_single_process_training_moves_the_gates(tmp_path, synthetic_prior, capsys):
    out = tmp_path / "metrics.json"
    code = _script().main(["--synthetic", "300", "--steps", "20", "--log-every", "10",
                           "--prior", str(synthetic_prior), "--json", str(out)])
    assert code == 0
    metrics = json.loads(out.read_text())
    assert metrics["val_acc"] > 0.8, "the label rule is easy; training must learn it"
    assert any(abs(row[0] - 0.5) > 1e-3 for row in metrics["alpha"]), "alpha never moved"
    assert "rap/alpha/l0 +" in capsys.readouterr().out, "gates logged per layer"
    assert set(metrics) >= {"rap/alpha/l0", "rap/alpha/l1"}


def test_prior_for_other_features_is_refused(tmp_path, capsys):
    other = write_prior(tmp_path / "other.pt", size=5)  # V0..V4, but the data has X0..X11
    code = _script().main(["--synthetic", "100", "--steps", "1", "--prior", str(other)])
    assert code == 2
    assert "do not match the dataset's features" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs gloo")
def test_torchrun_two_cpu_processes_keep_gates_in_sync(tmp_path, synthetic_prior):
    out = tmp_path / "ddp.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(SCRIPT), "--synthetic", "200", "--steps", "4", "--log-every", "2",
         "--prior", str(synthetic_prior), "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "identical on 2 rank(s)" in proc.stdout
    metrics = json.loads(out.read_text())
    assert metrics["world"] == 2 and metrics["gate_spread"] == 0.0
    assert metrics["alpha"][0][0] != 0.5, "the gates trained under DDP"
