"""Training-step time of each evaluation arm relative to none (the `rap eval` model, 1 thread).

    python dev/bench_eval_step.py [--positions 81 257] [--steps 30] [--repeats 3]

Arms are timed interleaved (none, prior with a learnt gate, zero = gate frozen at 0, a dense
random prior of rank ~P) so that machine load hits them alike; the median over repeats is shown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rap_core import eval_priors as ep  # noqa: E402
from rap_nanochat.evaluation import Settings, build_model, prior_artifact  # noqa: E402


def step_ms(model, optimizer, idx, targets, steps: int) -> float:
    for _ in range(3):  # warm-up (factor caches, allocator)
        model(idx, targets=targets).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    started = time.perf_counter()
    for _ in range(steps):
        model(idx, targets=targets).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return 1000 * (time.perf_counter() - started) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, nargs="+", default=[81, 257])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = Settings()
    print(f"| positions | arm | ms/step (median of {args.repeats}) | × none |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for length in args.positions:
            p = length - 1
            oracle = ep.oracle_prior([1, p // 2, p - 2], p)
            np.save(Path(tmp) / "oracle.npy", oracle)
            np.save(Path(tmp) / "dense.npy", ep.random_prior(np.eye(length, dtype=np.float32), 0))
            arms = {"none": ("", 0.0, False),
                    "rap (gate learnt)": (str(Path(tmp) / "oracle.npy"), 3.0, False),
                    "zero (gate frozen at 0)": (str(Path(tmp) / "oracle.npy"), 0.0, True),
                    "dense random (full rank)": (str(Path(tmp) / "dense.npy"), 3.0, False)}
            gen = torch.Generator().manual_seed(0)
            idx = torch.randint(0, 16, (settings.batch, length), generator=gen)
            targets = torch.full_like(idx, -1)
            targets[:, -1] = 17
            times = {arm: [] for arm in arms}
            for _ in range(args.repeats):
                for arm, (bias, alpha, frozen) in arms.items():
                    prior = prior_artifact(bias, tmp, alpha) if bias else ""
                    model = build_model(settings, length, 16, prior, alpha, seed=0)
                    optimizer = model.setup_optimizer(gate_lr=0.0 if frozen else 0.02)
                    times[arm].append(step_ms(model, optimizer, idx, targets, args.steps))
            base = statistics.median(times["none"])
            for arm, values in times.items():
                median = statistics.median(values)
                print(f"| {length} | {arm} | {median:.1f} | {median / base:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
