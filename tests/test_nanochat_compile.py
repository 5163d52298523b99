"""torch.compile traces the model with a prior in one graph: no graph breaks on any CPU path.

nanochat trains `torch.compile(model)`; a graph break in every layer's attention costs time on
every step. `torch._dynamo.explain` traces (without running inductor), so these stay fast.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

from rap_nanochat.rap_prior import make_prior, save_prior
from rap_nanochat.testing import build, rule_bias, tiny_config, tokens, write_prior


def _explain(model, idx):
    torch._dynamo.reset()
    try:
        return torch._dynamo.explain(model)(idx, targets=idx)
    finally:
        torch._dynamo.reset()


def _breaks(report) -> str:
    return "; ".join(reason.reason.splitlines()[0] for reason in report.break_reasons[:3])


SLOW = pytest.mark.slow  # each trace takes 3-5 s on 2 shared cores


@pytest.mark.parametrize("size,kernel", [
    (10, "auto"),
    pytest.param(24, "auto", marks=SLOW), pytest.param(16, "auto", marks=SLOW),
    pytest.param(24, "dense", marks=SLOW), pytest.param(10, "lowrank", marks=SLOW),
], ids=["L<T split", "L>T lowrank", "L=T lowrank", "dense", "L<T lowrank"])
def test_compiled_model_with_a_prior_has_no_graph_breaks(tmp_path, size, kernel):
    model = build(tiny_config(write_prior(tmp_path / "p.pt", size=size), rap_alpha_per_head=True))
    model.rap.kernel = kernel
    report = _explain(model, tokens())
    assert report.graph_break_count == 0, f"{report.graph_break_count} breaks: {_breaks(report)}"
    assert report.graph_count == 1


@SLOW
def test_full_rank_prior_takes_the_dense_path_without_breaks(tmp_path):
    # Above MAX_LOWRANK the inner path is dense; that choice too is made once, at init.
    bias = torch.randn(80, 80, generator=torch.Generator().manual_seed(0))
    bias = (bias + bias.T) / (bias + bias.T).abs().max()
    path = save_prior(make_prior(bias, [f"p{i}" for i in range(80)], "features", 0.5, 1.0, [], {}),
                      tmp_path / "full.pt")
    model = build(tiny_config(path, sequence_len=80, window_pattern="L"))
    assert model.rap.rank == 80 and model.rap.inner == "dense"
    report = _explain(model, tokens(length=80))
    assert report.graph_break_count == 0, _breaks(report)


def test_rank_and_factors_are_set_at_init_and_after_a_load(tmp_path):
    model = build(tiny_config(write_prior(tmp_path / "p.pt", size=12, votes=(1, 4, 6))))
    assert model.rap.rank == 3 and model.rap.inner == "lowrank"
    left, right = model.rap.factors()
    assert torch.allclose(left @ right.T, model.rap.bias, atol=1e-6)
    state = model.state_dict()
    assert "rap.u_factor" not in state, "factors follow from the bias and are not saved"
    state["rap.bias"] = rule_bias(12, votes=(0, 2, 5, 7, 11), seed=4)
    model.load_state_dict(state)
    assert model.rap.rank == 5
    left, right = model.rap.factors()
    assert torch.allclose(left @ right.T, state["rap.bias"], atol=1e-6)
