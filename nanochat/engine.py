"""KV cache for generation, with nanochat's surface (get_pos, get_layer_cache, advance, prefill).

Tensors are (n_layer, B, T_max, H_kv, D), written in place by the attention call; the position is
one counter shared by the batch. The RAP prior needs nothing here: attention reads the position
and adds the bias rows B[pos:pos+Tq, :Tk] itself (see rap_attention.rap_attend).
"""

from __future__ import annotations

import torch


class KVCache:
    def __init__(self, batch_size, num_heads, seq_len, head_dim, num_layers, device, dtype):
        self.batch_size = batch_size
        self.max_seq_len = seq_len
        self.n_layers = num_layers
        shape = (num_layers, batch_size, seq_len, num_heads, head_dim)
        self.k_cache = torch.zeros(shape, device=device, dtype=dtype)
        self.v_cache = torch.zeros(shape, device=device, dtype=dtype)
        self.cache_seqlens = torch.zeros(batch_size, dtype=torch.int32, device=device)

    def reset(self):
        self.cache_seqlens.zero_()

    def get_pos(self) -> int:
        return int(self.cache_seqlens[0].item())

    def get_layer_cache(self, layer_idx):
        return self.k_cache[layer_idx], self.v_cache[layer_idx]

    def advance(self, num_tokens: int):
        if self.get_pos() + num_tokens > self.max_seq_len:
            raise ValueError(f"KV cache overflow: {self.get_pos()} + {num_tokens} tokens "
                             f"> capacity {self.max_seq_len}")
        self.cache_seqlens += num_tokens

    def prefill(self, other: KVCache):
        """Copy another cache's filled prefix (a batch-1 prompt) into this one."""
        pos = other.get_pos()
        self.k_cache[:, :, :pos] = other.k_cache[:, :, :pos]
        self.v_cache[:, :, :pos] = other.v_cache[:, :, :pos]
        self.cache_seqlens.fill_(pos)
