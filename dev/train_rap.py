"""Train the small GPT on dataset rows, with or without a RAP prior, and watch the gates.

    python dev/train_rap.py [--data demo.csv] [--prior rap_prior.pt] [--steps 150]
    torchrun --nproc_per_node=2 dev/train_rap.py --prior rap_prior.pt      # DDP (gloo on CPU)

Each row becomes a sequence in the features layout: the token at position p is the quantile bin of
feature p (bins are offset per position, so a token names its feature), and the model predicts the
label token at the last position — the only position with a loss. Position p is feature p, the
same order the prior's features layout uses, so B[p, q] lands on the right pair of tokens.

Design choices:
- The model side is nanochat/ alone (torch only); this script may read data through rap_core
  (`rap_core.dataset.load_dataset`, the demo by default) or make synthetic rows (`--synthetic`).
- Under torchrun every rank reads the prior itself; the bias hashes are all-gathered and a mismatch
  stops all ranks with one line. At the end the gates are all-gathered and must agree exactly.
- Quantile edges come from the training split only; the last 20% of rows are held out.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rap_core.cli_parser import OneLineParser  # noqa: E402
from rap_core.errors import RapError  # noqa: E402
from rap_nanochat.gpt import GPT, GPTConfig  # noqa: E402
from rap_nanochat.rap_prior import PriorFormatError, check_alpha_init  # noqa: E402
from rap_nanochat.rap_ranks import read_artifact  # noqa: E402
from rap_nanochat.tabular_task import label_metrics  # noqa: E402


def load_rows(args) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """(feature names, X float64 (n, P), y int64 (n,)) from a file, the demo, or synthetic."""
    if args.synthetic:
        gen = torch.Generator().manual_seed(1234)
        X = torch.rand(args.synthetic, 12, generator=gen, dtype=torch.float64)
        y = ((X[:, 2] > 0.3) & (X[:, 7] < 0.8)).long()
        return [f"X{i}" for i in range(12)], X, y
    from rap_core.dataset import load_dataset  # data side only; the model never sees rap_core
    if args.data:
        path = Path(args.data)
    else:
        from rap_core.demo import demo_path
        path = demo_path()
    data = load_dataset(path, args.target)
    return list(data.features), torch.from_numpy(data.X), torch.from_numpy(data.y).long()


def tokenize(X: torch.Tensor, y: torch.Tensor, bins: int, n_train: int):
    """Rows -> (idx (n, P), targets (n, P)) with one loss position; also returns the vocab size."""
    n, P = X.shape
    probs = torch.arange(1, bins, dtype=torch.float64) / bins
    edges = torch.quantile(X[:n_train], probs, dim=0).T.contiguous()  # (P, bins-1)
    binned = torch.stack([torch.bucketize(X[:, p].contiguous(), edges[p]) for p in range(P)], 1)
    idx = binned + bins * torch.arange(P)
    targets = torch.full((n, P), -1, dtype=torch.long)
    targets[:, -1] = P * bins + y
    return idx, targets, P * bins + 2


def check_prior(path: str, features: list[str]) -> dict:
    """The artifact, read once and identical on every rank, checked against the dataset.

    `read_artifact` makes every rank agree on rank 0's bias_sha256 (or stop together, with one
    line, when a rank cannot read the file or read another one); the checks below then see the
    same artifact on every rank, so they too fail on all ranks at once. The model is built from
    this artifact: the file is not read again."""
    artifact = read_artifact(path)
    if artifact["layout"] != "features":
        raise PriorFormatError(f"{path}: layout {artifact['layout']!r}; this script serialises "
                               f"rows by feature, so export the prior with --layout features")
    if artifact["labels"] != features[:len(artifact["labels"])]:
        raise PriorFormatError(f"{path}: prior labels {artifact['labels'][:3]}… do not match the "
                               f"dataset's features {features[:3]}…")
    return artifact


def evaluate(model, idx, targets, label_base: int) -> tuple[float, float]:
    """(loss, accuracy) of the label prediction on the held-out rows (the evaluation harness's
    scoring, nanochat/tabular_task.py; `rap eval` runs the controlled comparison)."""
    metrics = label_metrics(model, idx, targets, label_base)
    return metrics["loss"], metrics["acc"]


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="", help="CSV/Parquet file (default: the demo)")
    parser.add_argument("--target", default="INDC")
    parser.add_argument("--synthetic", type=int, default=0, help="N synthetic rows instead")
    parser.add_argument("--prior", default="", help="rap_prior.pt (features layout); empty = off")
    parser.add_argument("--alpha-init", type=float, default=None)
    parser.add_argument("--per-head", action="store_true", help="one gate per head")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=64, help="rows per rank per step")
    parser.add_argument("--bins", type=int, default=8)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--gate-lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--json", default="", help="write the final metrics here")
    args = parser.parse_args(argv)
    problem = check_args(args)
    if problem:  # before any process group, data or model: a typo costs nothing
        print(f"train_rap: error: {problem}", file=sys.stderr)
        return 2

    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    device = (torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
              if torch.cuda.is_available() else torch.device("cpu"))
    say = print if rank == 0 else (lambda *a, **k: None)
    try:
        code = train(args, rank, world, device, say)
        if distributed:
            # Leave together: a rank that tears its gloo connections down while another is
            # still finishing (rank 0 writes the metrics) risks the other's abort. A SIGABRT of
            # rank 1 at the end of the 2-process test was seen once in CI (not reproduced in 25
            # runs since); this barrier is the usual guard against that shutdown race.
            dist.barrier()
        return code
    except (PriorFormatError, RapError) as exc:
        print(f"rank {rank}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if distributed:
            dist.destroy_process_group()


def check_args(args) -> str | None:
    """The first problem with the arguments (one line), or None: checked before training."""
    from rap_core.atomic import check_output_path, check_regular_input

    for name in ("steps", "batch", "bins", "n_layer", "n_head", "n_embd", "log_every"):
        if getattr(args, name) < 1:
            return f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}"
    if args.bins < 2:
        return f"--bins must be >= 2 (a feature needs at least two bins), got {args.bins}"
    if args.synthetic < 0:
        return f"--synthetic must be >= 0 (rows), got {args.synthetic}"
    if args.n_embd % args.n_head or (args.n_embd // args.n_head) % 2:
        return (f"--n-head {args.n_head} must divide --n-embd {args.n_embd} into an even head "
                f"width (rotary embeddings pair the channels)")
    if not math.isfinite(args.gate_lr) or args.gate_lr <= 0:
        return f"--gate-lr must be a positive number, got {args.gate_lr}"
    try:
        if args.alpha_init is not None:
            check_alpha_init(args.alpha_init, "--alpha-init")
        if args.data and not args.synthetic:
            check_regular_input(args.data, "--data")
        if args.prior:
            check_regular_input(args.prior, "--prior")
        if args.json:  # the results arrive after training: a bad path must fail now
            check_output_path(args.json, inputs=[args.data or None, args.prior or None],
                              example="metrics.json")
    except (PriorFormatError, RapError) as exc:
        return str(exc)
    return None


class NonFiniteLoss(RapError):
    """Training diverged: say where and stop, instead of training on NaN."""


def check_finite(loss: torch.Tensor, step: int, world: int) -> None:
    """Raise NonFiniteLoss on every rank together when any rank's loss is NaN or inf (a rank
    stopping alone would leave the others waiting in the next all-reduce)."""
    bad = (~torch.isfinite(loss.detach())).float()
    if world > 1:
        dist.all_reduce(bad)
    if bad.item():
        raise NonFiniteLoss(f"the loss is {loss.item()} at step {step} (on at least one rank); "
                            f"training diverged: lower --alpha-init or the learning rates")


def train(args, rank, world, device, say) -> int:
    features, X, y = load_rows(args)
    n_train = int(0.8 * len(y))
    idx, targets, vocab = tokenize(X, y, args.bins, n_train)
    label_base = len(features) * args.bins
    artifact = None
    if args.prior:
        artifact = check_prior(args.prior, features)
        say(f"prior {args.prior}  bias_sha256 {artifact['bias_sha256'][:16]}…  "
            f"(identical on {world} rank(s))")
    config = GPTConfig(sequence_len=len(features), vocab_size=vocab, n_layer=args.n_layer,
                       n_head=args.n_head, n_kv_head=args.n_head, n_embd=args.n_embd,
                       window_pattern="L", rap_prior=args.prior, rap_alpha_init=args.alpha_init,
                       rap_alpha_per_head=args.per_head)
    torch.manual_seed(args.seed)  # same initial weights on every rank
    with torch.device("meta"):
        model = GPT(config, rap_artifact=artifact)
    model.to_empty(device=device)
    model.init_weights()
    optimizer = model.setup_optimizer(gate_lr=args.gate_lr)
    trained = model
    if world > 1:
        # No buffer broadcast: every rank read the same prior (hash-checked above).
        trained = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False)
    idx, targets = idx.to(device), targets.to(device)
    gen = torch.Generator().manual_seed(args.seed * 1000 + rank)  # each rank its own rows
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        rows = torch.randint(0, n_train, (args.batch,), generator=gen).to(device)
        loss = trained(idx[rows], targets=targets[rows])
        check_finite(loss, step, world)
        loss.backward()
        frac = min(1.0, 2 * (args.steps - step) / args.steps + 0.05)  # warm-down: last half
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * frac
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % args.log_every == 0 or step == args.steps:
            val_loss, val_acc = evaluate(model, idx[n_train:], targets[n_train:], label_base)
            say(f"step {step:5d}  train loss {loss.item():.4f}  val loss {val_loss:.4f}  "
                f"val acc {val_acc:.3f}  {gates(model)}")
    elapsed = time.perf_counter() - started
    spread = gate_spread(model, world)
    val_loss, val_acc = evaluate(model, idx[n_train:], targets[n_train:], label_base)
    result = {"steps": args.steps, "world": world, "prior": args.prior, "val_loss": val_loss,
              "val_acc": val_acc, "elapsed_s": round(elapsed, 2), "gate_spread": spread,
              "alpha": model.rap.alpha.detach().cpu().tolist() if model.rap is not None else None,
              **(model.rap.gate_log() if model.rap is not None else {})}
    say(f"done in {elapsed:.1f} s  val acc {val_acc:.3f}  gates in sync across {world} rank(s): "
        f"max difference {spread:.1e}")
    if rank == 0 and args.json:
        tmp = Path(args.json).with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, args.json)
    if spread != 0.0:
        print(f"rank {rank}: error: gates diverged across ranks by {spread:.2e}", file=sys.stderr)
        return 1
    return 0


def gates(model) -> str:
    """The per-layer gates as logged: `rap/alpha/l{i}` (RapPrior.gate_log), or "no prior"."""
    if model.rap is None:
        return "no prior"
    return "  ".join(f"{key} {value:+.3f}" for key, value in model.rap.gate_log().items())


def gate_spread(model, world: int) -> float:
    """Largest difference of any gate between ranks (0.0 when in sync or single-process)."""
    if model.rap is None or world == 1:
        return 0.0
    alpha = model.rap.alpha.detach().flatten()
    every = [torch.empty_like(alpha) for _ in range(world)]
    dist.all_gather(every, alpha)
    stacked = torch.stack(every)
    spread = (stacked.max(0).values - stacked.min(0).values).max().item()
    return 0.0 if math.isclose(spread, 0.0, abs_tol=0.0) else spread


if __name__ == "__main__":
    raise SystemExit(main())
