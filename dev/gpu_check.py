"""GPU measurements of the patched nanochat, run INSIDE a patched checkout (see dev/gpu_check.sh).

    cd /path/to/patched-nanochat && PYTHONPATH=. python /path/to/rap-studio/dev/gpu_check.py

It imports the checkout's `nanochat` (its gpt.py with our edits, its flash_attention.py, our
vendored rap_attention.py / rap_flex.py / rap_prior.py) and never RAP Studio's package. Prints
Markdown sections:
1. attention at T = 2048, bf16, for each of the model's window sizes: forward + backward of
   nanochat's own `flash_attn.flash_attn_func` (FA3 on Hopper, its SDPA fallback elsewhere)
   against RAP attention with L = T (flex) and L = 80 (split), and the max |diff| of the prior
   paths against the dense reference path;
2. a compiled training step (`torch.compile(model, dynamic=False)`, as base_train) with and
   without the prior: tokens/s, graph breaks, peak memory, compile time;
3. nanochat's Engine generating from prompts of several lengths: frames compiled (recompiles).
Targets (issue 12): attention ≤ 1.15× flash for L ≥ T and ≤ 1.03× for L ≪ T; tokens/s within 3%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import nanochat.flash_attention as nanochat_flash
from nanochat.flash_attention import flash_attn  # the checkout's: FA3 or its SDPA fallback
from nanochat.gpt import GPT, GPTConfig
from nanochat.rap_attention import RapPrior, biased_attention
from nanochat.rap_prior import make_prior, save_prior


def rule_prior(size: int, folder: Path, votes: int = 10, seed: int = 0) -> Path:
    gen = torch.Generator().manual_seed(seed)
    weights = torch.zeros(size)
    weights[torch.randperm(size, generator=gen)[:votes]] = torch.rand(votes, generator=gen) + 0.5
    stat = torch.randn(size, size, generator=gen)
    bias = weights[:, None] * (stat + stat.T) * weights[None, :]
    bias = bias / bias.abs().max()
    path = folder / f"prior_{size}.pt"
    save_prior(make_prior(bias, [f"p{i}" for i in range(size)], "features", 0.5, 1.0, [], {}),
               path)
    return path


def timed(fn, repeat: int) -> float:
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def attention_rows(folder: Path, args) -> list[str]:
    T, H, D = 2048, args.heads, 128
    config = GPTConfig(sequence_len=T, vocab_size=256, n_layer=4, n_head=H, n_kv_head=H,
                       n_embd=H * D, window_pattern="SSSL", rap_prior="")
    windows = sorted({w for w, _ in GPT._compute_window_sizes(None, config)})
    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(args.batch, T, H, D, device="cuda", dtype=torch.bfloat16,
                           generator=gen).requires_grad_(True) for _ in range(3))
    rows = ["| window | prior L | path | ms (fwd+bwd) | flash ms | × flash | max |diff| vs dense |",
            "|---:|---:|---|---:|---:|---:|---:|"]
    for size in (T, 80):
        prior = RapPrior(str(rule_prior(size, folder)), 1, H).cuda()
        prior.init_weights()
        for window in windows:
            def flash(window=window):
                for t in (q, k, v):
                    t.grad = None
                flash_attn.flash_attn_func(q, k, v, causal=True,
                                           window_size=(window, 0)).sum().backward()

            def rap(window=window, prior=prior):
                for t in (q, k, v):
                    t.grad = None
                biased_attention(q, k, v, prior.layer(0), window).sum().backward()

            base, ours = timed(flash, args.repeat), timed(rap, args.repeat)
            with torch.no_grad():
                prior.kernel = "dense"
                want = biased_attention(q, k, v, prior.layer(0), window).float()
                prior.kernel = "auto"
                got = biased_attention(q, k, v, prior.layer(0), window).float()
            path = "split" if size < T else "flex"
            rows.append(f"| {window} | {size} | {path} | {ours * 1e3:.2f} | {base * 1e3:.2f} | "
                        f"{ours / base:.3f} | {(got - want).abs().max().item():.2e} |")
    return rows


def build(prior: str, args) -> GPT:
    config = GPTConfig(sequence_len=args.T, vocab_size=32768, n_layer=args.depth,
                       n_head=args.depth * 64 // 128, n_kv_head=args.depth * 64 // 128,
                       n_embd=args.depth * 64, window_pattern="SSSL", rap_prior=prior)
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cuda")
    torch.manual_seed(0)
    model.init_weights()
    return model


def step_rows(folder: Path, args) -> list[str]:
    import torch._dynamo
    rows = ["| model | graphs | breaks | compile s | step ms | tokens/s | × no prior | peak GiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    base_tps = None
    gen = torch.Generator(device="cuda").manual_seed(0)
    idx = torch.randint(0, 32768, (args.step_batch, args.T), device="cuda", generator=gen)
    for name, prior in (("no prior", ""), ("prior L = T", str(rule_prior(args.T, folder))),
                        ("prior L = 80", str(rule_prior(80, folder)))):
        model = build(prior, args)
        torch._dynamo.reset()
        report = torch._dynamo.explain(model)(idx, targets=idx)
        torch._dynamo.reset()
        optimizer = model.setup_optimizer()
        compiled = torch.compile(model, dynamic=False)

        def step(model=model, compiled=compiled, optimizer=optimizer):
            compiled(idx, targets=idx).backward()
            optimizer.step()
            model.zero_grad(set_to_none=True)

        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - start
        seconds = timed(step, args.repeat)
        tps = idx.numel() / seconds
        base_tps = base_tps or tps
        peak = torch.cuda.max_memory_allocated() / 2**30
        rows.append(f"| {name} | {report.graph_count} | {report.graph_break_count} | "
                    f"{compile_s:.1f} | {seconds * 1e3:.1f} | {tps:,.0f} | {base_tps / tps:.3f} | "
                    f"{peak:.1f} |")
        del model, compiled, optimizer, step
        torch.cuda.empty_cache()
    return rows


class StubTokenizer:
    """What Engine.generate asks of a tokenizer: special-token ids (none are ever sampled here
    except by chance) and BOS."""

    def encode_special(self, text: str) -> int:
        return 32767 - hash(text) % 7

    def get_bos_token_id(self) -> int:
        return 0


def engine_rows(folder: Path, args) -> list[str]:
    from torch._dynamo.utils import counters

    from nanochat.engine import Engine
    rows = ["| model | prompt lengths | tokens generated | frames compiled |",
            "|---|---|---:|---:|"]
    lengths = (5, 17, 64, 300)
    for name, prior in (("no prior", ""), ("prior L = 80", str(rule_prior(80, folder)))):
        model = build(prior, args)
        model.eval()
        engine = Engine(model, StubTokenizer())
        counters.clear()
        made = 0
        for length in lengths:
            tokens = [0] + list(range(1, length))
            for _ in engine.generate(tokens, num_samples=1, max_tokens=16, temperature=0.0):
                made += 1
        frames = sum(counters["stats"].values()) if "stats" in counters else 0
        rows.append(f"| {name} | {', '.join(map(str, lengths))} | {made} | {frames} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="attention benchmark batch")
    parser.add_argument("--heads", type=int, default=10)
    parser.add_argument("--depth", type=int, default=12, help="model depth (n_embd = 64·depth)")
    parser.add_argument("--T", type=int, default=2048)
    parser.add_argument("--step-batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("error: no CUDA device; this check is for a GPU machine")
        return 2
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}  "
          f"FA3: {getattr(nanochat_flash, 'HAS_FA3', 'unknown')}\n")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for title, section in (("Attention, T = 2048, bf16, forward + backward", attention_rows),
                               ("Compiled training step (base_train's torch.compile)", step_rows),
                               ("Engine generation (recompiles)", engine_rows)):
            print(f"### {title}\n")
            print("\n".join(section(folder, args)))
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
