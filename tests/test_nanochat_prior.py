"""A bad artifact stops the model at construction with one clear line naming the file."""

from __future__ import annotations

import pytest
import torch

from rap_nanochat.gpt import GPT
from rap_nanochat.rap_prior import PriorFormatError, bias_sha256, load_prior
from rap_nanochat.testing import tiny_config, write_prior


class Payload:
    """A custom object: torch.save pickles it, weights_only loading must refuse it."""

    def __init__(self):
        self.bias = torch.zeros(3, 3)


def _good(tmp_path) -> dict:
    return load_prior(write_prior(tmp_path / "good.pt", size=6))


def _corrupt(prior: dict, case: str) -> object:
    prior = dict(prior)
    if case == "format":
        prior["format"] = "something-else"
    elif case == "version":
        prior["version"] = 7
    elif case == "square":
        prior["bias"] = torch.zeros(6, 5)
    elif case == "nan":
        bias = prior["bias"].clone()
        bias[2, 3] = float("nan")
        prior["bias"] = bias
        prior["bias_sha256"] = bias_sha256(bias)
    elif case == "hash":
        bias = prior["bias"].clone()
        bias[0, 0] += 0.5
        prior["bias"] = bias
    elif case == "pickle":
        return Payload()
    return prior


CASES = {
    "format": "not a RAP prior",
    "version": "unsupported prior version 7",
    "square": "non-empty square matrix, got shape (6, 5)",
    "nan": "1 non-finite value",
    "hash": "bias_sha256 mismatch",
    "pickle": "weights_only loading refuses",
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_artifact_fails_with_its_message(tmp_path, case):
    path = tmp_path / f"bad_{case}.pt"
    torch.save(_corrupt(_good(tmp_path), case), path)
    with pytest.raises(PriorFormatError) as info:
        GPT(tiny_config(path))
    message = str(info.value)
    assert CASES[case] in message and str(path) in message
    assert "\n" not in message, "one line for the user"


def test_truncated_file_is_refused(tmp_path):
    path = write_prior(tmp_path / "cut.pt", size=6)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(PriorFormatError, match="not a loadable prior"):
        GPT(tiny_config(path))


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(PriorFormatError, match="no such prior file"):
        GPT(tiny_config(tmp_path / "absent.pt"))
