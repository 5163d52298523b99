"""The researcher's path at toy scale on the CPU: CSV -> `rap export` -> nanochat-style shards ->
a few training steps with the prior and without it (loss finite and falling both times).

Two ends, one path:
- the real karpathy/nanochat's `scripts.base_train`, patched by dev/patch_nanochat.py, when a
  checkout is given ($NANOCHAT_CHECKOUT) and its Python dependencies are installed (tiktoken,
  pyyaml, jinja2, requests; wandb and rustbpe, imported at the top but unused here, are stubbed
  when absent). Nothing is downloaded: CORE evaluation and sampling are off, and the tokenizer
  and shards come from dev/tabular_to_nanochat.py. torch.compile is off (TORCHDYNAMO_DISABLE):
  compiling costs minutes on a CPU and is tested on its own (test_nanochat_compile.py).
- otherwise our own GPT (rap_nanochat) on the same shards, packed BOS-aligned as nanochat's
  loader packs them, with the prior indexed from each document's start. It needs no tokenizer
  library: the shards' words are the tokens (one per cell, which test_tabular_to_nanochat.py
  checks against the tiktoken encoding when tiktoken is installed).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rap_core.cli import main as rap_main
from rap_nanochat.rap_prior import load_prior

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"^step (\d+)/\d+ .*\| loss: ([-+0-9.naif]+)")
REAL_NEEDS = ("tiktoken", "yaml", "jinja2", "requests", "pyarrow")
STUBBED = ("wandb", "rustbpe")  # imported by base_train / tokenizer.py; unused on this path


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "dev" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _export(csv: Path, out: Path) -> dict:
    assert rap_main(["export", str(csv), "--layout", "features", "--out", str(out)]) == 0
    return load_prior(out)


def _missing_for_real() -> str:
    if not os.environ.get("NANOCHAT_CHECKOUT"):
        return "set NANOCHAT_CHECKOUT to a karpathy/nanochat checkout to run"
    missing = [name for name in REAL_NEEDS if importlib.util.find_spec(name) is None]
    return f"nanochat's dependencies are not installed: {', '.join(missing)}" if missing else ""


@pytest.mark.slow
@pytest.mark.skipif(bool(_missing_for_real()), reason=_missing_for_real() or "ready")
def test_real_nanochat_base_train_learns_with_and_without_the_prior(small_csv, tmp_path):
    artifact = _export(small_csv, tmp_path / "rap_prior.pt")
    base = tmp_path / "base"
    assert _script("tabular_to_nanochat").main([str(small_csv), str(base)]) == 0
    info = json.loads((base / "tabular.json").read_text())
    checkout = tmp_path / "nanochat"
    shutil.copytree(os.environ["NANOCHAT_CHECKOUT"], checkout,
                    ignore=shutil.ignore_patterns(".git", "__pycache__"))
    assert _script("patch_nanochat").main([str(checkout)]) == 0
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in STUBBED:
        if importlib.util.find_spec(name) is None:
            (stubs / f"{name}.py").write_text("")
    seq = 4 * (info["tokens_per_document"] + 1)  # whole documents (+ BOS) per row
    argv = [sys.executable, "-m", "scripts.base_train", "--device-type", "cpu", "--depth", "2",
            "--aspect-ratio", "32", "--head-dim", "32", "--max-seq-len", str(seq),
            "--window-pattern", "L", "--device-batch-size", "4", "--total-batch-size",
            str(4 * seq), "--num-iterations", "6", "--warmup-steps", "1", "--eval-every", "3",
            "--eval-tokens", str(8 * seq), "--core-metric-every", "-1", "--sample-every", "-1"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(stubs), str(checkout)]),
               NANOCHAT_BASE_DIR=str(base), NANOCHAT_RAP_BOS=str(info["bos_id"]),
               TORCHDYNAMO_DISABLE="1", OMP_NUM_THREADS="2", WANDB_MODE="disabled")
    runs = {}
    for tag, prior in (("rap", str(tmp_path / "rap_prior.pt")), ("plain", "")):
        env["NANOCHAT_RAP_PRIOR"] = prior
        proc = subprocess.run([*argv, "--model-tag", tag], cwd=checkout, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-2500:]
        runs[tag] = [line for line in proc.stdout.splitlines() if STEP.match(line)]
    for tag, lines in runs.items():
        losses = [float(STEP.match(line).group(2)) for line in lines]
        assert len(losses) == 6 and all(math.isfinite(x) for x in losses), (tag, lines)
        assert losses[-1] < losses[0], f"{tag}: loss did not fall: {losses}"
    assert all(" | rap alpha: " in line for line in runs["rap"]), "the gates in the console"
    assert not any("rap alpha" in line for line in runs["plain"])
    rap_meta = json.loads(next((base / "base_checkpoints" / "rap").glob("meta_*.json"))
                          .read_text())["model_config"]
    plain_meta = json.loads(next((base / "base_checkpoints" / "plain").glob("meta_*.json"))
                            .read_text())["model_config"]
    assert rap_meta["rap_prior_sha256"] == artifact["bias_sha256"]
    assert rap_meta["rap_bos"] == info["bos_id"] and rap_meta["rap_prior_len"] == 12
    assert plain_meta["rap_prior"] == "" and plain_meta["rap_prior_sha256"] == ""


def _packed_rows(texts: list[str], vocab: dict[str, int], bos: int, length: int):
    """nanochat's BOS-aligned packing, simply: [BOS] + document tokens, concatenated, cut into
    rows of `length` + 1 (inputs and next-token targets)."""
    stream = []
    for text in texts:
        stream += [bos] + [vocab[word] for word in text.split()]
    rows = len(stream) // (length + 1)
    data = torch.tensor(stream[:rows * (length + 1)]).view(rows, length + 1)
    return data[:, :-1].contiguous(), data[:, 1:].contiguous()


def test_our_gpt_learns_from_the_exported_prior_on_packed_shards(small_csv, tmp_path):
    """The same path without a nanochat checkout or tiktoken: our GPT stands in for base_train."""
    pq = pytest.importorskip("pyarrow.parquet")
    from rap_core.dataset import load_dataset
    from rap_nanochat.gpt import GPT, GPTConfig

    artifact = _export(small_csv, tmp_path / "rap_prior.pt")
    script = _script("tabular_to_nanochat")
    dataset = load_dataset(small_csv, "INDC")
    x = dataset.X.astype("float64")
    n_train, bins = 320, 8
    binned, _ = script.bin_rows(x, n_train, bins)
    docs = script.documents(binned, dataset.y.astype(int), bins)
    shards = script.write_shards(docs, n_train, tmp_path / "base_data_climbmix", 10000)
    train_texts = pq.read_table(shards[0]).column("text").to_pylist()
    words = [w.strip() for row in script.cell_words(x.shape[1], bins) for w in row] + ["y0", "y1"]
    vocab = {word: i for i, word in enumerate(words)}
    bos = len(vocab)
    per_doc = x.shape[1] + 2  # BOS, one token per cell, the label
    idx, targets = _packed_rows(train_texts, vocab, bos, 4 * per_doc)

    losses = {}
    for name, prior in (("rap", str(tmp_path / "rap_prior.pt")), ("plain", "")):
        config = GPTConfig(sequence_len=idx.size(1), vocab_size=bos + 1, n_layer=2, n_head=2,
                           n_kv_head=2, n_embd=32, window_pattern="L", rap_prior=prior,
                           rap_bos=bos if prior else -1)
        torch.manual_seed(0)
        with torch.device("meta"):
            model = GPT(config)
        model.to_empty(device="cpu")
        model.init_weights()
        optimizer = model.setup_optimizer()
        gen = torch.Generator().manual_seed(0)
        trace = []
        for _ in range(8):
            rows = torch.randint(0, idx.size(0), (8,), generator=gen)
            loss = model(idx[rows], targets=targets[rows])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            trace.append(loss.item())
        losses[name] = trace
        if prior:
            assert model.config.rap_prior_sha256 == artifact["bias_sha256"]
            assert set(model.rap.gate_log()) == {"rap/alpha/l0", "rap/alpha/l1"}
    for name, trace in losses.items():
        assert all(math.isfinite(x) for x in trace), (name, trace)
        assert trace[-1] < trace[0], f"{name}: loss did not fall: {trace}"
    assert losses["rap"] != losses["plain"], "the prior reached the model"
