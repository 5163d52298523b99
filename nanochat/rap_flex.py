"""The fused CUDA path of RAP attention: FlexAttention with the prior read inside the kernel.

score_mod adds alpha[h] * B[q, kv] to each score, a block mask carries causal + sliding window
(built once per (lengths, window, offset) and cached: nanochat has two window sizes), and
flex_attention itself is compiled, because nanochat evaluates with the uncompiled model and eager
FlexAttention materialises the scores. No (B, H, T, T) tensor is made; the (T, T) bias table is
one per model. The gate is a 1-D tensor (a 0-D one has broken compile in some torch versions) and
gets its gradient through the captured-tensor support of FlexAttention's backward.
On CPU FlexAttention runs forward only (eager), which the tests use as a parity check.
"""

from __future__ import annotations

import torch

_BLOCK_MASKS: dict = {}
_FLEX = {}


def _flex_kernel(compiled: bool):
    from torch.nn.attention.flex_attention import flex_attention
    if not compiled or torch.compiler.is_compiling():  # inside a compiled model: dynamo fuses it
        return flex_attention
    if "compiled" not in _FLEX:  # compile the kernel itself: nanochat evaluates uncompiled models
        _FLEX["compiled"] = torch.compile(flex_attention, dynamic=False)
    return _FLEX["compiled"]


def block_mask(q_len: int, k_len: int, window: int, q_start: int, device):
    """Causal + window block mask, built once per (lengths, window, offset, device).

    Not `torch.compiler.disable`d: dynamo traces the lookup (and, on a miss, the construction)
    inside a compiled model with no graph break (checked on CPU with torch._dynamo.explain)."""
    from torch.nn.attention.flex_attention import create_block_mask
    key = (q_len, k_len, window, q_start, str(device))
    if key not in _BLOCK_MASKS:
        def mask_mod(b, h, q_idx, kv_idx):
            pos = q_idx + q_start
            keep = kv_idx <= pos
            if window >= 0:
                keep = keep & (pos - kv_idx <= window)
            return keep
        with torch.inference_mode(False):  # reused by training after an inference-mode eval
            _BLOCK_MASKS[key] = create_block_mask(mask_mod, None, None, q_len, k_len,
                                                  device=device)
    return _BLOCK_MASKS[key]


def flex_attention_rap(q, k, v, bias_rows, alpha, window: int, q_start: int = 0,
                       compiled: bool | None = None):
    """FlexAttention: the bias is read inside the kernel; no (B, H, T, T) tensor is made."""
    heads = q.size(2)
    gate = alpha.float().expand(heads) if alpha.numel() == 1 else alpha.float()
    table = bias_rows.float()

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + gate[h] * table[q_idx, kv_idx]

    if compiled is None:
        compiled = q.is_cuda
    kernel = _flex_kernel(compiled)
    mask = block_mask(q.size(1), k.size(1), window, q_start, q.device)
    y = kernel(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), score_mod=score_mod,
               block_mask=mask, enable_gqa=heads != k.size(2))
    return y.transpose(1, 2)


def flex_attention_documents(q, k, v, bias, docs, alpha, window: int,
                             compiled: bool | None = None):
    """Packed rows: score += alpha[h] * B[pos_q, pos_kv] when q and kv share a document.

    The (L+1, L+1) table (B plus a zero row/column for "past L") and the (B, T) document
    positions and ids are captured tensors; the block mask is the plain causal + window one
    (nanochat lets a document attend to earlier ones in its row; only the prior is per document).
    """
    heads = q.size(2)
    gate = alpha.float().expand(heads) if alpha.numel() == 1 else alpha.float()
    size = bias.size(0)
    table = torch.nn.functional.pad(bias.float(), (0, 1, 0, 1))
    pos = torch.where(docs.pos < 0, size, docs.pos.clamp(max=size))  # BOS: the zero row
    ident = docs.ident

    def score_mod(score, b, h, q_idx, kv_idx):
        same = ident[b, q_idx] == ident[b, kv_idx]
        entry = table[pos[b, q_idx], pos[b, kv_idx]]  # B[pos_q, pos_kv]
        return score + gate[h] * torch.where(same, entry, torch.zeros_like(entry))

    if compiled is None:
        compiled = q.is_cuda
    kernel = _flex_kernel(compiled)
    mask = block_mask(q.size(1), k.size(1), window, 0, q.device)
    y = kernel(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), score_mod=score_mod,
               block_mask=mask, enable_gqa=heads != k.size(2))
    return y.transpose(1, 2)
