"""A small nanochat-style GPT whose attention can add a RAP prior.

Architecture (nanochat's, written from its description): rotary position embeddings (no learnt
positions), QK-norm, grouped-query attention, a tiled pattern of short (sliding-window) and long
layers with the last layer always long, ReLU^2 MLP, parameter-free RMSNorm, no biases, untied token
embedding and lm_head, per-layer residual scalars (resid_lambdas, x0_lambdas).

The RAP part:
- `GPTConfig.rap_prior` is the path of a rap_prior.pt ("" = off: no RapPrior module exists and the
  model is exactly the unbiased one; None = $NANOCHAT_RAP_PRIOR, read when the model is built).
  `rap_alpha_init` overrides the artifact's alpha_init; `rap_alpha_per_head` gives each head its
  own gate; `rap_prior_len` records L, filled in at construction, so a saved config can rebuild
  the model from a checkpoint without the file; `rap_prior_sha256` and `rap_prior_source` record
  the artifact's provenance the same way.
- Built like nanochat builds it: `__init__` may run under torch.device("meta") and holds shapes
  only; `init_weights()` writes every number, the prior included.
- `setup_optimizer()`: Muon for the block matrices, AdamW for embeddings, lm_head and scalars; the
  gates go to their own AdamW group, and every parameter is in exactly one group (asserted).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .optim import MuonAdamW
from .rap_attention import RapLayer, RapPrior, rap_attend


@dataclass
class GPTConfig:
    sequence_len: int = 1024
    vocab_size: int = 32768
    n_layer: int = 12
    n_head: int = 6
    n_kv_head: int = 6
    n_embd: int = 768
    window_pattern: str = "SSSL"  # tiled over layers; S = quarter context, L = full; last is L
    rap_prior: str = ""
    rap_alpha_init: float | None = None
    rap_alpha_per_head: bool = False
    rap_prior_len: int = 0
    rap_prior_sha256: str = ""  # provenance, filled at construction: checkpoints record it
    rap_prior_source: str = ""  # the artifact's source dict as JSON (data hash, rows, fit, ...)
    rap_bos: int | None = -1  # >= 0: packed documents start with this token (positions relative)


def norm(x):
    return F.rms_norm(x, (x.size(-1),))


def rotate(x, cos, sin):
    """Rotary embedding on (B, T, H, D): rotate each (first half, second half) channel pair."""
    half = x.size(-1) // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig, layer_idx: int):
        super().__init__()
        if config.n_embd % config.n_head or config.n_head % config.n_kv_head:
            raise ValueError("n_embd must divide by n_head, and n_head by n_kv_head")
        self.layer_idx = layer_idx
        self.n_head, self.n_kv_head = config.n_head, config.n_kv_head
        self.head_dim = config.n_embd // config.n_head
        self.c_q = nn.Linear(config.n_embd, self.n_head * self.head_dim, bias=False)
        self.c_k = nn.Linear(config.n_embd, self.n_kv_head * self.head_dim, bias=False)
        self.c_v = nn.Linear(config.n_embd, self.n_kv_head * self.head_dim, bias=False)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)

    def forward(self, x, cos_sin, window_size, kv_cache, rap: RapLayer | None = None):
        B, T, _ = x.size()
        q = self.c_q(x).view(B, T, self.n_head, self.head_dim)
        k = self.c_k(x).view(B, T, self.n_kv_head, self.head_dim)
        v = self.c_v(x).view(B, T, self.n_kv_head, self.head_dim)
        cos, sin = cos_sin
        q, k = norm(rotate(q, cos, sin)), norm(rotate(k, cos, sin))
        y = rap_attend(q, k, v, rap, window_size, kv_cache, self.layer_idx)
        return self.c_proj(y.contiguous().view(B, T, -1))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=False)

    def forward(self, x):
        return self.c_proj(F.relu(self.c_fc(x)).square())


class Block(nn.Module):
    def __init__(self, config: GPTConfig, layer_idx: int):
        super().__init__()
        self.attn = CausalSelfAttention(config, layer_idx)
        self.mlp = MLP(config)

    def forward(self, x, cos_sin, window_size, kv_cache, rap=None):
        x = x + self.attn(norm(x), cos_sin, window_size, kv_cache, rap)
        return x + self.mlp(norm(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig, rap_artifact: dict | None = None):
        """Shapes only: this may run under torch.device("meta"); init_weights() sets the data.

        `rap_artifact`: the prior file's contents when the caller already read and validated them
        (dev/train_rap.py checks the labels first), so the file is not read again."""
        super().__init__()
        self.config = config
        self.window_sizes = self._compute_window_sizes(config)
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(config.vocab_size, config.n_embd),
            "h": nn.ModuleList([Block(config, i) for i in range(config.n_layer)]),
        })
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.resid_lambdas = nn.Parameter(torch.ones(config.n_layer))
        self.x0_lambdas = nn.Parameter(torch.zeros(config.n_layer))
        self.rap = RapPrior.from_config(config, self, rap_artifact)  # None: rap_prior ""
        self.rotary_seq_len = config.sequence_len * 10
        cos, sin = self._rotary(self.rotary_seq_len, config.n_embd // config.n_head)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    @torch.no_grad()
    def init_weights(self):
        """Every number of the model, the prior and its gates included (runs after to_empty)."""
        nn.init.normal_(self.transformer.wte.weight, std=1.0)
        nn.init.normal_(self.lm_head.weight, std=0.001)
        bound = 3 ** 0.5 * self.config.n_embd ** -0.5  # uniform with std 1/sqrt(n_embd)
        for block in self.transformer.h:
            for linear in (block.attn.c_q, block.attn.c_k, block.attn.c_v, block.mlp.c_fc):
                nn.init.uniform_(linear.weight, -bound, bound)
            nn.init.zeros_(block.attn.c_proj.weight)  # each block starts as the identity
            nn.init.zeros_(block.mlp.c_proj.weight)
        self.resid_lambdas.fill_(1.0)
        self.x0_lambdas.fill_(0.0)
        if self.rap is not None:
            self.rap.init_weights()
        cos, sin = self._rotary(self.rotary_seq_len, self.config.n_embd // self.config.n_head)
        self.cos, self.sin = cos, sin

    def _rotary(self, seq_len, head_dim, base=10000.0):
        device = self.transformer.wte.weight.device
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=device)
                            / head_dim)
        angles = torch.outer(torch.arange(seq_len, dtype=torch.float32, device=device), inv_freq)
        return angles.cos()[None, :, None, :], angles.sin()[None, :, None, :]

    @staticmethod
    def _compute_window_sizes(config: GPTConfig):
        pattern = config.window_pattern.upper()
        if not pattern or set(pattern) - {"S", "L"}:
            raise ValueError(f"window_pattern {config.window_pattern!r}: use only S and L")
        long_window = config.sequence_len
        short_window = max(1, long_window // 4)
        sizes = [(short_window if pattern[i % len(pattern)] == "S" else long_window, 0)
                 for i in range(config.n_layer)]
        sizes[-1] = (long_window, 0)
        return sizes

    def get_device(self):
        return self.transformer.wte.weight.device

    def forward(self, idx, targets=None, kv_cache=None, loss_reduction="mean"):
        B, T = idx.size()
        t0 = 0 if kv_cache is None else kv_cache.get_pos()
        if t0 + T > self.cos.size(1):
            raise ValueError(f"sequence of {t0 + T} tokens exceeds the rotary cache "
                             f"({self.cos.size(1)})")
        cos_sin = self.cos[:, t0:t0 + T], self.sin[:, t0:t0 + T]
        x = x0 = norm(self.transformer.wte(idx))
        for i, block in enumerate(self.transformer.h):
            x = self.resid_lambdas[i] * x + self.x0_lambdas[i] * x0
            # Training rows may pack documents; a cached generation is one document from 0.
            docs_from = idx if kv_cache is None else None
            rap = self.rap.layer(i, docs_from) if self.rap is not None else None
            x = block(x, cos_sin, self.window_sizes[i], kv_cache, rap)
        logits = self.lm_head(norm(x)).float()
        logits = 15.0 * torch.tanh(logits / 15.0)  # soft cap, as nanochat
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                               ignore_index=-1, reduction=loss_reduction)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Every parameter in exactly one named group (asserted): the optimizer's accounting."""
        groups = {
            "matrices": list(self.transformer.h.parameters()),
            "embedding": list(self.transformer.wte.parameters()),
            "lm_head": list(self.lm_head.parameters()),
            "scalars": [self.resid_lambdas, self.x0_lambdas],
            "rap_gates": list(self.rap.parameters()) if self.rap is not None else [],
        }
        seen = [id(p) for params in groups.values() for p in params]
        every = [id(p) for p in self.parameters()]
        assert len(seen) == len(set(seen)) and set(seen) == set(every), "parameter accounting"
        return groups

    def setup_optimizer(self, unembedding_lr=0.004, embedding_lr=0.2, matrix_lr=0.02,
                        weight_decay=0.0, scalar_lr=0.5, gate_lr=0.02):
        groups = self.param_groups()
        scale = (self.config.n_embd / 768) ** -0.5  # AdamW lr ∝ 1/sqrt(d_model), as nanochat
        adam = dict(kind="adamw", betas=(0.8, 0.95), eps=1e-10, weight_decay=0.0)
        spec = [
            dict(adam, params=groups["lm_head"], lr=unembedding_lr * scale),
            dict(adam, params=groups["embedding"], lr=embedding_lr * scale),
            dict(adam, params=groups["scalars"], lr=scalar_lr * 0.01),
        ]
        if groups["rap_gates"]:
            spec.append(dict(adam, params=groups["rap_gates"], lr=gate_lr))
        for shape in sorted({tuple(p.shape) for p in groups["matrices"]}):
            spec.append(dict(kind="muon", lr=matrix_lr, momentum=0.95, weight_decay=weight_decay,
                             params=[p for p in groups["matrices"] if tuple(p.shape) == shape]))
        optimizer = MuonAdamW(spec)
        for group in optimizer.param_groups:
            group["initial_lr"] = group["lr"]
        return optimizer

    @torch.inference_mode()
    def generate(self, tokens: list[int], max_tokens: int, temperature: float = 0.0, seed=42):
        """Greedy (or sampled) continuation through the KV cache; yields token ids."""
        from .engine import KVCache

        device = self.get_device()
        cfg = self.config
        cache = KVCache(1, cfg.n_kv_head, len(tokens) + max_tokens, cfg.n_embd // cfg.n_head,
                        cfg.n_layer, device, self.cos.dtype)
        rng = torch.Generator(device=device).manual_seed(seed)
        ids = torch.tensor([tokens], dtype=torch.long, device=device)
        for _ in range(max_tokens):
            logits = self.forward(ids, kv_cache=cache)[:, -1]
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                ids = torch.multinomial(probs, 1, generator=rng)
            else:
                ids = logits.argmax(dim=-1, keepdim=True)
            yield int(ids.item())
