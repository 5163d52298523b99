"""The artifact as every training rank sees it: read and validated once, the same on all ranks.

Why: the bias is a buffer, which DDP never synchronises, so a rank that read a different file
trains a different model without any error; and a rank that fails alone leaves the others
waiting in their next collective until the process-group timeout. `read_artifact` therefore:
- one process (or torch.distributed not initialised): `load_prior(path)`, nothing more;
- every rank reads the file (the default: a shared filesystem), then the ranks exchange
  (bias_sha256, error) and each compares with rank 0: an error on any rank, or a hash that is
  not rank 0's, stops every rank with the same one-line PriorFormatError;
- `$NANOCHAT_RAP_BROADCAST=1` (multi-node without a shared filesystem): rank 0 alone reads the
  file and broadcasts it (the plain fields as objects, the bias as a tensor); the other ranks
  validate what arrived (the bias against its bias_sha256) as if they had read it, and the same
  exchange follows.
Every rank must call it at the same point: nanochat's scripts build the model on every rank.
Collectives run under `torch.device("cpu")` (nanochat builds models inside
`torch.device("meta")`); tensors go to the current GPU under NCCL.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .rap_prior import PriorFormatError, load_prior, validate_prior

BROADCAST_ENV = "NANOCHAT_RAP_BROADCAST"


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def broadcast_from_env() -> bool:
    """$NANOCHAT_RAP_BROADCAST: "1" (or true/yes) makes rank 0 the only reader."""
    return os.environ.get(BROADCAST_ENV, "").strip().lower() in ("1", "true", "yes")


def read_artifact(path: str) -> dict:
    """The validated artifact at `path`, identical (by bias_sha256) on every rank."""
    rank, size = world()
    with torch.device("cpu"):
        if size == 1:
            return load_prior(path)
        read = _received if broadcast_from_env() else _read
        artifact, error = read(path, rank)
        results: list = [None] * size
        dist.all_gather_object(results, (artifact["bias_sha256"] if artifact else None, error))
    problem = disagreement(path, results)
    if problem:
        raise PriorFormatError(problem)
    return artifact


def disagreement(path: str, results: list) -> str | None:
    """The one line that stops every rank, from each rank's (bias_sha256 or None, error or None)
    in rank order; None when all ranks hold rank 0's artifact."""
    errors = [error for _, error in results if error]
    if errors:
        more = f" (and {len(errors) - 1} more rank(s))" if len(errors) > 1 else ""
        return f"{errors[0]}{more}"
    first = results[0][0]
    differ = [rank for rank, (digest, _) in enumerate(results) if digest != first]
    if differ:
        other = results[differ[0]][0]
        return (f"{path}: rank {differ[0]}'s bias_sha256 {other[:12]}… is not rank 0's "
                f"{first[:12]}… ({len(differ)} of {len(results)} ranks differ); give every rank "
                f"the same file (or set ${BROADCAST_ENV}=1 to read it on rank 0 only)")
    return None


def _read(path: str, rank: int) -> tuple[dict | None, str | None]:
    """(artifact, None) or (None, "rank r: problem"): a failing rank still joins the exchange."""
    try:
        return load_prior(path), None
    except Exception as exc:  # noqa: BLE001 - any failure must reach the other ranks, not hang them
        return None, f"rank {rank}: {exc}"


def _device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _received(path: str, rank: int) -> tuple[dict | None, str | None]:
    """Rank 0 reads and broadcasts; every other rank validates what it received."""
    device = _device()
    artifact, error = _read(path, rank) if rank == 0 else (None, None)
    message = [None]
    if rank == 0:
        fields = None if artifact is None else {k: v for k, v in artifact.items() if k != "bias"}
        shape = None if artifact is None else tuple(artifact["bias"].shape)
        message = [(fields, shape, error)]
    dist.broadcast_object_list(message, src=0, device=device)
    fields, shape, error = message[0]
    if error:
        return None, f"{error} (rank 0 reads it for every rank: ${BROADCAST_ENV}=1)"
    bias = (artifact["bias"].to(device) if rank == 0
            else torch.empty(shape, dtype=torch.float32, device=device))
    dist.broadcast(bias, src=0)
    if rank == 0:
        return artifact, None
    try:
        return validate_prior({**fields, "bias": bias.cpu()}, f"{path} (from rank 0)"), None
    except PriorFormatError as exc:
        return None, f"rank {rank}: {exc}"
