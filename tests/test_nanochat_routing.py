"""Which path `auto` takes, by what the bias touches (CPU-checkable); CUDA runs marked `cuda`."""

from __future__ import annotations

import warnings

import pytest
import torch

from rap_nanochat.rap_attention import RapPrior, choose_kernel, documents
from rap_nanochat.testing import build, tiny_config, tokens, write_prior


class FakeQuery:
    """Just what choose_kernel reads: the device kind and the query length."""

    def __init__(self, length: int, cuda: bool):
        self.is_cuda, self.length = cuda, length

    def size(self, dim: int) -> int:
        return self.length


@pytest.fixture
def prior(tmp_path):
    prior = RapPrior(str(write_prior(tmp_path / "p.pt", size=64)), 2, 4)
    prior.init_weights()
    return prior


@pytest.mark.parametrize("cuda", [False, True], ids=["cpu", "cuda"])
def test_auto_routes_by_what_the_bias_touches(prior, cuda):
    # Training, L << T: only the L x L corner is biased; the rest runs the unbiased kernel.
    assert choose_kernel(prior, FakeQuery(2048, cuda), 0, 2048) == "split"
    # Training, L >= T: the fused path of the device.
    assert choose_kernel(prior, FakeQuery(64, cuda), 0, 64) == ("flex" if cuda else "lowrank")
    # KV-cache prefill (any length) and decode: the factors on the unbiased kernel, never flex
    # (flex compiled per length would recompile for every prompt length).
    assert choose_kernel(prior, FakeQuery(37, cuda), 5, 42) == "lowrank"
    assert choose_kernel(prior, FakeQuery(1, cuda), 41, 42) == "lowrank"
    docs = documents(torch.zeros(1, 8, dtype=torch.long), 0)
    assert choose_kernel(prior, FakeQuery(8, cuda), 0, 8, docs) == ("flex" if cuda else "dense")


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.cuda
def test_cuda_split_and_flex_match_dense_in_the_model(tmp_path):
    path = write_prior(tmp_path / "p.pt", size=10)
    model = build(tiny_config(path, sequence_len=64, rap_alpha_init=1.5)).cuda()
    idx = tokens(length=64).cuda()
    with torch.no_grad():
        got = model(idx)  # auto: split (L < T) with a flex corner
        model.rap.kernel = "dense"
        want = model(idx)
    assert torch.allclose(got, want, atol=1e-3)


@needs_cuda
@pytest.mark.cuda
def test_cuda_compiled_model_has_no_graph_breaks(tmp_path):
    import torch._dynamo
    model = build(tiny_config(write_prior(tmp_path / "p.pt", size=16))).cuda()
    idx = tokens().cuda()
    torch._dynamo.reset()
    report = torch._dynamo.explain(model)(idx, targets=idx)
    assert report.graph_break_count == 0, [r.reason for r in report.break_reasons[:2]]
    compiled = torch.compile(model, dynamic=False)
    compiled(idx, targets=idx).backward()
    assert model.rap.alpha.grad is not None


@needs_cuda
@pytest.mark.cuda
def test_cuda_generation_of_several_prompt_lengths_does_not_compile(tmp_path):
    from torch._dynamo.utils import counters
    model = build(tiny_config(write_prior(tmp_path / "p.pt", size=12), sequence_len=64)).cuda()
    counters.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for length in (3, 7, 11, 20):
            list(model.generate(list(range(1, length + 1)), max_tokens=4))
    assert sum(counters["stats"].values()) == 0, dict(counters["stats"])
