"""Forward+backward time of RAP attention vs the same attention without the prior.

    python dev/bench_attention.py [--device cpu|cuda] [--T 512 1024 2048] [--batch 1] [--repeat 3]

Rows: unbiased (SDPA is_causal; on CUDA that is the flash kernel), dense (one float mask through
SDPA: the naive reference), lowrank (FlashBias factors appended to q, k), split (biased corner +
unbiased rest; only differs when L < T), flex (CUDA only, compiled FlexAttention), auto (what the
model picks). Two prior shapes: L = T (the prior covers the sequence) and L = 80 << T (a feature
prior on a long sequence). The synthetic prior has rank 10, like a 10-vote rule.
Prints a Markdown table; each ratio is against unbiased runs interleaved with that row's runs.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rap_core.cli_parser import OneLineParser  # noqa: E402
from rap_nanochat.rap_attention import RapLayer, RapPrior, biased_attention, unbiased_attention  # noqa: E402
from rap_nanochat.rap_prior import make_prior, save_prior  # noqa: E402

VOTES = 10


def synthetic_prior(size: int, folder: str, seed: int = 0) -> RapPrior:
    gen = torch.Generator().manual_seed(seed)
    weights = torch.zeros(size)
    chosen = torch.randperm(size, generator=gen)[:VOTES]
    weights[chosen] = torch.rand(len(chosen), generator=gen) + 0.5
    stat = torch.randn(size, size, generator=gen)
    bias = weights[:, None] * (stat + stat.T) * weights[None, :]
    bias = bias / bias.abs().max()
    path = Path(folder) / f"prior_{size}.pt"
    save_prior(make_prior(bias, [f"p{i}" for i in range(size)], "features", 0.5, 1.0, [], {}),
               path)
    prior = RapPrior(str(path), 1, 1)
    prior.init_weights()
    return prior


def paired(fn, base, q, k, v, alpha, repeat: int, sync) -> tuple[float, float]:
    """Median seconds of fn and of base, runs interleaved so load drift hits both alike."""
    def once(f):
        for tensor in (q, k, v, alpha):
            tensor.grad = None
        start = time.perf_counter()
        f(q, k, v).float().sum().backward()
        sync()
        return time.perf_counter() - start

    once(fn), once(base)  # warm-up (and compile, for flex)
    pairs = [(once(fn), once(base)) for _ in range(repeat)]
    return statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs)


def bench(device: str, lengths: list[int], batch: int, heads: int, dim: int, repeat: int):
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    kernels = ["dense", "lowrank", "split", "auto"] + (["flex"] if device == "cuda" else [])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for T in lengths:
            gen = torch.Generator().manual_seed(T)

            q, k, v = (torch.randn(batch, T, heads, dim, generator=gen)
                       .to(device=device, dtype=dtype).requires_grad_(True) for _ in range(3))

            def base(q, k, v):
                return unbiased_attention(q, k, v, -1)

            for size in (T, 80):
                prior = synthetic_prior(size, folder).to(device)
                alpha = prior.alpha
                for kernel in kernels:
                    if kernel == "split" and size >= T:
                        continue
                    prior.kernel = kernel
                    rap = RapLayer(prior, alpha[0])
                    seconds, unbiased = paired(
                        lambda q, k, v, rap=rap: biased_attention(q, k, v, rap, -1), base,
                        q, k, v, alpha, repeat, sync)
                    rows.append((T, size, kernel, seconds, unbiased))
    return rows


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--T", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--heads", type=int, default=None)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    on_gpu = args.device == "cuda"
    batch = args.batch or (8 if on_gpu else 1)
    heads = args.heads or (10 if on_gpu else 6)
    torch.manual_seed(0)
    started = time.perf_counter()
    rows = bench(args.device, args.T, batch, heads, args.dim, args.repeat)
    name = torch.cuda.get_device_name() if on_gpu else f"cpu x{torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; B={batch} H={heads} D={args.dim}; "
          f"fwd+bwd, median of {args.repeat}\n")
    print("| T | prior L | path | ms | unbiased ms (interleaved) | × unbiased |")
    print("|---:|---:|---|---:|---:|---:|")
    for T, size, kernel, seconds, unbiased in rows:
        print(f"| {T} | {size} | {kernel} | {seconds * 1e3:.1f} | {unbiased * 1e3:.1f} "
              f"| {seconds / unbiased:.2f} |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
