"""Where a model's prior comes from: the config, $NANOCHAT_RAP_PRIOR at build time, a checkpoint.

`rap_prior=None` is what a patched nanochat's GPTConfig defaults to ("not given"): the environment
variable decides when the model is built, and a checkpoint's own config decides on reload.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rap_nanochat.gpt import GPT, GPTConfig
from rap_nanochat.rap_prior import load_prior
from rap_nanochat.testing import build, tiny_config, tokens, write_prior

ENV = "NANOCHAT_RAP_PRIOR"


def _save(model) -> dict:
    return {"model": model.state_dict(), "config": dataclasses.asdict(model.config)}


def _reload(ckpt: dict) -> GPT:
    """nanochat's checkpoint_manager.build_model, in short."""
    config = GPTConfig(**ckpt["config"])
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    model.init_weights()
    model.load_state_dict(ckpt["model"], strict=True, assign=True)
    return model


def test_the_variable_is_read_when_the_model_is_built_not_at_import(tmp_path, monkeypatch):
    path = write_prior(tmp_path / "env.pt", size=12, alpha_init=0.7)
    monkeypatch.delenv(ENV, raising=False)
    config = tiny_config(None)  # built before the variable exists ...
    monkeypatch.setenv(ENV, str(path))  # ... which is set after import and after the config
    model = build(config)
    assert model.rap is not None and torch.all(model.rap.alpha == 0.7)
    assert config.rap_prior == str(path), "the resolved path is written into the config"
    monkeypatch.delenv(ENV)
    assert build(tiny_config(None)).rap is None, "unset: no prior"


def test_the_config_records_the_priors_provenance(tmp_path):
    path = write_prior(tmp_path / "p.pt", size=12)
    model = build(tiny_config(path))
    prior = load_prior(path)
    assert model.config.rap_prior_sha256 == prior["bias_sha256"]
    assert '"data_sha256": "test"' in model.config.rap_prior_source
    assert build(tiny_config()).config.rap_prior_sha256 == ""


def test_an_old_checkpoint_without_a_prior_loads_while_the_variable_is_set(tmp_path,
                                                                            monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    plain = build(tiny_config())
    ckpt = _save(plain)
    for key in [k for k in ckpt["config"] if k.startswith("rap_")]:
        del ckpt["config"][key]  # an unpatched nanochat's checkpoint knows no RAP keys
    ckpt["config"]["rap_prior"] = None  # ... so the patched default applies: "not given"
    monkeypatch.setenv(ENV, str(write_prior(tmp_path / "env.pt", size=12)))
    with pytest.warns(UserWarning, match="checkpoint has no RAP prior"):
        again = _reload(ckpt)
    assert again.rap is None and again.config.rap_prior == ""
    with torch.no_grad():
        assert torch.equal(again(tokens()), plain(tokens()))
    assert not any(key.startswith("rap.") for key in again.state_dict())
    assert again.setup_optimizer() is not None


def test_a_checkpoint_with_a_prior_names_it_whatever_the_variable_says(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(write_prior(tmp_path / "env.pt", size=12, alpha_init=0.6)))
    model = build(tiny_config(None))
    ckpt = _save(model)
    assert ckpt["config"]["rap_prior"] == str(tmp_path / "env.pt")
    monkeypatch.setenv(ENV, str(write_prior(tmp_path / "other.pt", size=20, seed=5)))
    again = _reload(ckpt)
    assert again.rap.size == 12 and torch.equal(again.rap.bias, model.rap.bias)
    monkeypatch.delenv(ENV)
    assert _reload(ckpt).rap is not None
    # ... and a checkpoint saved without a prior stays without one, variable or not.
    monkeypatch.delenv(ENV, raising=False)
    plain = _save(build(tiny_config(None)))
    assert plain["config"]["rap_prior"] == ""
    monkeypatch.setenv(ENV, str(tmp_path / "env.pt"))
    assert _reload(plain).rap is None


def test_an_explicit_prior_still_demands_its_keys(tmp_path):
    plain = _save(build(tiny_config()))
    plain["config"]["rap_prior"] = str(write_prior(tmp_path / "p.pt", size=12))
    with pytest.raises(RuntimeError, match="rap.bias"):
        _reload(plain)
