"""dev/patch_nanochat.py on a fixture checkout: apply, check, idempotence, revert, refusal, and
the patched model running (in a subprocess, so the fixture's `nanochat` package is imported)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rap_nanochat.rap_prior import load_prior
from rap_nanochat.testing import write_prior

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "nanochat_gpt.py"
BASE_TRAIN = ROOT / "tests" / "fixtures" / "nanochat_base_train.py"

STUBS = {
    "__init__.py": "",
    "common.py": """
import torch
COMPUTE_DTYPE = torch.float32
def print0(*args, **kwargs):
    pass
def get_dist_info():
    return False, 0, 0, 1
""",
    "optim.py": """
import torch
class MuonAdamW(torch.optim.Optimizer):
    # Stand-in with the real one's failure: Muon reads p.shape[1], so a 1-D gate raises.
    def __init__(self, param_groups):
        for group in param_groups:
            if group["kind"] == "muon":
                [p.shape[1] for p in group["params"]]
        super().__init__(param_groups, {})
    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad.sign(), alpha=-group["lr"])
""",
    "flash_attention.py": """
import torch, torch.nn.functional as F
from types import SimpleNamespace
def _sdpa(q, k, v, window, start):
    i = start + torch.arange(q.size(1)).unsqueeze(1)
    j = torch.arange(k.size(1)).unsqueeze(0)
    mask = (j <= i) & ((i - j) <= window if window >= 0 else True)
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       attn_mask=mask, enable_gqa=q.size(2) != k.size(2))
    return y.transpose(1, 2)
def flash_attn_func(q, k, v, causal=False, window_size=(-1, -1)):
    return _sdpa(q, k, v, window_size[0], 0)
def flash_attn_with_kvcache(q, k_cache, v_cache, k=None, v=None, cache_seqlens=None,
                            causal=False, window_size=(-1, -1)):
    pos = int(cache_seqlens[0])
    k_cache[:, pos:pos + q.size(1)], v_cache[:, pos:pos + q.size(1)] = k, v
    end = pos + q.size(1)
    return _sdpa(q, k_cache[:, :end], v_cache[:, :end], window_size[0], pos)
flash_attn = SimpleNamespace(flash_attn_func=flash_attn_func,
                             flash_attn_with_kvcache=flash_attn_with_kvcache)
""",
}

RUN_PATCHED = """
import torch
from nanochat.gpt import GPT, GPTConfig
from nanochat.rap_prior import make_prior, save_prior
from nanochat.rap_attention import RapPrior

bias = torch.zeros(12, 12)
bias[2, 5] = bias[5, 2] = 1.0
bias[5, 5] = -0.5
save_prior(make_prior(bias, [f"p{i}" for i in range(12)], "features", 0.9, 1.0, [], {}), "p.pt")

def build(prior, alpha=None):
    config = GPTConfig(sequence_len=16, vocab_size=40, n_layer=2, n_head=4, n_kv_head=2,
                       n_embd=32, window_pattern="SL", rap_prior=prior, rap_alpha_init=alpha)
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    torch.manual_seed(0)
    model.init_weights()
    return model

idx = torch.randint(0, 40, (2, 16), generator=torch.Generator().manual_seed(1))
plain, zero, rap = build(""), build("p.pt", 0.0), build("p.pt")
assert plain.rap is None and not any("rap" in k for k in plain.state_dict())
assert torch.equal(rap.rap.bias, bias) and torch.all(rap.rap.alpha == 0.9), "init_weights"
with torch.no_grad():
    base = plain(idx)
    assert torch.allclose(zero(idx), base, atol=1e-5), "alpha = 0 must be the original model"
    assert (rap(idx) - base).abs().max() > 1e-4, "the prior must reach the logits"
