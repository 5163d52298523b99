"""The GPT with a prior: meta build, no-prior equivalence, KV cache, checkpoints, optimizer."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from rap_nanochat.engine import KVCache
from rap_nanochat.gpt import GPT, GPTConfig
from rap_nanochat.rap_prior import PriorFormatError, load_prior
from rap_nanochat.testing import build, tiny_config, tokens, write_prior


@pytest.fixture
def prior_path(tmp_path):
    return write_prior(tmp_path / "rap_prior.pt", size=12, alpha_init=0.8)


def test_meta_device_build_keeps_the_prior(prior_path):
    model = build(tiny_config(prior_path))
    assert model.rap.bias.device.type == "cpu"
    assert torch.equal(model.rap.bias, load_prior(prior_path)["bias"])
    assert torch.all(model.rap.alpha == 0.8), "gates start at the artifact's alpha_init"
    override = build(tiny_config(prior_path, rap_alpha_init=-0.25, rap_alpha_per_head=True))
    assert override.rap.alpha.shape == (2, 4) and torch.all(override.rap.alpha == -0.25)


def test_bias_is_stored_once_and_persistently(prior_path):
    state = build(tiny_config(prior_path, n_layer=4, window_pattern="SSSL")).state_dict()
    square = [key for key, value in state.items() if value.shape == (12, 12)]
    assert square == ["rap.bias"]


def test_no_prior_and_zero_gate_both_equal_the_unbiased_model(prior_path):
    idx = tokens()
    plain = build(tiny_config())
    assert plain.rap is None
    gated = build(tiny_config(prior_path, rap_alpha_init=0.0))
    biased = build(tiny_config(prior_path, rap_alpha_init=1.0))
    with torch.no_grad():
        want = plain(idx)
        assert torch.allclose(gated(idx), want, atol=1e-5)
        assert (biased(idx) - want).abs().max() > 1e-3, "a non-zero gate must change the logits"


@pytest.mark.parametrize("size", [20, 12, 6], ids=["L>T", "L<T", "L<prompt"])
def test_kv_cache_decode_equals_the_full_forward(tmp_path, size):
    path = write_prior(tmp_path / "p.pt", size=size, votes=(0, 2, 5))
    model = build(tiny_config(path, rap_alpha_init=1.5, rap_alpha_per_head=True))
    idx = tokens(batch=2, length=16)
    with torch.no_grad():
        full = model(idx)
        cache = KVCache(2, 2, 16, 8, 2, "cpu", torch.float32)
        steps = [model(idx[:, :7], kv_cache=cache)]  # prefill, then one token at a time
        steps += [model(idx[:, t:t + 1], kv_cache=cache) for t in range(7, 16)]
    stepped = torch.cat(steps, dim=1)
    err = (stepped - full).abs().max().item()
    assert err < 1e-4, f"cached decode differs from the full forward by {err:.2e}"


def test_generate_runs_through_the_cache(prior_path):
    model = build(tiny_config(prior_path))
    out = list(model.generate([1, 2, 3], max_tokens=5))
    ids = torch.tensor([[1, 2, 3] + out[:-1]])
    with torch.no_grad():
        greedy = model(ids).argmax(-1)[0, 2:].tolist()
    assert out == greedy


def test_checkpoint_reload_survives_a_moved_or_changed_prior(tmp_path, prior_path):
    model = build(tiny_config(prior_path, rap_alpha_per_head=True))
    with torch.no_grad():
        model.rap.alpha.mul_(torch.linspace(0.5, 2.0, 4))  # "trained" gates
    idx = tokens()
    with torch.no_grad():
        want = model(idx)
    torch.save({"model": model.state_dict(), "config": dataclasses.asdict(model.config)},
               tmp_path / "ckpt.pt")
    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert ckpt["config"]["rap_prior_len"] == 12

    write_prior(prior_path, size=12, seed=99)  # the file changed since training
    again = _rebuild(ckpt)
    with torch.no_grad():
        assert torch.equal(again(idx), want)

    os.replace(prior_path, tmp_path / "elsewhere.pt")  # ... and then moved away
    with pytest.warns(UserWarning, match="until a checkpoint supplies it"):
        moved = _rebuild(ckpt)
    with torch.no_grad():
        assert torch.equal(moved(idx), want)


def _rebuild(ckpt) -> GPT:
    with torch.device("meta"):
        model = GPT(GPTConfig(**ckpt["config"]))
    model.to_empty(device="cpu")
    model.init_weights()
    model.load_state_dict(ckpt["model"])
    return model


def test_missing_prior_without_a_checkpoint_fails_clearly(tmp_path, prior_path):
    config = tiny_config(prior_path)
    build(config)
    os.unlink(prior_path)
    with pytest.warns(UserWarning):
        orphan = build(config)  # config remembers L, so construction works ...
    with pytest.raises(PriorFormatError, match="no checkpoint supplied its bias"):
        orphan(tokens())  # ... but it refuses to run on a placeholder bias
    with pytest.raises(PriorFormatError, match="no such prior file"):
        GPT(tiny_config(prior_path))  # a fresh model needs the file


def test_optimizer_groups_account_for_every_parameter_and_gates_go_to_adamw(prior_path):
    model = build(tiny_config(prior_path, rap_alpha_per_head=True))
    optimizer = model.setup_optimizer()
    grouped = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(grouped) == len({id(p) for p in grouped}) == len(list(model.parameters()))
    gate_groups = [g for g in optimizer.adamw.param_groups
                   if any(p is model.rap.alpha for p in g["params"])]
    assert len(gate_groups) == 1
    assert all(p.ndim == 2 for g in optimizer.muon.param_groups for p in g["params"])
    before = model.rap.alpha.detach().clone()
    model(tokens(), targets=tokens(seed=5)).backward()
    optimizer.step()
    assert not torch.equal(model.rap.alpha, before), "the gates must learn"


def test_training_after_an_inference_mode_eval(tmp_path):
    """nanochat evaluates under inference_mode between steps: cached factors must not be
    inference tensors, or the next backward fails."""
    path = write_prior(tmp_path / "short.pt", size=10)  # L < T: the split path caches factors
    model = build(tiny_config(path))
    with torch.inference_mode():
        model(tokens())
        list(model.generate([1, 2], max_tokens=3))
    model(tokens(), targets=tokens(seed=4)).backward()
    assert model.rap.alpha.grad is not None and model.rap.alpha.grad.abs().sum() > 0
