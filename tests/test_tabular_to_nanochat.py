"""dev/tabular_to_nanochat.py: rows -> parquet documents + a tokenizer with one token per cell,
laid out so the patched model's document positions put feature p at prior position p."""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("tabular_to_nanochat",
                                                  ROOT / "dev" / "tabular_to_nanochat.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_become_documents_with_one_token_per_cell(small_csv, tmp_path):
    pytest.importorskip("tiktoken")
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "base"
    assert _script().main([str(small_csv), str(out), "--rows-per-shard", "150"]) == 0
    info = json.loads((out / "tabular.json").read_text())
    shards = sorted((out / "base_data_climbmix").glob("shard_*.parquet"))
    assert [p.name for p in shards] == info["shards"] and len(shards) == 4  # 320 train + 80 val
    texts = [t for p in shards for t in pq.read_table(p).column("text").to_pylist()]
    assert len(texts) == info["rows"] == 400
    assert pq.read_table(shards[-1]).num_rows == 80, "the last shard holds the held-out rows"

    with open(out / "tokenizer" / "tokenizer.pkl", "rb") as fh:
        enc = pickle.load(fh)
    bos = enc.encode_single_token("<|bos|>")
    assert bos == info["bos_id"]
    P = len(info["features"])
    for text in texts[:20] + texts[-5:]:
        ids = enc.encode_ordinary(text)
        assert len(ids) == P + 1, "one token per cell, plus the label"
        assert [enc.decode([i]) for i in ids] == [" " + word for word in text.split()]
        assert enc.decode(ids) == text
    token_bytes = torch.load(out / "tokenizer" / "token_bytes.pt")
    assert token_bytes.shape == (enc.n_vocab,) and token_bytes[bos] == 0

    # nanochat prepends BOS; the patched model counts from after it: cell p at position p.
    from rap_nanochat.rap_attention import documents
    row = torch.tensor([[bos] + enc.encode_ordinary(texts[0])])
    assert documents(row, bos).pos[0].tolist() == [-1] + list(range(P + 1))


def test_bad_input_is_one_line(tmp_path, capsys):
    assert _script().main([str(tmp_path / "missing.csv"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