assert rap.num_scaling_params()["total"] == sum(p.numel() for p in rap.parameters())
opt = rap.setup_optimizer()  # the stub Muon raises IndexError if a gate reached it
rap(idx, targets=idx).backward()
before = rap.rap.alpha.detach().clone()
opt.step()
assert not torch.equal(rap.rap.alpha, before), "gates learn"
print("PATCHED MODEL OK")
"""


def _patcher():
    path = ROOT / "dev" / "patch_nanochat.py"
    spec = importlib.util.spec_from_file_location("patch_nanochat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def checkout(tmp_path):
    package = tmp_path / "nanochat"
    package.mkdir()
    for name, text in STUBS.items():
        (package / name).write_text(text)
    shutil.copy(FIXTURE, package / "gpt.py")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "__init__.py").write_text("")
    shutil.copy(BASE_TRAIN, tmp_path / "scripts" / "base_train.py")
    return tmp_path


def test_apply_check_idempotent_revert(checkout, capsys):
    patcher = _patcher()
    gpt = checkout / "nanochat" / "gpt.py"
    original = gpt.read_bytes()
    gpt.chmod(0o644)
    assert patcher.main([str(checkout), "--check"]) == 1
    assert patcher.main([str(checkout)]) == 0
    patched = gpt.read_bytes()
    assert patched != original
    assert gpt.stat().st_mode & 0o777 == 0o644, "the user's file keeps its permissions"
    assert (checkout / "nanochat" / "rap_attention.py").read_bytes() == \
        (ROOT / "nanochat" / "rap_attention.py").read_bytes()
    assert patcher.changed_lines(original.decode(), patched.decode()) <= 40
    assert patcher.main([str(checkout), "--check"]) == 0
    assert patcher.main([str(checkout)]) == 0
    assert "already applied" in capsys.readouterr().out
    assert gpt.read_bytes() == patched, "applying twice changes nothing"
    assert patcher.main([str(checkout), "--revert"]) == 0
    assert gpt.read_bytes() == original, "revert restores the exact bytes"
    assert not (checkout / "nanochat" / "rap_attention.py").exists()
    assert patcher.main([str(checkout), "--check"]) == 1


def test_base_train_logs_the_gates_in_its_own_logging_block(checkout, tmp_path):
    """The patched base_train: `rap/alpha/l{i}` in wandb's log_data, the gates at the end of the
    console step line, the prior's hash in the run config; nothing of it without a prior."""
    train = checkout / "scripts" / "base_train.py"
    original = train.read_bytes()
    assert _patcher().main([str(checkout)]) == 0
    assert train.read_bytes() != original
    write_prior(tmp_path / "p.pt", size=12, alpha_init=0.9)
    env = dict(os.environ, PYTHONPATH=str(checkout))
    runs = {}
    for prior in ("", str(tmp_path / "p.pt")):
        env["NANOCHAT_RAP_PRIOR"] = prior
        proc = subprocess.run([sys.executable, "-m", "scripts.base_train"], cwd=checkout, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[bool(prior)] = proc.stdout.splitlines()
    with_prior, without = runs[True], runs[False]
    steps = [line for line in with_prior if line.startswith("step ")]
    assert len(steps) == 3 and all(" | rap alpha: " in line for line in steps)
    wandb = json.loads(with_prior[-1])
    assert [set(d) for d in wandb["logged"]] == [{"step", "train/loss", "rap/alpha/l0",
                                                 "rap/alpha/l1"}] * 3
    for line, logged in zip(steps, wandb["logged"], strict=True):  # the same gates, both places
        assert line.endswith(f"| rap alpha: {logged['rap/alpha/l0']:.3f} "
                             f"{logged['rap/alpha/l1']:.3f}"), line
    assert all(abs(d["rap/alpha/l0"] - 0.9) < 0.1 for d in wandb["logged"]), "from alpha_init"
    assert wandb["config"]["rap_prior_sha256"] == load_prior(tmp_path / "p.pt")["bias_sha256"]
    plain = json.loads(without[-1])
    assert plain["config"] == {} and all("rap" not in " ".join(d) for d in plain["logged"])
    assert not any("rap alpha" in line for line in without)
    assert _patcher().main([str(checkout), "--revert"]) == 0
    assert train.read_bytes() == original


def test_a_checkout_without_base_train_gets_gpt_py_only(checkout, capsys):
    """...and when base_train.py appears later (or gpt.py was patched by a patcher that did not
    edit it yet), --check says "partly applied" and applying again adds its edits."""
    shutil.move(checkout / "scripts", checkout / "scripts-aside")
    patcher = _patcher()
    assert patcher.main([str(checkout)]) == 0
    assert "no scripts/base_train.py in this checkout" in capsys.readouterr().out
    assert patcher.main([str(checkout), "--check"]) == 0
    shutil.move(checkout / "scripts-aside", checkout / "scripts")
    assert patcher.main([str(checkout), "--check"]) == 1
    assert "partly applied" in capsys.readouterr().out
    assert patcher.main([str(checkout)]) == 0
    assert "base_train.py: applied 3 edits" in capsys.readouterr().out
    assert patcher.main([str(checkout), "--check"]) == 0


def test_unrecognised_file_is_left_untouched(checkout, capsys):
    gpt = checkout / "nanochat" / "gpt.py"
    text = gpt.read_text().replace("        self.cos, self.sin = cos, sin\n",
                                   "        self.cos = cos\n        self.sin = sin\n")
    gpt.write_text(text)
    patcher = _patcher()
    assert patcher.main([str(checkout)]) == 2
    err = capsys.readouterr().err
    assert "structure not recognised, left untouched" in err and "init_weights" in err
    assert gpt.read_text() == text
    assert not (checkout / "nanochat" / "rap_attention.py").exists()
    assert patcher.main([str(checkout), "--check"]) == 2


def test_missing_gpt_py_is_a_clear_error(tmp_path, capsys):
    assert _patcher().main([str(tmp_path)]) == 2
    assert "no nanochat/gpt.py here" in capsys.readouterr().err


def test_patched_fixture_model_runs_with_and_without_a_prior(checkout):
    assert _patcher().main([str(checkout)]) == 0
    env = dict(os.environ, PYTHONPATH=str(checkout))
    proc = subprocess.run([sys.executable, "-c", RUN_PATCHED], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PATCHED MODEL OK" in proc.stdout


@pytest.mark.skipif(not os.environ.get("NANOCHAT_CHECKOUT"),
                    reason="set NANOCHAT_CHECKOUT to a karpathy/nanochat checkout to run")
def test_real_checkout_patches_and_compiles(tmp_path):
    copy = tmp_path / "nanochat-copy"
    shutil.copytree(os.environ["NANOCHAT_CHECKOUT"], copy, ignore=shutil.ignore_patterns(".git"))
    patcher = _patcher()
    files = [copy / "nanochat" / "gpt.py", copy / "scripts" / "base_train.py"]
    before = [f.read_bytes() for f in files]
    assert patcher.main([str(copy)]) == 0
    for file, original in zip(files, before, strict=True):
        assert file.read_bytes() != original, f"{file.name} patched"
        compile(file.read_text(), file.name, "exec")
    assert patcher.main([str(copy), "--check"]) == 0
    assert patcher.main([str(copy), "--revert"]) == 0
    assert [f.read_bytes() for f in files] == before


RUN_FROM_ENV = """
import dataclasses, os, sys, warnings
import torch
from nanochat.gpt import GPT, GPTConfig  # imported BEFORE the variable is set
from nanochat.rap_prior import make_prior, save_prior

def build(**kw):
    config = GPTConfig(sequence_len=16, vocab_size=40, n_layer=2, n_head=4, n_kv_head=2,
                       n_embd=32, window_pattern="SL", **kw)  # as nanochat's scripts build it
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    torch.manual_seed(0)
    model.init_weights()
    return model

def reload(ckpt):  # nanochat's checkpoint_manager.build_model, in short
    with torch.device("meta"):
        model = GPT(GPTConfig(**ckpt["config"]))
    model.to_empty(device="cpu")
    model.init_weights()
    model.load_state_dict(ckpt["model"], strict=True, assign=True)
    return model

save_prior(make_prior(torch.eye(12), [f"p{i}" for i in range(12)], "features", 0.7, 1.0, [], {}),
           "env.pt")
old = build()  # no variable: the original model; its checkpoint as an unpatched nanochat saves it
assert old.rap is None
old_ckpt = {"model": old.state_dict(), "config": {k: v for k, v in
            dataclasses.asdict(old.config).items() if not k.startswith("rap_")}}
os.environ["NANOCHAT_RAP_PRIOR"] = "env.pt"
model = build()
assert model.rap is not None and bool(torch.all(model.rap.alpha == 0.7)), "variable ignored"
assert model.config.rap_prior == "env.pt" and len(model.config.rap_prior_sha256) == 64
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    again = reload(old_ckpt)  # an old checkpoint, with the variable set
assert again.rap is None and any("no RAP prior" in str(w.message) for w in caught)
idx = torch.randint(0, 40, (2, 16))
with torch.no_grad():
    assert torch.equal(again(idx), old(idx))
new_ckpt = {"model": model.state_dict(), "config": dataclasses.asdict(model.config)}
os.environ["NANOCHAT_RAP_BOS"] = "0"  # packed documents start with token 0
packed = build()
assert packed.rap.bos == 0 and packed.config.rap_bos == 0
rows = torch.randint(1, 40, (2, 16))
rows[:, [0, 7]] = 0
with torch.no_grad():
    assert (packed(rows) - model(rows)).abs().max() > 1e-4, "document positions reach the prior"
del os.environ["NANOCHAT_RAP_BOS"]
del os.environ["NANOCHAT_RAP_PRIOR"]
assert reload(new_ckpt).rap is not None, "a checkpoint's config names its prior"
assert build().rap is None
if "--compile" in sys.argv:
    import torch._dynamo
    report = torch._dynamo.explain(model)(idx, targets=idx)
    print("BREAKS", report.graph_break_count, [r.reason.splitlines()[0] for r in
                                               report.break_reasons[:3]])
print("ENV OK")
"""


def test_patched_config_reads_the_environment_at_build_time_and_checkpoints_decide(checkout):
    """nanochat builds GPTConfig with explicit arguments: $NANOCHAT_RAP_PRIOR reaches it, even
    when set after import; an old checkpoint (no RAP keys) loads with the variable set."""
    assert _patcher().main([str(checkout)]) == 0
    env = dict(os.environ, PYTHONPATH=str(checkout))
    env.pop("NANOCHAT_RAP_PRIOR", None)
    proc = subprocess.run([sys.executable, "-c", RUN_FROM_ENV], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ENV OK" in proc.stdout


@pytest.mark.slow
def test_patched_model_compiles_without_graph_breaks(checkout):
    assert _patcher().main([str(checkout)]) == 0
    env = dict(os.environ, PYTHONPATH=str(checkout))
    env.pop("NANOCHAT_RAP_PRIOR", None)
    proc = subprocess.run([sys.executable, "-c", RUN_FROM_ENV, "--compile"], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "BREAKS 0 []" in proc.stdout, proc.stdout
