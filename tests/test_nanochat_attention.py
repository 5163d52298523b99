"""Every RAP attention path against the contract written out as an explicit softmax."""

from __future__ import annotations

import pytest
import torch

from rap_nanochat.rap_attention import (
    RapPrior,
    biased_attention,
    dense_attention,
    low_rank_factors,
    lowrank_attention,
    reference_attention,
    unbiased_attention,
)
from rap_nanochat.rap_flex import flex_attention_rap
from rap_nanochat.testing import rule_bias, write_prior

TOL = 2e-5


def make_prior(tmp_path, size, per_head=True, seed=0):
    path = write_prior(tmp_path / f"p{size}.pt", size=size)
    prior = RapPrior(str(path), n_layer=2, n_head=4, per_head=per_head)
    prior.init_weights()
    with torch.no_grad():  # distinct, signed gates per head so a head mix-up would show
        prior.alpha.copy_(torch.linspace(-1.5, 2.0, prior.alpha.numel()).view_as(prior.alpha))
    return prior


def qkv(T, heads=4, kv_heads=2, dim=16, seed=1, batch=2):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, T, h, dim, generator=gen) for h in (heads, kv_heads, kv_heads))


def report(name, got, want):
    err = (got.double() - want.double()).abs().max().item()
    return f"{name}: max |diff| {err:.2e} vs reference (tolerance {TOL:.0e})"


@pytest.mark.parametrize("size", [24, 16, 10], ids=["L>T", "L=T", "L<T"])
@pytest.mark.parametrize("window", [-1, 5])
@pytest.mark.parametrize("kernel", ["dense", "lowrank", "split", "auto"])
def test_paths_match_explicit_softmax(tmp_path, size, window, kernel):
    prior = make_prior(tmp_path, size)
    prior.kernel = kernel
    q, k, v = qkv(16)
    rap = prior.layer(1)
    got = biased_attention(q, k, v, rap, window)
    want = reference_attention(q, k, v, prior.rows(0, 16, 16), rap.alpha, window)
    assert torch.allclose(got.double(), want, atol=TOL), report(kernel, got, want)


@pytest.mark.parametrize("kernel", ["dense", "lowrank", "split"])
def test_bfloat16_inputs_keep_their_dtype_and_match(tmp_path, kernel):
    # The mask/factors are cast to q's dtype deliberately; the result stays within bf16 error.
    prior = make_prior(tmp_path, 10)
    prior.kernel = kernel
    q, k, v = (t.bfloat16() for t in qkv(16))
    rap = prior.layer(0)
    got = biased_attention(q, k, v, rap, 5)
    want = reference_attention(q, k, v, prior.rows(0, 16, 16), rap.alpha, 5)
    assert got.dtype == torch.bfloat16
    assert torch.allclose(got.double(), want, atol=3e-2), report(kernel, got, want)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
@pytest.mark.parametrize("size", [24, 10])
def test_flex_forward_matches_reference_on_cpu(tmp_path, size):
    # FlexAttention runs forward-only on CPU (eager): enough to check the score_mod and block mask.
    prior = make_prior(tmp_path, size)
    q, k, v = qkv(16)
    rap = prior.layer(0)
    for window in (-1, 5):
        got = flex_attention_rap(q, k, v, prior.rows(0, 16, 16), rap.alpha, window,
                                 compiled=False)
        want = reference_attention(q, k, v, prior.rows(0, 16, 16), rap.alpha, window)
        assert torch.allclose(got.double(), want, atol=TOL), report("flex", got, want)


@pytest.mark.parametrize("kernel", ["dense", "lowrank", "split"])
def test_gate_gradient_matches_reference(tmp_path, kernel):
    prior = make_prior(tmp_path, 10, per_head=False)
    prior.kernel = kernel
    q, k, v = qkv(16)
    weight = torch.randn(2, 16, 4, 16, generator=torch.Generator().manual_seed(9))
    (biased_attention(q, k, v, prior.layer(0), 5) * weight).sum().backward()
    got = prior.alpha.grad[0].clone()
    alpha = prior.alpha.detach().double()[0].clone().requires_grad_(True)
    want_out = reference_attention(q, k, v, prior.rows(0, 16, 16), alpha, 5)
    (want_out * weight.double()).sum().backward()
    assert got.abs().item() > 1e-4, "the gate received no gradient"
    assert torch.allclose(got.double(), alpha.grad, rtol=1e-4, atol=1e-5), (
        f"{kernel}: d loss / d alpha = {got.item():.6f}, reference {alpha.grad.item():.6f}")


@pytest.mark.parametrize("kernel", ["dense", "lowrank", "split"])
def test_zero_gate_is_the_unbiased_attention(tmp_path, kernel):
    prior = make_prior(tmp_path, 10)
    prior.kernel = kernel
    with torch.no_grad():
        prior.alpha.zero_()
    q, k, v = qkv(16)
    got = biased_attention(q, k, v, prior.layer(0), -1)
    assert torch.allclose(got, unbiased_attention(q, k, v, -1), atol=1e-6)


