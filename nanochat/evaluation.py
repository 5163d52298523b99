"""Train and score one evaluation run: one arm, one training size, one seed (torch only).

`rap eval` (rap_core/evaluate.py) runs this module as a child process,

    python -m rap_nanochat.evaluation JOB.json

and reads one JSON line per event on stdout: ["start", key], ["eval", key, step, n_steps],
["done", key, result], ["error", message]. Each finished run is also written atomically to
`<runs_dir>/<key>.json` before "done" is sent, so a crash or ctrl-c loses only the run in flight.

Design choices:
- Paired arms. A run's initial weights come from `torch.manual_seed(seed)` before
  `init_weights()` (the prior's gates draw no random numbers, so every arm starts from the same
  weights), and its batches from a generator seeded by the seed alone: arms differ only in the
  prior.
- `zero` is the prior with its gate at 0 and frozen (learning rate 0), through the same kernel as
  `rap`: it measures what the kernel path costs or changes, with the prior switched off.
- Early stopping on the validation split (every `eval_every` steps, `patience` evaluations without
  a better validation loss); the test numbers are those of the best-validation weights. The curve
  also records test loss at each evaluation, for the learning-curve plots.
- One thread (torch.set_num_threads) by default: on a small shared CPU more threads were slower.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .eval_settings import Settings
from .gpt import GPT, GPTConfig
from .rap_prior import DEFAULT_ALPHA_INIT, make_prior, save_prior
from .tabular_task import label_base, label_metrics, sequences, vocab_size


def load_split(path: str | os.PathLike) -> dict:
    """A size's binned rows (written by rap_core.eval_task): tensors for each split."""
    with np.load(path) as data:
        arrays = {key: torch.from_numpy(data[key].astype(np.int64)) for key in data.files}
    arrays["n_bins"] = int(arrays["n_bins"].item())
    return arrays


def prior_artifact(bias_path: str, directory: str, alpha_init: float) -> str:
    """A rap_prior.pt for a bias saved as .npy (the model reads priors from files only)."""
    bias = np.load(bias_path).astype(np.float32)
    target = Path(directory) / f"{Path(bias_path).stem}_{alpha_init:g}.pt"
    if not target.exists():
        labels = [f"pos{i}" for i in range(bias.shape[0] - 1)] + ["query"]
        save_prior(make_prior(bias, labels, "features", alpha_init, 1.0, [],
                              {"data_sha256": "evaluation"}), target)
    return str(target)


def build_model(settings: Settings, length: int, n_bins: int, prior: str, alpha_init: float,
                seed: int) -> GPT:
    config = GPTConfig(sequence_len=length, vocab_size=vocab_size(n_bins),
                       n_layer=settings.n_layer, n_head=settings.n_head,
                       n_kv_head=settings.n_head, n_embd=settings.n_embd, window_pattern="L",
                       rap_prior=prior, rap_alpha_init=alpha_init if prior else None)
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    torch.manual_seed(seed)  # same initial weights in every arm (gates draw no random numbers)
    model.init_weights()
    return model


def gates(model: GPT) -> list[float]:
    """Each layer's gate (mean over heads); [] without a prior."""
    if model.rap is None:
        return []
    return [round(float(v), 6) for v in model.rap.alpha.detach().mean(dim=1)]


