"""RAP attention: causal, sliding-window attention with an additive, gated prior.

The contract every path computes (and the tests check against an explicit softmax): for a query
at absolute position i and a key at position j, per head h,

    logit[i, j] = q_i . k_j / sqrt(D) + alpha[h] * B[i, j]   if 0 <= i - j <= window
                = -inf                                        otherwise   (window < 0: no limit)

B is the model's ONE bias (L x L, read from rap_prior.pt through rap_prior.py). Outside its L x L
block it is zero: positions past L get no prior and attend as the unbiased model would. alpha is a
layer's 1-D gate (1 value, or one per head). Tensors come and go in nanochat's (B, T, H, D) layout.

Design choices:
- `RapPrior` owns the bias (a persistent buffer, stored once per model, so a checkpoint carries the
  exact numbers even if the file moves or changes) and the gates (n_layer, n_gate) — scalars, for
  an AdamW group, never Muon. nanochat builds models under the meta device, so the file is read
  in `init_weights()`, not in `__init__` (which only learns the size L).
- Paths, one contract (`RapPrior.kernel` picks one; "auto" routes by what the bias touches):
    dense    SDPA with one float mask alpha*B + causal/window -inf, cast to q's dtype; never
             together with is_causal. The reference path; packed documents on CPU.
    lowrank  FlashBias: B = U V^T (rank <= number of votes). Append alpha*U*sqrt(D) to q and V to
             k and run the UNBIASED kernel with explicit scale 1/sqrt(D): exact up to float error,
             and it keeps SDPA's is_causal fast path (bf16/fp16: hi + lo halves). CPU training
             and every KV-cache step (any prompt length, nothing compiled per length).
    split    L < T: causal queries before L only see keys before L, so the biased kernel runs on
             the L x L corner and the unbiased kernel (nanochat's own flash_attn inside a
             checkout) on the whole sequence; rows past L come from the latter.
    flex     CUDA: FlexAttention with score_mod += alpha[h] * B[q, kv] and a block mask for
             causal + window, built once per (T, window) and cached (rap_flex.py).
- Compile-friendly: rank, factors and the inner path are derived when the bias arrives
  (init_weights, state-dict load); forward reads attributes and buffers only (no graph breaks).
- KV cache (prefill and decode) adds the bias rows B[pos:pos+Tq, :Tk], so generation sees exactly
  what training saw; once pos >= L the rows are zero and the unbiased path runs.
- Packed rows (nanochat's BOS-aligned documents, `Documents`): the prior is indexed from each
  document's start and is zero between documents.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .rap_prior import PriorFormatError, bias_sha256, check_alpha_init, load_prior
from .rap_ranks import read_artifact

KERNELS = ("auto", "dense", "lowrank", "split", "flex")
MAX_LOWRANK = 64      # above this rank the appended dims cost more than a dense mask
_RANK_TOL = 1e-6      # singular values below this fraction of the largest are float noise


# ---------------------------------------------------------------------------------------------
# The prior and its gates


class RapLayer(NamedTuple):
    """What one layer's attention needs: the shared RAP module (bias) and this layer's 1-D gate.

    It also speaks FA3's API (`flash_attn_func`, `flash_attn_with_kvcache`), so a nanochat
    checkout swaps it in with `(rap or flash_attn).flash_attn_func(...)`.
    """

    module: RapPrior
    alpha: torch.Tensor  # (n_gate,), a view of module.alpha; gradients flow to the parameter
    docs: Documents | None = None  # packed rows: positions relative to each document's start

    def flash_attn_func(self, q, k, v, causal=True, window_size=(-1, -1)):
        _require_causal(causal)
        return biased_attention(q, k, v, self, window_size[0])

    def flash_attn_with_kvcache(self, q, k_cache, v_cache, k=None, v=None, cache_seqlens=None,
                                causal=True, window_size=(-1, -1)):
        """Like FA3: write k, v at the cache position in place, attend; the caller advances."""
        _require_causal(causal)
        pos, q_len = int(cache_seqlens[0].item()), q.size(1)
        if k is not None and v is not None:
            k_cache[:, pos:pos + q_len] = k
            v_cache[:, pos:pos + q_len] = v
        end = pos + q_len
        # Generation is one document from position 0 (nanochat's prompts start with BOS), so
        # absolute positions are the document's positions here.
        return biased_attention(q, k_cache[:, :end], v_cache[:, :end], self._replace(docs=None),
                                window_size[0], pos)


class Documents(NamedTuple):
    """Packed BOS-aligned rows (nanochat's dataloader): where each token sits in its document.

    nanochat packs several documents into one training row, each starting with BOS. A prior is
    defined on a document's content (a tabular row serialised from position 0, as
    dev/train_rap.py does without any BOS), so a token's prior index counts the tokens since the
    last BOS, the BOS excluded: the first token after a BOS is position 0 and the BOS itself
    carries no prior. Between two different documents the bias is zero. Tokens before the first
    BOS of a row count from the row's start.
    """

    pos: torch.Tensor  # (B, T) long: position within its document; -1 for the BOS itself
    ident: torch.Tensor  # (B, T) long: which document of the row (0 before the first BOS)


def documents(idx: torch.Tensor, bos: int) -> Documents:
    """Document positions from the token ids alone (traceable: no Python loop, no sync)."""
    steps = torch.arange(idx.size(1), device=idx.device).expand_as(idx)
    is_bos = idx == bos
    last_bos = torch.cummax(torch.where(is_bos, steps, torch.full_like(steps, -1)), dim=1).values
    return Documents(steps - last_bos - 1, is_bos.long().cumsum(dim=1))


def _require_causal(causal: bool) -> None:
    if not causal:
        raise ValueError("RAP attention is causal only (the prior is defined on a causal model)")


PRIOR_ENV = "NANOCHAT_RAP_PRIOR"
BOS_ENV = "NANOCHAT_RAP_BOS"  # token id that starts each packed document; unset: absolute


def prior_from_env() -> str:
    """$NANOCHAT_RAP_PRIOR, else "" (off): what `GPTConfig.rap_prior = None` resolves to.

    nanochat's training scripts build GPTConfig with explicit arguments, so an environment
    variable is how a prior reaches them without editing them (it also crosses torchrun to every
    rank). It is read when a model is built from the config (`RapPrior.from_config`), never at
    import, and the resolved path is written back into the config, so a checkpoint's config
    names its prior (or "") explicitly and is not affected by the variable.
    """
    return os.environ.get(PRIOR_ENV, "")


def bos_from_env() -> int:
    """$NANOCHAT_RAP_BOS as an int (-1 when unset: positions are absolute, one document a row)."""
    value = os.environ.get(BOS_ENV, "").strip()
    try:
        return int(value) if value else -1
    except ValueError:
        raise PriorFormatError(f"${BOS_ENV}={value!r}: expected a token id (an integer)") from None


def artifact_header(artifact: dict) -> dict:
    """L, bias_sha256 and source of a validated artifact: what the config records."""
    return {"size": int(artifact["bias"].shape[0]), "bias_sha256": artifact["bias_sha256"],
            "source": artifact["source"]}


class RapPrior(nn.Module):
    """One bias buffer per model + one gate per layer (or per layer and head).

    Everything the forward pass decides on is derived once, when the bias arrives (init_weights or
    a state-dict load), as plain Python values and buffers: the rank of B, its factors U, V and
    the inner path ("lowrank" or "dense"). The forward pass then reads attributes only: no
    `int(tensor)`, no Python caches, nothing `torch.compiler.disable`d, so a `torch.compile`d
    model traces it in one graph.
    """

    def __init__(self, path: str, n_layer: int, n_head: int, *, size: int = 0,
                 per_head: bool = False, alpha_init: float | None = None,
                 artifact: dict | None = None):
        super().__init__()
        self.path = str(path)
        # size > 0 means "rebuilding a trained model": the checkpoint will supply the bias, so a
        # moved or edited file is survivable (see init_weights).
        self.rebuilding = size > 0
        # The artifact is read and validated ONCE (every rank agreeing on it, rap_ranks.py), or
        # handed in already validated; init_weights() copies its bias and lets it go.
        if artifact is None and not self.rebuilding:
            artifact = read_artifact(self.path)
        self.artifact = artifact
        self.header = {} if artifact is None else artifact_header(artifact)
        self.size = size if self.rebuilding else self.header["size"]
        # Bounded like the file's own alpha_init: a huge gate makes the logits (and the loss) inf.
        self.alpha_override = (None if alpha_init is None
                               else check_alpha_init(alpha_init, "rap_alpha_init"))
        self.register_buffer("bias", torch.zeros(self.size, self.size), persistent=True)
        self.alpha = nn.Parameter(torch.zeros(n_layer, n_head if per_head else 1))
        # Derived from the bias (not saved: a checkpoint carries the bias, these follow from it).
        self.register_buffer("u_factor", torch.zeros(self.size, 8), persistent=False)
        self.register_buffer("v_factor", torch.zeros(self.size, 8), persistent=False)
        self.rank = 0
        self.inner = "lowrank"  # the path for the biased block on CPU: "lowrank" or "dense"
        self.kernel = "auto"
        self.sha256 = ""
        self.from_env = False  # True when the path came from $NANOCHAT_RAP_PRIOR
        self.bos = -1  # >= 0: rows are packed documents starting with this token (see Documents)
        self.pending = False  # True while the bias is a placeholder waiting for a checkpoint
        self.register_load_state_dict_post_hook(RapPrior._after_load)

    @classmethod
    def from_config(cls, config, model: nn.Module | None = None,
                    artifact: dict | None = None) -> RapPrior | None:
        """The RAP module a GPTConfig asks for (None when off); records path and L in the config.

        `config.rap_prior` None means "not given": $NANOCHAT_RAP_PRIOR decides, read now (when the
        model is built, never at import). The resolved path is written back, so the config saved
        with a checkpoint names its prior explicitly. Given `model`, a load hook on it lets a
        checkpoint without RAP keys drop an environment-supplied prior (see `drop_if_absent`).
        `artifact`: the file's contents, already validated by the caller (not read again).
        """
        from_env = config.rap_prior is None
        if from_env:
            config.rap_prior = prior_from_env()
        if not config.rap_prior:
            return None
        module = cls(config.rap_prior, config.n_layer, config.n_head, size=config.rap_prior_len,
                     per_head=config.rap_alpha_per_head, alpha_init=config.rap_alpha_init,
                     artifact=artifact)
        module.from_env = from_env
        bos = getattr(config, "rap_bos", -1)
        if bos is None:  # "not given": the environment decides, like rap_prior
            bos = config.rap_bos = bos_from_env()
        module.bos = int(bos)
        config.rap_prior_len = module.size  # saved with the config: rebuilds need no file
        if module.header:  # provenance into the config, so nanochat's checkpoint meta has it
            if hasattr(config, "rap_prior_sha256"):
                config.rap_prior_sha256 = module.header["bias_sha256"]
            if hasattr(config, "rap_prior_source"):
                config.rap_prior_source = json.dumps(module.header["source"], sort_keys=True,
                                                     default=str)
        if model is not None:
            model.register_load_state_dict_pre_hook(drop_if_absent)
        return module

    @torch.no_grad()
    def init_weights(self) -> None:
        """Copy the artifact's bias and alpha_init in (runs after to_empty, so real memory).

        The artifact read at construction is used and released; only a rebuild from a checkpoint's
        config (or a second init) reads the file here."""
        artifact, self.artifact = self.artifact, None
        try:
            if artifact is None:
                with torch.device("cpu"):
                    artifact = load_prior(self.path)
            size = artifact["bias"].shape[0]
            if size != self.size:
                raise PriorFormatError(f"{self.path}: prior is {size}x{size} but this model was "
                                       f"built for {self.size}x{self.size}")
        except PriorFormatError as exc:
            if not self.rebuilding:
                raise
            warnings.warn(f"{exc}; the bias stays zero until a checkpoint supplies it",
                          stacklevel=2)
            self.bias.zero_()
            self.alpha.fill_(self.alpha_override or 0.0)
            self.pending = True
            self._derive()
            return
        self.bias.copy_(artifact["bias"])
        alpha = artifact["alpha_init"] if self.alpha_override is None else self.alpha_override
        self.alpha.fill_(float(alpha))
        self.sha256 = artifact["bias_sha256"]
        self.pending = False
        self._derive()

    @staticmethod
    def _after_load(module: RapPrior, incompatible) -> None:
        module.pending = False
        module.sha256 = bias_sha256(module.bias)
        module._derive()

    def _derive(self) -> None:
        """Rank, factors and inner path from the current bias: once per init or load."""
        with _cacheable(), torch.no_grad():
            left, right = low_rank_factors(self.bias)
        self.u_factor, self.v_factor = left, right
        self.rank = factor_rank((left, right))
        self.inner = "lowrank" if self.rank <= MAX_LOWRANK else "dense"

    def layer(self, index: int, idx: torch.Tensor | None = None) -> RapLayer:
        """Layer `index`'s view; given the token ids of a training row (and a BOS id), the prior
        is indexed relative to each packed document's start."""
        if self.pending:
            raise PriorFormatError(f"{self.path}: prior file unavailable and no checkpoint "
                                   f"supplied its bias; load a state dict first")
        docs = documents(idx, self.bos) if idx is not None and self.bos >= 0 else None
        return RapLayer(self, self.alpha[index], docs)

    def extra_repr(self) -> str:
        return (f"size={self.size}, rank={self.rank}, gates={tuple(self.alpha.shape)}, "
                f"kernel={self.kernel!r}")

    def rows(self, q_start: int, q_len: int, k_len: int) -> torch.Tensor:
        """B[q_start:q_start+q_len, :k_len] as float32, zero past L (traceable: slice + pad)."""
        return _block(self.bias, q_start, q_len, k_len)

    def gate_log(self) -> dict[str, float]:
        """{"rap/alpha/l{i}": mean gate of layer i}: what a patched base_train adds to its wandb
        `log_data`. Reads the gates (one small device sync): call it at logging steps only."""
        means = self.alpha.detach().float().mean(dim=1).cpu().tolist()
        return {f"rap/alpha/l{i}": value for i, value in enumerate(means)}

    def gate_report(self) -> str:
        """" | rap alpha: 1.000 0.970 …", the gates in layer order (a per-head gate: its mean), for
        the end of a patched base_train's console step line."""
        return " | rap alpha: " + " ".join(f"{value:.3f}" for value in self.gate_log().values())

    def document_rows(self, docs: Documents) -> torch.Tensor:
        """(B, T, T) bias of packed rows: B[pos_i, pos_j] within a document, 0 across documents,
        past L and on BOS tokens."""
        table = F.pad(self.bias, (0, 1, 0, 1))  # row/column L: zero, "past the prior" or a BOS
        pos = torch.where(docs.pos < 0, self.size, docs.pos.clamp(max=self.size))
        rows = table[pos.unsqueeze(2), pos.unsqueeze(1)]
        same = docs.ident.unsqueeze(2) == docs.ident.unsqueeze(1)
        return rows * same

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(U, V) with B = U V^T, rank padded to a multiple of 8 with zero columns."""
        return self.u_factor, self.v_factor


def drop_if_absent(model: nn.Module, state_dict, prefix, *args) -> None:
    """Load pre-hook on the model: a checkpoint without RAP keys was trained without a prior.

    If the prior came from $NANOCHAT_RAP_PRIOR (not from the checkpoint's config), the model
    becomes the unbiased one again: no module, no parameter, `rap_prior` cleared in the config,
    so strict loading succeeds and a later save records "no prior". An explicit `rap_prior`
    keeps its module, and strict loading reports the missing keys as usual.
    """
    module = getattr(model, "rap", None)
    if module is None or not module.from_env:
        return
    if any(key.startswith(prefix + "rap.") for key in state_dict):
        return
    warnings.warn(f"checkpoint has no RAP prior: loading it without one (${PRIOR_ENV}="
                  f"{module.path} applies to new models only)", stacklevel=2)
    model.rap = None
    config = getattr(model, "config", None)
    if config is not None:
        config.rap_prior, config.rap_prior_len = "", 0
        for key in ("rap_prior_sha256", "rap_prior_source"):
            if hasattr(config, key):
                setattr(config, key, "")


def _block(table: torch.Tensor, start: int, rows: int, cols: int) -> torch.Tensor:
    """table[start:start+rows, :cols] with zeros past its edges, by slicing and padding only."""
    size = table.size(0)
    have_rows = max(0, min(size, start + rows) - start)
    have_cols = min(table.size(1), cols)
    block = table[start:start + have_rows, :have_cols]
    return F.pad(block, (0, cols - have_cols, 0, rows - have_rows))


def _cacheable():
    """Derived tensors are made outside inference mode: nanochat evaluates and samples under
    torch.inference_mode() between training steps, and an inference tensor cannot be saved for
    backward by the next training step."""
    return torch.inference_mode(False)


def low_rank_factors(bias: torch.Tensor,
                     tol: float = _RANK_TOL) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact-rank factorisation B = U V^T through a float64 SVD (rank = singular values > tol)."""
    b64 = bias.detach().to(device="cpu", dtype=torch.float64)
    u, s, vh = torch.linalg.svd(b64, full_matrices=False)
    rank = int((s > tol * s[0]).sum()) if s.numel() and s[0] > 0 else 0
    width = max(8, -(-rank // 8) * 8)  # kernels like head dims in multiples of 8
    left = torch.zeros(bias.shape[0], width, dtype=torch.float64)
    right = torch.zeros(bias.shape[0], width, dtype=torch.float64)
    left[:, :rank] = u[:, :rank] * s[:rank]
    right[:, :rank] = vh[:rank].T
    return (left.to(device=bias.device, dtype=torch.float32),
            right.to(device=bias.device, dtype=torch.float32))


def factor_rank(factors: tuple[torch.Tensor, torch.Tensor]) -> int:
    return int((factors[0].abs().sum(0) > 0).sum())


# ---------------------------------------------------------------------------------------------
# Masks and the unbiased kernel


def allowed(q_start: int, q_len: int, k_len: int, window: int, device) -> torch.Tensor:
    """Bool (q_len, k_len): key j visible to query q_start+i (causal, and within the window)."""
    i = q_start + torch.arange(q_len, device=device).unsqueeze(1)
    j = torch.arange(k_len, device=device).unsqueeze(0)
    keep = j <= i
    if window >= 0:
        keep = keep & ((i - j) <= window)
    return keep


def _nanochat_flash():
    """nanochat's own `flash_attn` (FA3 on Hopper, its SDPA fallback elsewhere) when this module
    runs inside a patched nanochat checkout; None in RAP Studio's copy (`rap_nanochat` has no
    flash_attention module). The unbiased part of a biased call (everything past L) then runs the
    kernel nanochat would have run. Relative: the checkout's neighbour, never a package by name."""
    try:
        from .flash_attention import flash_attn
    except ImportError:
        return None
    return flash_attn


_FLASH = _nanochat_flash()


def _sdpa(q, k, v, **kwargs) -> torch.Tensor:
    """SDPA on (B, T, H, D) tensors; GQA through enable_gqa."""
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       enable_gqa=q.size(2) != k.size(2), **kwargs)
    return y.transpose(1, 2)


def unbiased_attention(q, k, v, window: int, q_start: int = 0, scale: float | None = None):
    """Causal (windowed) attention with no prior; is_causal whenever the window covers all keys."""
    q_len, k_len = q.size(1), k.size(1)
    if _FLASH is not None and q.is_cuda and scale is None and q_start == 0 and q_len == k_len:
        return _FLASH.flash_attn_func(q, k, v, causal=True, window_size=(window, 0))
    if q_start == 0 and q_len == k_len and (window < 0 or window >= k_len - 1):
        return _sdpa(q, k, v, is_causal=True, scale=scale)
    if q_len == 1 and q_start == k_len - 1:  # one decoded token sees a suffix of the cache
        first = 0 if window < 0 else max(0, k_len - 1 - window)
        return _sdpa(q, k[:, first:], v[:, first:], scale=scale)
    mask = allowed(q_start, q_len, k_len, window, q.device)
    return _sdpa(q, k, v, attn_mask=mask, scale=scale)


# ---------------------------------------------------------------------------------------------
# Biased paths (all take the gate as a 1-D tensor of 1 or H values)


def dense_attention(q, k, v, bias_rows, alpha, window: int, q_start: int = 0):
    """Reference path: one additive float mask alpha*B + (-inf outside causal/window).

    bias_rows is (Tq, Tk), or (B, Tq, Tk) for packed documents (one bias per row)."""
    gate = alpha.reshape(1, -1, 1, 1).float()
    rows = bias_rows.float()
    mask = gate * (rows.unsqueeze(1) if rows.dim() == 3 else rows.unsqueeze(0).unsqueeze(0))
    keep = allowed(q_start, q.size(1), k.size(1), window, q.device)
    mask = mask.masked_fill(~keep, float("-inf")).to(q.dtype)
    return _sdpa(q, k, v, attn_mask=mask)


def lowrank_attention(q, k, v, u_rows, v_rows, alpha, window: int, q_start: int = 0):
    """FlashBias: alpha*B = (alpha U) V^T folded into q and k; the unbiased kernel does the rest.

    In bf16/fp16 the appended factors are split into a high and a low half (see `_compensated`),
    so the prior's error does not grow with |alpha*B| as one rounding of alpha*U would make it.
    """
    batch, q_len, heads, dim = q.shape
    rank = u_rows.size(-1)
    gate = alpha.float().reshape(1, 1, -1, 1)
    qx = gate * u_rows.float().reshape(1, q_len, 1, rank) * math.sqrt(dim)
    kx = v_rows.float().reshape(1, k.size(1), 1, rank)
    if q.dtype in (torch.bfloat16, torch.float16):
        qx, kx = _compensated(qx, kx, q.dtype)
    else:
        qx, kx = qx.to(q.dtype), kx.to(k.dtype)
    extra = qx.size(-1)
    q2 = torch.cat([q, qx.expand(batch, q_len, heads, extra)], dim=-1)
    k2 = torch.cat([k, kx.expand(batch, k.size(1), k.size(2), extra)], dim=-1)
    # Same head dim for v keeps the fused CPU/GPU kernels eligible; the extra output is dropped.
    v2 = F.pad(v, (0, extra))
    y = unbiased_attention(q2, k2, v2, window, q_start, scale=1.0 / math.sqrt(dim))
    return y[..., :dim]


def _compensated(qx: torch.Tensor, kx: torch.Tensor, dtype: torch.dtype):
    """Factors as hi + lo pairs in a 16-bit dtype: q gets [hi(a), lo(a), hi(a)] and k gets
    [hi(b), hi(b), lo(b)], so their dot product is a.b up to the lo*lo term (about 2^-16
    relative instead of 2^-8). Measured at T = L = 64 in bf16: alpha = 16 gives 1.2e-2 against
    the float64 reference (dense 1.5e-2, a single rounding 4.0e-2). The gradient is exact: lo
    carries none (d lo / d a = 0), the two hi slots carry b's two halves.
    """
    q_hi = qx.to(dtype)
    q_lo = (qx - q_hi.float()).to(dtype)
    k_hi = kx.to(dtype)
    k_lo = (kx - k_hi.float()).to(dtype)
    return torch.cat([q_hi, q_lo, q_hi], dim=-1), torch.cat([k_hi, k_hi, k_lo], dim=-1)


# ---------------------------------------------------------------------------------------------
# Dispatch


def choose_kernel(module: RapPrior, q, q_start: int, k_len: int, docs=None) -> str:
    """The path for this call: the module's setting, or by what the bias touches when "auto".

    - KV-cache prefill and decode: `module.inner` (lowrank: the unbiased kernel on q, k with the
      factors appended, any length, nothing compiled, so no recompiles; dense above rank 64).
    - Training with L < T: `split`; only the L x L corner pays for the prior, the rest of the
      sequence runs the unbiased kernel (flash on CUDA).
    - Training otherwise: `flex` on CUDA; on CPU `module.inner`.
    - Packed documents: `flex` on CUDA, `dense` on CPU (the factors cannot zero the bias between
      documents).
    """
    if module.kernel != "auto":
        return module.kernel
    if docs is not None:
        return "flex" if q.is_cuda else "dense"
    if q_start > 0 or q.size(1) != k_len:
        return module.inner
    if module.size < q.size(1):
        return "split"
    return "flex" if q.is_cuda else module.inner


def biased_attention(q, k, v, rap: RapLayer, window: int, q_start: int = 0):
    """Attention with the prior for queries at absolute positions q_start.. over keys 0..Tk-1."""
    module, alpha, docs = rap
    q_len, k_len = q.size(1), k.size(1)
    if docs is not None:
        return _document_attention(q, k, v, rap, window)
    if q_start >= module.size:
        return unbiased_attention(q, k, v, window, q_start)  # rows past L carry no prior
    kernel = choose_kernel(module, q, q_start, k_len)
    if kernel == "dense":
        return dense_attention(q, k, v, module.rows(q_start, q_len, k_len), alpha, window, q_start)
    if kernel == "flex":
        from .rap_flex import flex_attention_rap
        return flex_attention_rap(q, k, v, module.rows(q_start, q_len, k_len), alpha, window,
                                   q_start)
    if kernel == "split" and q_start == 0 and q_len == k_len and module.size < q_len:
        corner = module.size
        inner = "flex" if q.is_cuda and module.kernel == "auto" else module.inner
        head = _biased_corner(q[:, :corner], k[:, :corner], v[:, :corner], rap, window, inner)
        full = unbiased_attention(q, k, v, window)
        return torch.cat([head, full[:, corner:]], dim=1)
    if kernel in ("lowrank", "split"):
        return _biased_corner(q, k, v, rap, window, "lowrank", q_start)
    raise ValueError(f"unknown RAP attention kernel {kernel!r} (expected one of {KERNELS})")


def _document_attention(q, k, v, rap: RapLayer, window: int):
    """Packed rows (training, no cache): the bias indexed by document positions."""
    module, alpha, docs = rap
    kernel = choose_kernel(module, q, 0, k.size(1), docs)
    if kernel == "flex":
        from .rap_flex import flex_attention_documents
        return flex_attention_documents(q, k, v, module.bias, docs, alpha, window)
    if kernel != "dense":
        raise ValueError(f"packed documents need the dense or flex kernel, not {kernel!r}")
    return dense_attention(q, k, v, module.document_rows(docs), alpha, window)


def _biased_corner(q, k, v, rap: RapLayer, window: int, kernel: str, q_start: int = 0):
    module, alpha, _ = rap
    q_len, k_len = q.size(1), k.size(1)
    if kernel == "flex":
        from .rap_flex import flex_attention_rap
        return flex_attention_rap(q, k, v, module.rows(q_start, q_len, k_len), alpha, window,
                                   q_start)
    if kernel == "dense":
        return dense_attention(q, k, v, module.rows(q_start, q_len, k_len), alpha, window, q_start)
    left, right = module.factors()
    u_rows = _block(left, q_start, q_len, left.size(1))
    v_rows = _block(right, 0, k_len, right.size(1))
    return lowrank_attention(q, k, v, u_rows, v_rows, alpha, window, q_start)


def rap_attend(q, k, v, rap: RapLayer | None, window_size, kv_cache=None, layer_idx: int = 0):
    """nanochat's attention call with a prior: training (no cache) or KV-cache prefill/decode.

    With a cache it does what flash_attn_with_kvcache + advance do in nanochat: write k, v at the
    cache position, attend over the filled prefix, and advance after the last layer.
    """
    if kv_cache is None:
        if rap is None:
            return unbiased_attention(q, k, v, window_size[0])
        return rap.flash_attn_func(q, k, v, causal=True, window_size=window_size)
    k_cache, v_cache = kv_cache.get_layer_cache(layer_idx)
    if rap is None:
        pos, q_len = kv_cache.get_pos(), q.size(1)
        k_cache[:, pos:pos + q_len], v_cache[:, pos:pos + q_len] = k, v
        y = unbiased_attention(q, k_cache[:, :pos + q_len], v_cache[:, :pos + q_len],
                               window_size[0], pos)
    else:
        y = rap.flash_attn_with_kvcache(q, k_cache, v_cache, k=k, v=v,
                                        cache_seqlens=kv_cache.cache_seqlens, causal=True,
                                        window_size=window_size)
    if layer_idx == kv_cache.n_layers - 1:
        kv_cache.advance(q.size(1))
    return y


def reference_attention(q, k, v, bias_rows, alpha, window: int, q_start: int = 0):
    """Explicit softmax in float64, the contract written out; tests compare every path to it."""
    q64, k64, v64 = (t.double().transpose(1, 2) for t in (q, k, v))
    groups = q64.size(1) // k64.size(1)
    k64, v64 = k64.repeat_interleave(groups, 1), v64.repeat_interleave(groups, 1)
    logits = q64 @ k64.transpose(-1, -2) / math.sqrt(q.size(-1))
    if bias_rows is not None:
        rows = bias_rows.double()
        rows = rows.unsqueeze(1) if rows.dim() == 3 else rows
        logits = logits + alpha.double().reshape(1, -1, 1, 1) * rows
    keep = allowed(q_start, q.size(1), k.size(1), window, q.device)
    logits = logits.masked_fill(~keep, float("-inf"))
    return (torch.softmax(logits, dim=-1) @ v64).transpose(1, 2)
