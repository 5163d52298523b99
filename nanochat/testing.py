"""Small priors and models for tests and benchmarks (torch only, deterministic)."""

from __future__ import annotations

import torch

from .gpt import GPT, GPTConfig
from .rap_prior import make_prior, save_prior


def rule_bias(size: int, votes=(1, 4, 6, 9), seed: int = 0) -> torch.Tensor:
    """diag(w) S diag(w) on a few vote positions, max |B| = 1: the shape a real prior has."""
    gen = torch.Generator().manual_seed(seed)
    weights = torch.zeros(size)
    votes = [vote for vote in votes if vote < size]
    weights[votes] = torch.rand(len(votes), generator=gen) + 0.5
    stat = torch.randn(size, size, generator=gen)
    bias = weights[:, None] * (stat + stat.T) * weights[None, :]
    return bias / bias.abs().max()


def write_prior(path, size: int = 12, alpha_init: float = 0.8, prefix: str = "V", **kwargs):
    prior = make_prior(rule_bias(size, **kwargs), [f"{prefix}{i}" for i in range(size)], "features",
                       alpha_init, 1.0, [], {"data_sha256": "test"})
    return save_prior(prior, path)


def tiny_config(prior_path="", **overrides) -> GPTConfig:
    fields = dict(sequence_len=16, vocab_size=50, n_layer=2, n_head=4, n_kv_head=2, n_embd=32,
                  window_pattern="SL",
                  rap_prior=None if prior_path is None else str(prior_path))
    fields.update(overrides)
    return GPTConfig(**fields)


def build(config: GPTConfig, seed: int = 0) -> GPT:
    """nanochat's recipe: meta device, to_empty, init_weights; then non-zero projections so
    attention actually changes the logits (nanochat zero-inits them)."""
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    torch.manual_seed(seed)
    model.init_weights()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for block in model.transformer.h:
            for linear in (block.attn.c_proj, block.mlp.c_proj):
                linear.weight.copy_(torch.randn(linear.weight.shape, generator=gen) * 0.2)
        model.lm_head.weight.copy_(torch.randn(model.lm_head.weight.shape, generator=gen) * 0.3)
    return model


def tokens(batch: int = 2, length: int = 16, vocab: int = 50, seed: int = 3) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))
