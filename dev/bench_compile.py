"""Compiled training step of the GPT with and without a prior (CPU or CUDA), and graph breaks.

    python dev/bench_compile.py [--device cpu] [--repeat 15] [--votes 4] [--T 80] [--threads 1]
    python dev/bench_compile.py --checkout /path/to/patched/nanochat    # the real nanochat's GPT

The demo's size by default (dev/train_rap.py: 2 layers, 4 heads, n_embd 64, T = 80 features,
64 rows a step, 8 bins); the prior is a rule-shaped L = T bias with `--votes` votes (the demo's
export has 4). Each model is `torch.compile`d as nanochat does (dynamic=False) and timed on
forward + backward + optimizer step; runs of the two models are interleaved (alternating which
goes first) and the ratio is the median of per-pair ratios, so load drift hits both alike.
Graph count and breaks come from torch._dynamo.explain. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch._dynamo


def _import_nanochat(checkout: str):
    """Our GPT (installed as rap_nanochat), or (--checkout) a patched karpathy/nanochat's `nanochat`
    package: same config fields, same calls."""
    if checkout:
        sys.path.insert(0, checkout)
    package = "nanochat" if checkout else "rap_nanochat"
    return (importlib.import_module(f"{package}.gpt"),
            importlib.import_module(f"{package}.rap_prior"))


def write_prior(rap_prior, path: Path, size: int, votes) -> Path:
    """A rule-shaped prior: diag(w) S diag(w) on the vote positions, max |B| = 1."""
    gen = torch.Generator().manual_seed(0)
    weights = torch.zeros(size)
    weights[list(votes)] = torch.rand(len(votes), generator=gen) + 0.5
    stat = torch.randn(size, size, generator=gen)
    bias = weights[:, None] * (stat + stat.T) * weights[None, :]
    prior = rap_prior.make_prior(bias / bias.abs().max(), [f"p{i}" for i in range(size)],
                                 "features", 1.0, 1.0, [], {})
    return rap_prior.save_prior(prior, path)


def build(gpt, prior: str, args, device):
    config = gpt.GPTConfig(sequence_len=args.T, vocab_size=args.T * 8 + 2, n_layer=args.n_layer,
                           n_head=4, n_kv_head=4, n_embd=args.n_embd, window_pattern="L",
                           rap_prior=prior)
    with torch.device("meta"):
        model = gpt.GPT(config)
    model.to_empty(device=device)
    torch.manual_seed(0)
    model.init_weights()
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--T", type=int, default=80)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--votes", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--checkout", default="", help="a patched nanochat checkout to measure")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (1: on a shared machine more threads oversubscribe)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    gpt, rap_prior = _import_nanochat(args.checkout)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, args.T * 8, (args.batch, args.T), generator=gen).to(device)
    with tempfile.TemporaryDirectory() as folder:
        votes = tuple(range(1, args.T, max(1, args.T // args.votes)))[:args.votes]
        path = write_prior(rap_prior, Path(folder) / "prior.pt", args.T, votes)
        runs = {}
        for name, prior in (("no prior", ""), ("prior", str(path))):
            model = build(gpt, prior, args, device)
            torch._dynamo.reset()
            report = torch._dynamo.explain(model)(idx, targets=idx)
            torch._dynamo.reset()
            optimizer = model.setup_optimizer()
            compiled = torch.compile(model, dynamic=False)
            runs[name] = dict(model=compiled, opt=optimizer, graphs=report.graph_count,
                              breaks=report.graph_break_count, eager=model, times=[],
                              rank=getattr(model.rap, "rank", "?") if model.rap is not None else 0)

        def step(run, which="model"):
            start = time.perf_counter()
            run[which](idx, targets=idx).backward()
            run["opt"].step()
            run["opt"].zero_grad(set_to_none=True)
            sync()
            return time.perf_counter() - start

        for run in runs.values():  # compile and warm up
            started = time.perf_counter()
            step(run)
            run["compile_s"] = time.perf_counter() - started
            step(run)
        eager = {name: [] for name in runs}
        order = list(runs)
        for i in range(args.repeat):
            for name in order if i % 2 == 0 else order[::-1]:  # alternate who goes first
                runs[name]["times"].append(step(runs[name]))
                eager[name].append(step(runs[name], "eager"))

    def paired(a: list[float], b: list[float]) -> float:
        """Median of the per-iteration ratios: each pair ran back to back, so drift cancels."""
        return statistics.median(x / y for x, y in zip(a, b, strict=True))

    base = runs["no prior"]["times"]
    print(f"| model | graphs | breaks | compile s | compiled step ms (median / min) | × no prior "
          f"| eager ms | × no prior |  (device {device}, T {args.T}, batch {args.batch}, "
          f"{args.threads} thread(s), {args.repeat} pairs, torch {torch.__version__})")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, run in runs.items():
        times = run["times"]
        label = name if name == "no prior" else f"prior (rank {run['rank']})"
        print(f"| {label} | {run['graphs']} | {run['breaks']} | {run['compile_s']:.1f} | "
              f"{statistics.median(times) * 1e3:.1f} / {min(times) * 1e3:.1f} | "
              f"{paired(times, base):.2f} | {statistics.median(eager[name]) * 1e3:.1f} | "
              f"{paired(eager[name], eager['no prior']):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