@pytest.mark.parametrize("kernel", ["auto", "dense"])  # auto: lowrank for cache steps
@pytest.mark.parametrize("q_start,q_len", [(0, 5), (3, 1), (9, 1), (11, 1), (12, 4)])
def test_cache_positions_add_the_rows_at_the_position(tmp_path, q_start, q_len, kernel):
    """Prefill and decode: queries at q_start.. see B[q_start:q_start+q_len, :Tk] (zero past L)."""
    prior = make_prior(tmp_path, 10)
    prior.kernel = kernel
    k_len = q_start + q_len
    q, _, _ = qkv(q_len, seed=4)
    _, k, v = qkv(k_len, seed=5)
    rap = prior.layer(1)
    got = biased_attention(q, k, v, rap, 6, q_start)
    want = reference_attention(q, k, v, prior.rows(q_start, q_len, k_len), rap.alpha, 6, q_start)
    assert torch.allclose(got.double(), want, atol=TOL), report("cache", got, want)


def test_rows_past_the_prior_are_zero(tmp_path):
    prior = make_prior(tmp_path, 10)
    rows = prior.rows(8, 4, 14)
    assert torch.equal(rows[:2, :10], prior.bias[8:10, :10])
    assert rows[2:].abs().sum() == 0 and rows[:, 10:].abs().sum() == 0


def test_low_rank_factors_are_exact_with_rank_of_the_votes():
    bias = rule_bias(40, votes=(2, 5, 11, 30, 31))
    left, right = low_rank_factors(bias)
    assert left.shape[1] == 8  # rank 5 padded to a multiple of 8
    assert int((left.abs().sum(0) > 0).sum()) == 5
    assert torch.allclose(left @ right.T, bias, atol=1e-6)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("size", [256, 64])
def test_compiled_flex_matches_dense_on_cuda(tmp_path, size):
    prior = make_prior(tmp_path, size).cuda()
    q, k, v = (t.cuda().requires_grad_(True) for t in qkv(256, dim=64))
    rows = prior.rows(0, 256, 256)
    out = {}
    for kernel in ("flex", "dense"):
        prior.alpha.grad = None
        prior.kernel = kernel
        y = biased_attention(q, k, v, prior.layer(1), 63)
        y.float().square().sum().backward()
        out[kernel] = (y.detach(), prior.alpha.grad.clone())
    want = reference_attention(q.detach(), k.detach(), v.detach(), rows, prior.alpha[1], 63)
    assert torch.allclose(out["flex"][0].double(), want, atol=1e-4)
    assert torch.allclose(out["flex"][1], out["dense"][1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("scale,alpha", [(1.0, 16.0), (50.0, 1.0), (50.0, 4.0)],
                         ids=["alpha 16", "entries 50", "alpha*B 200"])
def test_bfloat16_lowrank_error_does_not_grow_with_alpha_times_b(scale, alpha):
    """One bf16 rounding of alpha*U makes the logit error grow with |alpha*B|; the hi/lo factors
    keep lowrank within the dense path's error at any size."""
    T = 64
    bias = rule_bias(T, votes=(1, 4, 6, 9, 20, 33, 50)) * scale
    left, right = low_rank_factors(bias)
    gate = torch.tensor([alpha])
    q, k, v = qkv(T)
    want = reference_attention(q, k, v, bias, gate, -1)
    qb, kb, vb = (t.bfloat16() for t in (q, k, v))
    err = {
        "dense": (dense_attention(qb, kb, vb, bias, gate, -1).double() - want).abs().max(),
        "lowrank": (lowrank_attention(qb, kb, vb, left, right, gate, -1).double()
                    - want).abs().max(),
    }
    assert err["lowrank"] <= 1.2 * err["dense"] + 2e-3, f"bf16 errors {err}"


def test_bfloat16_lowrank_gate_gradient(tmp_path):
    bias = rule_bias(16, votes=(1, 4, 6, 9)) * 20
    left, right = low_rank_factors(bias)
    q, k, v = qkv(16)
    weight = torch.randn(2, 16, 4, 16, generator=torch.Generator().manual_seed(9))
    gate = torch.tensor([3.0], requires_grad=True)
    qb, kb, vb = (t.bfloat16() for t in (q, k, v))
    (lowrank_attention(qb, kb, vb, left, right, gate, 5).float() * weight).sum().backward()
    ref = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    (reference_attention(q, k, v, bias, ref, 5) * weight.double()).sum().backward()
    assert torch.allclose(gate.grad.double(), ref.grad, rtol=5e-2, atol=5e-2), (
        f"bf16 lowrank d/d alpha {gate.grad.item():.4f}, reference {ref.grad.item():.4f}")
