"""Dataset rows -> nanochat's pretraining inputs: text shards and a one-token-per-cell tokenizer.

    python dev/tabular_to_nanochat.py data.csv OUT [--target INDC] [--bins 8]
    NANOCHAT_BASE_DIR=OUT NANOCHAT_RAP_PRIOR=rap_prior.pt NANOCHAT_RAP_BOS=<printed id> \\
        python -m scripts.base_train ...                     # from the patched nanochat checkout

What it writes under OUT (nanochat's base directory, `$NANOCHAT_BASE_DIR`):
- `base_data_climbmix/shard_NNNNN.parquet`: one document per row in a `text` column, as nanochat's
  dataloader reads them; the last shard holds the held-out rows (nanochat uses the last shard as
  its validation split);
- `tokenizer/tokenizer.pkl` (a tiktoken Encoding, what nanochat's `get_tokenizer()` unpickles) and
  `tokenizer/token_bytes.pt` (bytes per token, what its bits-per-byte evaluation reads);
- `tabular.json`: the features, bin edges, label words and the BOS id.

A row becomes " c0b3 c1b7 … y1": the cell word of feature p (its quantile bin, edges from the
training rows only, as dev/train_rap.py bins) in the prior's `features` order, then the label
word. The tokenizer has one token per word: 256 byte tokens, then every prefix of every word
(" c", " c1", " c12", " c12b", " c12b3"), so byte-pair merging always reaches the whole word, and
nanochat's special tokens. nanochat's dataloader prepends BOS to each document and packs them;
with `NANOCHAT_RAP_BOS` set, the patched model counts positions from after each BOS, so feature
p sits at prior position p, as the prior's `features` layout expects.

Needs `tiktoken` (nanochat's own dependency) and `pyarrow` for the files; `rap_core` reads the data.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPECIAL_TOKENS = ("<|bos|>", "<|user_start|>", "<|user_end|>", "<|assistant_start|>",
                  "<|assistant_end|>", "<|python_start|>", "<|python_end|>", "<|output_start|>",
                  "<|output_end|>")  # nanochat's list, in its order (names only)
SPLIT_PATTERN = r" [^ ]+"  # every word carries its leading space, so no piece is left over


class TabularError(Exception):
    """One line for the user."""


def cell_words(n_features: int, bins: int) -> list[list[str]]:
    return [[f" c{p}b{b}" for b in range(bins)] for p in range(n_features)]


def bin_rows(X: np.ndarray, n_train: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(bin index per cell, edges (P, bins-1)) with quantile edges from the training rows."""
    probs = np.arange(1, bins) / bins
    edges = np.nanquantile(X[:n_train], probs, axis=0).T  # (P, bins-1)
    binned = np.stack([np.searchsorted(edges[p], X[:, p], side="left")
                       for p in range(X.shape[1])], axis=1)
    return binned, edges


def documents(binned: np.ndarray, y: np.ndarray, bins: int) -> list[str]:
    words = cell_words(binned.shape[1], bins)
    return ["".join(words[p][b] for p, b in enumerate(row)) + f" y{label}"
            for row, label in zip(binned, y, strict=True)]


def build_encoding(words: list[str]):
    """A tiktoken Encoding with one token per word (see the module docstring)."""
    try:
        import tiktoken
    except ImportError:
        raise TabularError("tiktoken is not installed (nanochat needs it too): "
                           "pip install tiktoken") from None
    ranks: dict[bytes, int] = {bytes([i]): i for i in range(256)}
    for word in words:
        data = word.encode("utf-8")
        for end in range(2, len(data) + 1):
            ranks.setdefault(data[:end], len(ranks))
    special = {name: len(ranks) + i for i, name in enumerate(SPECIAL_TOKENS)}
    return tiktoken.Encoding(name="rap_tabular", pat_str=SPLIT_PATTERN, mergeable_ranks=ranks,
                             special_tokens=special)


def write_shards(docs: list[str], n_train: int, folder: Path, rows_per_shard: int) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [docs[i:min(i + rows_per_shard, n_train)] for i in range(0, n_train, rows_per_shard)]
    chunks.append(docs[n_train:])  # last shard: held-out rows (nanochat's val split)
    paths = []
    for index, chunk in enumerate(chunks):
        path = folder / f"shard_{index:05d}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(pa.table({"text": chunk}), tmp, row_group_size=1024)
        tmp.replace(path)
        paths.append(path)
    return paths


def convert(data: Path, out: Path, target: str, bins: int, rows_per_shard: int,
            holdout: float = 0.2) -> dict:
    import torch

    from rap_core.dataset import load_dataset
    from rap_core.errors import RapError
    try:
        dataset = load_dataset(data, target)
    except RapError as exc:
        raise TabularError(str(exc)) from None
    n = len(dataset.y)
    n_train = int(round((1 - holdout) * n))
    if n_train < 1 or n_train >= n:
        raise TabularError(f"{data}: {n} rows cannot be split into training and held-out rows")
    binned, edges = bin_rows(np.asarray(dataset.X, dtype=np.float64), n_train, bins)
    docs = documents(binned, np.asarray(dataset.y).astype(int), bins)
    words = [w for row in cell_words(len(dataset.features), bins) for w in row] + [" y0", " y1"]
    enc = build_encoding(words)
    shards = write_shards(docs, n_train, out / "base_data_climbmix", rows_per_shard)
    tokenizer_dir = out / "tokenizer"
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    with open(tokenizer_dir / "tokenizer.pkl", "wb") as fh:
        pickle.dump(enc, fh)
    special = set(enc.special_tokens_set)
    special_ids = {enc.encode_single_token(name) for name in special}
    token_bytes = [0 if i in special_ids else len(enc.decode_single_token_bytes(i))
                   for i in range(enc.n_vocab)]
    torch.save(torch.tensor(token_bytes, dtype=torch.int32), tokenizer_dir / "token_bytes.pt")
    info = {"features": list(dataset.features), "target": target, "bins": bins,
            "edges": edges.tolist(), "labels": [" y0", " y1"], "rows": n,
            "train_rows": n_train, "shards": [p.name for p in shards],
            "bos_id": enc.encode_single_token("<|bos|>"), "vocab_size": enc.n_vocab,
            "tokens_per_document": len(dataset.features) + 2}
    (out / "tabular.json").write_text(json.dumps(info, indent=1))
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="CSV/Parquet dataset")
    parser.add_argument("out", type=Path, help="output folder (use as $NANOCHAT_BASE_DIR)")
    parser.add_argument("--target", default="INDC")
    parser.add_argument("--bins", type=int, default=8)
    parser.add_argument("--rows-per-shard", type=int, default=10000)
    args = parser.parse_args(argv)
    if args.bins < 2:
        parser.error("--bins must be at least 2")
    try:
        info = convert(args.data, args.out, args.target, args.bins, args.rows_per_shard)
    except (TabularError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{info['rows']} rows -> {len(info['shards'])} shard(s) in "
          f"{args.out / 'base_data_climbmix'} (last one held out), tokenizer with "
          f"{info['vocab_size']} tokens; {info['tokens_per_document']} tokens per document + BOS")
    print(f"train: NANOCHAT_BASE_DIR={args.out} NANOCHAT_RAP_PRIOR=rap_prior.pt "
          f"NANOCHAT_RAP_BOS={info['bos_id']} python -m scripts.base_train "
          f"--max-seq-len <multiple of {info['tokens_per_document'] + 1}> ...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