def train_run(split: dict, run: dict, settings: Settings, prior: str = "",
              progress=None) -> dict:
    """Train one run; returns its result (test metrics at the best-validation step + curve)."""
    torch.set_num_threads(max(1, int(settings.threads)))
    n_bins = split["n_bins"]
    train_idx, train_t = sequences(split["train_tokens"], split["train_y"], n_bins)
    val_idx, val_t = sequences(split["val_tokens"], split["val_y"], n_bins)
    test_idx, test_t = sequences(split["test_tokens"], split["test_y"], n_bins)
    frozen = run.get("gate") == "frozen"
    alpha_init = float(run.get("alpha_init", DEFAULT_ALPHA_INIT))
    model = build_model(settings, train_idx.size(1), n_bins, prior, alpha_init, run["seed"])
    optimizer = model.setup_optimizer(gate_lr=0.0 if frozen else settings.gate_lr)
    rate = float(split["train_y"].double().mean())
    base_loss = -(rate * math.log(max(rate, 1e-12)) + (1 - rate) * math.log(max(1 - rate, 1e-12)))
    threshold = 0.5 * base_loss
    gen = torch.Generator().manual_seed(int(run["seed"]))
    n_train = train_idx.size(0)
    best = {"val_loss": math.inf, "step": 0, "state": copy.deepcopy(model.state_dict())}
    curve, step_s, stale, reached = [], 0.0, 0, None

    def evaluate(step: int) -> None:
        nonlocal stale, reached
        model.eval()
        val = label_metrics(model, val_idx, val_t, label_base(n_bins))
        test = label_metrics(model, test_idx, test_t, label_base(n_bins))
        model.train()
        curve.append({"step": step, "samples": step * settings.batch, "val_loss": val["loss"],
                      "test_loss": test["loss"], "test_acc": test["acc"], "gates": gates(model)})
        if reached is None and val["loss"] <= threshold:
            reached = step * settings.batch
        if val["loss"] < best["val_loss"] - 1e-4:
            best.update(val_loss=val["loss"], step=step, state=copy.deepcopy(model.state_dict()))
            stale = 0
        else:
            stale += 1
        if progress is not None:
            progress(step)

    evaluate(0)
    step = 0
    for step in range(1, settings.steps + 1):
        started = time.perf_counter()
        rows = torch.randint(0, n_train, (settings.batch,), generator=gen)
        loss = model(train_idx[rows], targets=train_t[rows])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_s += time.perf_counter() - started
        if step % settings.eval_every == 0 or step == settings.steps:
            evaluate(step)
            if stale >= settings.patience:
                break
    model.load_state_dict(best["state"])
    model.eval()
    test = label_metrics(model, test_idx, test_t, label_base(n_bins))
    return {
        **{k: run[k] for k in ("key", "arm", "size", "seed")},
        "prior_sha256": run.get("prior_sha256"),
        "test_loss": test["loss"], "test_acc": test["acc"], "test_auc": _finite(test["auc"]),
        "best_step": best["step"], "steps_run": step,
        "samples_to_threshold": reached, "threshold_loss": threshold,
        "step_ms": 1000.0 * step_s / max(1, step),
        "final_gates": gates(model), "curve": curve,
    }


def _finite(value: float):
    return None if value is None or not math.isfinite(value) else value


def _write_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def run_job(job: dict, send) -> None:
    """Every run of a job whose result file does not exist yet, in order."""
    settings = Settings.from_dict(job["settings"])
    runs_dir = Path(job["runs_dir"])
    splits: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="rap-eval-") as tmp:
        for run in job["runs"]:
            target = runs_dir / f"{run['key']}.json"
            if target.exists():
                continue
            send(["start", run["key"]])
            split_path = job["splits"][str(run["size"])]
            if split_path not in splits:
                splits[split_path] = load_split(split_path)
            prior = ""
            if run.get("prior"):
                alpha_init = float(run.get("alpha_init", DEFAULT_ALPHA_INIT))
                prior = prior_artifact(run["prior"], tmp, alpha_init)
            result = train_run(splits[split_path], run, settings, prior,
                               progress=lambda s, k=run["key"]: send(["eval", k, s,
                                                                      settings.steps]))
            result["settings"] = asdict(settings)
            _write_atomic(target, result)
            send(["done", run["key"], {k: v for k, v in result.items() if k != "curve"}])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write on the protocol stream

    def send(message) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        job = json.loads(Path(argv[0]).read_text())
        run_job(job, send)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the parent shows this one line
        send(["error", f"{type(exc).__name__}: {exc}"])
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
