"""Packed BOS-aligned rows: the prior is indexed from each document's start, as if unpacked.

nanochat packs several documents into one row, each starting with BOS. The bias a document's
content gets must be the one it would get alone from position 0 (the BOS carries none, as a row
in dev/train_rap.py has no BOS), and zero between documents.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

from rap_nanochat.rap_attention import (
    RapPrior,
    biased_attention,
    documents,
    reference_attention,
)
from rap_nanochat.rap_flex import flex_attention_documents
from rap_nanochat.testing import build, tiny_config, write_prior

BOS = 0
LENGTHS = ((6, 5, 5), (16,), (3, 9, 4))  # documents per row; the second is one long document


def packed_row(lengths, seed):
    gen = torch.Generator().manual_seed(seed)
    parts = [torch.cat([torch.tensor([BOS]), torch.randint(1, 50, (n - 1,), generator=gen)])
             for n in lengths]
    return torch.cat(parts)


def packed_batch():
    return torch.stack([packed_row(lengths, seed) for seed, lengths in enumerate(LENGTHS)])


def unpacked_bias(bias, lengths, T):
    """The reference: a document of n tokens is its BOS + n-1 content tokens; the content alone
    from position 0 gets B[:n-1, :n-1]; the BOS row/column, other documents and past L get 0."""
    size = bias.size(0)
    out = torch.zeros(T, T)
    start = 0
    for n in lengths:
        m = min(n - 1, size)
        out[start + 1:start + 1 + m, start + 1:start + 1 + m] = bias[:m, :m]
        start += n
    return out


def make_prior(tmp_path, size):
    prior = RapPrior(str(write_prior(tmp_path / "p.pt", size=size, votes=(0, 1, 3, 4, 8))), 2, 4,
                     per_head=True)
    prior.init_weights()
    with torch.no_grad():
        prior.alpha.copy_(torch.linspace(-1.5, 2.0, 8).view(2, 4))
    prior.bos = BOS
    return prior


def qkv(T=16, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(3, T, h, 16, generator=gen) for h in (4, 2, 2))


def test_document_positions_restart_at_each_bos():
    docs = documents(packed_batch(), BOS)
    assert docs.pos[0].tolist() == [-1, 0, 1, 2, 3, 4, -1, 0, 1, 2, 3, -1, 0, 1, 2, 3]
    assert docs.ident[0].tolist() == [1] * 6 + [2] * 5 + [3] * 5
    assert docs.pos[1].tolist() == list(range(-1, 15))
    no_bos = documents(torch.ones(1, 5, dtype=torch.long), BOS)
    assert no_bos.pos.tolist() == [[0, 1, 2, 3, 4]], "no BOS: positions from the row's start"


@pytest.mark.parametrize("size", [8, 20], ids=["L<document", "L>T"])
@pytest.mark.parametrize("window", [-1, 5])
def test_packed_bias_equals_the_unpacked_reference(tmp_path, size, window):
    prior = make_prior(tmp_path, size)
    idx = packed_batch()
    rap = prior.layer(1, idx)
    want_rows = torch.stack([unpacked_bias(prior.bias, lengths, 16) for lengths in LENGTHS])
    assert torch.equal(prior.document_rows(rap.docs), want_rows)
    q, k, v = qkv()
    got = biased_attention(q, k, v, rap, window)
    want = reference_attention(q, k, v, want_rows, rap.alpha, window)
    assert torch.allclose(got.double(), want, atol=2e-5)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_flex_forward_with_documents_matches_the_unpacked_reference(tmp_path):
    prior = make_prior(tmp_path, 8)
    idx = packed_batch()
    rap = prior.layer(0, idx)
    q, k, v = qkv()
    want_rows = torch.stack([unpacked_bias(prior.bias, lengths, 16) for lengths in LENGTHS])
    for window in (-1, 5):
        got = flex_attention_documents(q, k, v, prior.bias, rap.docs, rap.alpha, window,
                                       compiled=False)
        want = reference_attention(q, k, v, want_rows, rap.alpha, window)
        assert torch.allclose(got.double(), want, atol=2e-5)


def test_gate_gradient_with_documents(tmp_path):
    prior = make_prior(tmp_path, 8)
    idx = packed_batch()
    q, k, v = qkv()
    weight = torch.randn(3, 16, 4, 16, generator=torch.Generator().manual_seed(9))
    (biased_attention(q, k, v, prior.layer(0, idx), 5) * weight).sum().backward()
    alpha = prior.alpha.detach()[0].double().clone().requires_grad_(True)
    rows = torch.stack([unpacked_bias(prior.bias, lengths, 16) for lengths in LENGTHS])
    (reference_attention(q, k, v, rows, alpha, 5) * weight.double()).sum().backward()
    assert torch.allclose(prior.alpha.grad[0].double(), alpha.grad, rtol=1e-4, atol=1e-5)


def test_model_without_bos_in_a_row_is_the_absolute_model(tmp_path):
    """Through the whole GPT: a row with no BOS is one document from position 0 (absolute
    positions, as dev/train_rap.py trains); packed rows differ from absolute indexing."""
    path = write_prior(tmp_path / "p.pt", size=12, votes=(0, 1, 3, 4))
    packed = build(tiny_config(path, rap_bos=BOS, rap_alpha_init=2.0))
    absolute = build(tiny_config(path, rap_alpha_init=2.0))
    idx = packed_batch()
    with torch.no_grad():
        plain = idx.clamp(min=1)  # no BOS anywhere
        assert torch.allclose(packed(plain), absolute(plain), atol=1e-5)
        assert (packed(idx) - absolute(idx)).abs().max() > 1e-4


def test_packed_model_compiles_without_graph_breaks(tmp_path):
    model = build(tiny_config(write_prior(tmp_path / "p.pt", size=12), rap_bos=BOS))
    torch._dynamo.reset()
    report = torch._dynamo.explain(model)(packed_batch(), targets=packed_batch())
    torch._dynamo.reset()
    assert report.graph_break_count == 0, [r.reason for r in report.break_reasons[:2]]
