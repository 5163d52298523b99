"""The RAP prior artifact: the one definition of its format (write, read, validate).

A prior file (`rap_prior.pt`) is what crosses from RAP Studio to training. This module is the only
place that knows its layout, and it depends on torch alone, so a nanochat fork can copy this one
file and nothing else of ours.

Design choices:
- Plain `torch.save` of a dict of tensors, strings, numbers, lists and dicts, so that
  `torch.load(path, weights_only=True)` reads it: loading a prior never runs pickled code.
- `bias_sha256` is the sha256 of the bias's float32 bytes in row-major order. It pins the exact
  numbers: training refuses a file whose bias does not match its own hash, and two exports of the
  same inputs can be compared by hash alone.
- Written atomically (temp file, fsync, rename): an interrupted export leaves the old file intact.
- Every problem is a `PriorFormatError` whose one-line message names the file and the problem.

Keys (version 1):
    format       "rap-prior"
    version      1
    bias         float32 tensor (L, L), finite, max |bias| = 1 (or all zero)
    labels       list of L position names ("V3_t7" for the features layout, "lag 7" for lags)
    layout       "features" or "lags"
    alpha_init   float: the gate's initial value in attention (logits += alpha * bias)
    scale        float: max |B| before normalisation (0.0 when every weight is zero)
    statistic    name of the co-activation statistic S
    rules        list of dicts, the votes used: {feature, sign, weight, position, rmin, rmax}
    source       dict: data_sha256, rows, target, cutlass_version, fit_params, ...
    bias_sha256  hex digest described above
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

FORMAT = "rap-prior"
VERSION = 1
LAYOUTS = ("features", "lags")
REQUIRED_KEYS = (
    "format", "version", "bias", "labels", "layout", "alpha_init", "scale", "rules", "source",
    "bias_sha256",
)


class PriorFormatError(ValueError):
    """A prior file that cannot be used; the message is one line naming the file."""


def bias_sha256(bias: torch.Tensor) -> str:
    """sha256 hex of the bias as contiguous float32 bytes, row-major."""
    data = bias.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()


def make_prior(
    bias: Any,
    labels: list[str],
    layout: str,
    alpha_init: float,
    scale: float,
    rules: list[dict],
    source: dict,
    statistic: str = "cpmi",
) -> dict:
    """Assemble and validate a prior dict (bias may be a numpy array or a tensor)."""
    tensor = torch.as_tensor(bias).detach().to(device="cpu", dtype=torch.float32).contiguous()
    prior = {
        "format": FORMAT,
        "version": VERSION,
        "bias": tensor,
        "labels": [str(label) for label in labels],
        "layout": str(layout),
        "alpha_init": float(alpha_init),
        "scale": float(scale),
        "statistic": str(statistic),
        "rules": list(rules),
        "source": dict(source),
        "bias_sha256": bias_sha256(tensor),
    }
    return validate_prior(prior, "<new prior>")


def save_prior(prior: dict, path: str | os.PathLike) -> Path:
    """Validate `prior` and write it to `path` atomically; returns the path."""
    target = Path(path)
    validate_prior(prior, str(target))
    buffer = io.BytesIO()
    torch.save(prior, buffer)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes 0600 files; keep the old file's mode, else what open() would give.
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def load_prior(path: str | os.PathLike) -> dict:
    """Read and validate a prior file with `weights_only=True` (never unpickles code)."""
    name = str(path)
    if not Path(path).is_file():
        raise PriorFormatError(f"{name}: no such prior file; export one with `rap export`")
    if not zipfile.is_zipfile(path):
        raise PriorFormatError(f"{name}: not a loadable prior: it is not a torch file "
                               f"(corrupt or truncated?); export it again with `rap export`")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for non-tensor payloads
        if "Weights only load failed" in str(exc):
            why = ("it holds pickled Python objects, which weights_only loading refuses "
                   "(not a file written by `rap export`)")
        else:
            why = f"torch.load failed ({type(exc).__name__})"
        raise PriorFormatError(f"{name}: not a loadable prior: {why}") from None
    return validate_prior(obj, name)


def validate_prior(obj: Any, name: str) -> dict:
    """Check format, version, shape, finiteness and hash; return `obj` or raise one line."""
    if not isinstance(obj, dict):
        kind = type(obj).__name__
        raise PriorFormatError(f"{name}: not a RAP prior (expected a dict, got {kind})")
    if obj.get("format") != FORMAT:
        raise PriorFormatError(f"{name}: not a RAP prior (format is {obj.get('format')!r}, "
                               f"expected {FORMAT!r})")
    if obj.get("version") != VERSION:
        raise PriorFormatError(f"{name}: unsupported prior version {obj.get('version')!r} "
                               f"(this reader understands version {VERSION})")
    missing = [key for key in REQUIRED_KEYS if key not in obj]
    if missing:
        raise PriorFormatError(f"{name}: prior is missing key(s) {', '.join(missing)}")
    bias = obj["bias"]
    if not isinstance(bias, torch.Tensor):
        raise PriorFormatError(f"{name}: 'bias' must be a tensor, got {type(bias).__name__}")
    if bias.dim() != 2 or bias.shape[0] != bias.shape[1] or bias.shape[0] == 0:
        raise PriorFormatError(f"{name}: bias must be a non-empty square matrix, "
                               f"got shape {tuple(bias.shape)}")
    if bias.dtype != torch.float32:
        raise PriorFormatError(f"{name}: bias must be float32, got {bias.dtype}")
    if not bool(torch.isfinite(bias).all()):
        bad = int((~torch.isfinite(bias)).sum())
        raise PriorFormatError(f"{name}: bias has {bad} non-finite value(s) (NaN or inf)")
    size = bias.shape[0]
    labels = obj["labels"]
    if not isinstance(labels, (list, tuple)) or len(labels) != size:
        count = len(labels) if isinstance(labels, (list, tuple)) else type(labels).__name__
        raise PriorFormatError(f"{name}: expected {size} labels for a {size}x{size} bias, "
                               f"got {count}")
    if obj["layout"] not in LAYOUTS:
        raise PriorFormatError(f"{name}: unknown layout {obj['layout']!r} "
                               f"(expected one of {', '.join(LAYOUTS)})")
    for key in ("alpha_init", "scale"):
        value = obj[key]
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PriorFormatError(f"{name}: {key} must be a finite number, got {value!r}")
    digest = bias_sha256(bias)
    if obj["bias_sha256"] != digest:
        raise PriorFormatError(f"{name}: bias_sha256 mismatch (file says "
                               f"{str(obj['bias_sha256'])[:12]}…, bias hashes to {digest[:12]}…); "
                               f"the file was altered or corrupted: export it again")
    return obj


def slice_bias(bias: torch.Tensor, q_start: int, q_len: int, k_len: int) -> torch.Tensor:
    """Bias rows for queries [q_start, q_start+q_len) against keys [0, k_len), zero past L.

    A prior of size L serves any sequence length: inside the L x L block it is the prior, outside
    it is zero (no prior), so positions past L attend exactly as the unbiased model would.
    """
    size = bias.shape[0]
    out = bias.new_zeros(q_len, k_len)
    rows = max(0, min(size, q_start + q_len) - q_start)
    cols = min(size, k_len)
    if rows > 0 and cols > 0:
        out[:rows, :cols] = bias[q_start:q_start + rows, :cols]
    return out
