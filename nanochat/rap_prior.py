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
    bias         dense float32 tensor (L, L), 1 <= L <= MAX_POSITIONS, finite, no grad,
                 max |bias| = 1 within BIAS_TOLERANCE (or all zero)
    labels       list of L strings, the position names ("V3_t7" for features, "lag 7" for lags)
    layout       "features" or "lags"
    alpha_init   number, |alpha_init| <= ALPHA_INIT_MAX: the gate's initial value in attention
                 (logits += alpha * bias); beyond that the logits saturate and training diverges
    scale        number in [0, SCALE_MAX]: max |B| before normalisation (0 iff the bias is zero)
    statistic    string, name of the co-activation statistic S
    rules        list of dicts, the votes used: {feature: str, sign: +1/-1, weight: finite number,
                 position: int in [-1, L), rmin, rmax: number or None (unbounded)}
    source       dict: data_sha256, rows, target, cutlass_version, fit_params, ...
    bias_sha256  hex digest described above

Loading is bounded: before `torch.load` the zip archive is checked against what `torch.save`
writes for such a dict (a handful of stored, uncompressed entries, one tensor storage of exactly
L*L*4 bytes that matches the size declared in data.pkl, no entry larger than the file), so a
crafted archive that declares gigabytes is refused in milliseconds instead of being inflated —
the same loader runs on every training rank.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import pickletools
import stat
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from .artifact_spec import (  # re-exported: the format's names, torch-free
    ALPHA_INIT_MAX as ALPHA_INIT_MAX,
)
from .artifact_spec import DEFAULT_ALPHA_INIT as DEFAULT_ALPHA_INIT
from .artifact_spec import LAYOUTS as LAYOUTS
from .artifact_spec import PriorFormatError as PriorFormatError
from .artifact_spec import check_alpha_init as check_alpha_init

FORMAT = "rap-prior"
VERSION = 1
REQUIRED_KEYS = (
    "format", "version", "bias", "labels", "layout", "alpha_init", "scale", "rules", "source",
    "bias_sha256",
)
BIAS_TOLERANCE = 1e-5     # max |bias| must be 1 within this (float32 rounding of the division)
SCALE_MAX = 1e15          # max |B_raw| of any real rule (weights < 1e6, |S| small)
MAX_POSITIONS = 32768     # L; a 32768^2 float32 bias is 4 GiB
_MAX_ENTRIES = 16         # torch.save of a prior writes 7
_MAX_PICKLE_BYTES = 64 << 20


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
    digest = bias_sha256(tensor)
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
        "bias_sha256": digest,
    }
    return validate_prior(prior, "<new prior>", digest=digest)


def prior_bytes(prior: dict, name: str = "<prior>", *, validated: bool = False) -> bytes:
    """Validate `prior` (unless `make_prior` just did: `validated=True`) and serialise it: the
    exact bytes `save_prior` writes."""
    if not validated:
        validate_prior(prior, name)
    buffer = io.BytesIO()
    torch.save(prior, buffer)
    return buffer.getvalue()


def save_prior(prior: dict, path: str | os.PathLike) -> Path:
    """Validate `prior` and write it to `path` atomically; returns the path.

    (RAP Studio writes through rap_core.atomic, which also guards the path; this stays here so a
    nanochat fork that copies only this file can still write priors.)
    """
    target = Path(path)
    data = prior_bytes(prior, str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".rap_prior.", suffix=".tmp", dir=target.parent)
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
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def load_prior(path: str | os.PathLike) -> dict:
    """Read and validate a prior file with `weights_only=True` (never unpickles code).

    The archive is checked first (`check_archive`), so memory and time stay bounded by the
    file's real size whatever its headers claim.
    """
    name = str(path)
    try:
        st = os.stat(path)
    except OSError:
        raise PriorFormatError(f"{name}: no such prior file; export one with `rap export`") \
            from None
    if stat.S_ISDIR(st.st_mode):
        raise PriorFormatError(f"{name} is a directory; give a prior file (rap_prior.pt)")
    if not stat.S_ISREG(st.st_mode):
        raise PriorFormatError(f"{name}: not a regular file (a FIFO or device?); give a prior "
                               f"file written by `rap export`")
    try:
        check_archive(path)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
        if isinstance(exc, PriorFormatError):
            raise
        raise PriorFormatError(f"{name}: not a loadable prior: it is not a torch file "
                               f"(corrupt or truncated?); export it again with `rap export`") \
            from None
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


def check_archive(path: str | os.PathLike) -> None:
    """Refuse, before torch.load, any zip that is not shaped like a saved prior.

    torch.save stores entries uncompressed, so each entry's declared size must equal its stored
    size and fit in the file; there is one tensor storage (the bias), of at most MAX_POSITIONS^2
    float32 values, and data.pkl declares exactly as many elements as that entry holds (the
    shape itself is checked by validate_prior after the now bounded load).
    """
    name = str(path)

    def bad(why: str) -> PriorFormatError:
        return PriorFormatError(f"{name}: not a loadable prior: {why}; export it again with "
                                f"`rap export`")

    file_size = os.path.getsize(path)
    if not zipfile.is_zipfile(path):
        raise bad("it is not a torch file (corrupt or truncated?)")
    with open(path, "rb") as raw, zipfile.ZipFile(raw) as archive:
        entries = archive.infolist()
        if not 0 < len(entries) <= _MAX_ENTRIES:
            raise bad(f"the archive has {len(entries)} entries (a prior has about 7)")
        for info in entries:
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise bad(f"entry {info.filename!r} is compressed (torch.save never compresses)")
            if info.file_size > file_size or info.header_offset + info.file_size > file_size:
                raise bad(f"entry {info.filename!r} declares {info.file_size} bytes, more than "
                          f"the file holds")
            raw.seek(info.header_offset)
            local = raw.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04" or \
                    struct.unpack("<H", local[8:10])[0] != zipfile.ZIP_STORED:
                raise bad(f"entry {info.filename!r} has an inconsistent local header")
        pickles = [i for i in entries if i.filename.endswith("/data.pkl")]
        storages = {i.filename.rsplit("/", 1)[1]: i for i in entries
                    if i.filename.rsplit("/", 2)[-2:-1] == ["data"]}
        if len(pickles) != 1:
            raise bad("no data.pkl record")
        if pickles[0].file_size > _MAX_PICKLE_BYTES:
            raise bad(f"data.pkl is {pickles[0].file_size} bytes (limit {_MAX_PICKLE_BYTES})")
        declared = _declared_storages(archive.read(pickles[0]))
    if declared is None:
        raise bad("data.pkl is not what torch.save writes for a prior")
    if len(declared) > 1 or len(storages) != len(declared):
        raise bad(f"it holds {max(len(declared), len(storages))} tensor storages; a prior holds "
                  f"one (the bias)")
    if not declared:
        return  # no tensor at all: small and bounded; validate_prior says what is missing
    (key, numel), = declared.items()
    entry = storages.get(key)
    if entry is None or not 0 <= numel <= MAX_POSITIONS ** 2:
        raise bad(f"the bias storage declares {numel} values (a prior has at most "
                  f"{MAX_POSITIONS}^2)")
    if entry.file_size != numel * 4:
        raise bad(f"the bias storage holds {entry.file_size} bytes but declares {numel} float32 "
                  f"values")


def _declared_storages(pickle_bytes: bytes) -> dict[str, int] | None:
    """{storage key: element count} from torch's persistent ids, read without unpickling.

    torch.save writes each as the tuple ('storage', <type>, key, location, numel) followed by
    BINPERSID; anything else is not a file we wrote (None).
    """
    found: dict[str, int] = {}
    recent: list[tuple[str, Any]] = []
    try:
        for opcode, arg, _ in pickletools.genops(pickle_bytes):
            if opcode.name in ("BINPERSID", "PERSID"):
                if len(recent) < 6 or recent[-1][0] != "TUPLE":
                    return None
                (_, numel), (_, _location), (_, key) = recent[-2], recent[-3], recent[-4]
                if not isinstance(numel, int) or not isinstance(key, str):
                    return None
                if found.get(key, numel) != numel:
                    return None
                found[key] = numel
            if opcode.name not in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
                recent = (recent + [(opcode.name, arg)])[-8:]
    except Exception:  # noqa: BLE001 - malformed pickle opcodes: not a file we wrote
        return None
    return found


def validate_prior(obj: Any, name: str, *, digest: str | None = None) -> dict:
    """Check every field's type, shape and bounds, and the hash; return `obj` or raise one line.

    `digest`: the bias's sha256 when the caller has just computed it from this very tensor
    (`make_prior`), so that one export hashes the bias once, not three times."""
    if not isinstance(obj, dict):
        kind = type(obj).__name__
        raise PriorFormatError(f"{name}: not a RAP prior (expected a dict, got {kind})")
    if obj.get("format") != FORMAT:
        raise PriorFormatError(f"{name}: not a RAP prior (format is {_short(obj.get('format'))}, "
                               f"expected {FORMAT!r})")
    version = obj.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise PriorFormatError(f"{name}: unsupported prior version {_short(version)} "
                               f"(this reader understands version {VERSION})")
    missing = [key for key in REQUIRED_KEYS if key not in obj]
    if missing:
        raise PriorFormatError(f"{name}: prior is missing key(s) {', '.join(missing)}")
    bias = _check_bias(obj["bias"], name)
    size = bias.shape[0]
    labels = obj["labels"]
    if not isinstance(labels, list) or len(labels) != size:
        count = len(labels) if isinstance(labels, (list, tuple)) else type(labels).__name__
        raise PriorFormatError(f"{name}: expected a list of {size} labels for a {size}x{size} "
                               f"bias, got {count}")
    if not all(isinstance(label, str) for label in labels):
        raise PriorFormatError(f"{name}: labels must be strings (position names)")
    if not isinstance(obj["layout"], str) or obj["layout"] not in LAYOUTS:
        raise PriorFormatError(f"{name}: unknown layout {_short(obj['layout'])} "
                               f"(expected one of {', '.join(LAYOUTS)})")
    try:
        check_alpha_init(obj["alpha_init"])
    except PriorFormatError as exc:
        raise PriorFormatError(f"{name}: {exc}") from None
    scale = obj["scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) \
            or not math.isfinite(scale) or not 0 <= scale <= SCALE_MAX:
        raise PriorFormatError(f"{name}: scale must be a finite number in [0, {SCALE_MAX:g}], "
                               f"got {_short(scale)}")
    if "statistic" in obj and not isinstance(obj["statistic"], str):
        raise PriorFormatError(f"{name}: statistic must be a string")
    _check_rules(obj["rules"], size, name)
    if not isinstance(obj["source"], dict):
        raise PriorFormatError(f"{name}: source must be a dict (provenance), got "
                               f"{type(obj['source']).__name__}")
    if not isinstance(obj["bias_sha256"], str):
        raise PriorFormatError(f"{name}: bias_sha256 must be a hex string")
    digest = digest or bias_sha256(bias)
    if obj["bias_sha256"] != digest:
        raise PriorFormatError(f"{name}: bias_sha256 mismatch (file says "
                               f"{obj['bias_sha256'][:12]}…, bias hashes to {digest[:12]}…); "
                               f"the file was altered or corrupted: export it again")
    return obj


def _check_bias(bias: Any, name: str) -> torch.Tensor:
    if not isinstance(bias, torch.Tensor):
        raise PriorFormatError(f"{name}: 'bias' must be a tensor, got {type(bias).__name__}")
    if bias.layout != torch.strided:
        raise PriorFormatError(f"{name}: bias must be a dense tensor, got layout {bias.layout}")
    if bias.requires_grad:
        raise PriorFormatError(f"{name}: bias must not require grad (it is a fixed prior)")
    if bias.dim() != 2 or bias.shape[0] != bias.shape[1] or bias.shape[0] == 0:
        raise PriorFormatError(f"{name}: bias must be a non-empty square matrix, "
                               f"got shape {tuple(bias.shape)}")
    if bias.shape[0] > MAX_POSITIONS:
        raise PriorFormatError(f"{name}: bias is {bias.shape[0]} positions, more than "
                               f"{MAX_POSITIONS}")
    if bias.dtype != torch.float32:
        raise PriorFormatError(f"{name}: bias must be float32, got {bias.dtype}")
    if not bool(torch.isfinite(bias).all()):
        bad = int((~torch.isfinite(bias)).sum())
        raise PriorFormatError(f"{name}: bias has {bad} non-finite value(s) (NaN or inf)")
    peak = float(bias.abs().max())
    if peak != 0.0 and abs(peak - 1.0) > BIAS_TOLERANCE:
        raise PriorFormatError(f"{name}: max |bias| is {peak:.6g}; a prior is normalised to "
                               f"max |bias| = 1 (or all zero)")
    return bias


def _check_rules(rules: Any, size: int, name: str) -> None:
    if not isinstance(rules, list):
        raise PriorFormatError(f"{name}: rules must be a list of votes, got "
                               f"{type(rules).__name__}")
    for n, vote in enumerate(rules):
        where = f"{name}: rules[{n}]"
        if not isinstance(vote, dict):
            raise PriorFormatError(f"{where} must be a dict (a vote), got {type(vote).__name__}")
        missing = [k for k in ("feature", "sign", "weight", "position") if k not in vote]
        if missing:
            raise PriorFormatError(f"{where} lacks {', '.join(missing)}")
        if not isinstance(vote["feature"], str):
            raise PriorFormatError(f"{where}: feature must be a string")
        if vote["sign"] not in (1, -1) or isinstance(vote["sign"], bool):
            raise PriorFormatError(f"{where}: sign must be +1 or -1, got {_short(vote['sign'])}")
        if not _finite(vote["weight"]):
            raise PriorFormatError(f"{where}: weight must be a finite number, got "
                                   f"{_short(vote['weight'])}")
        position = vote["position"]
        if isinstance(position, bool) or not isinstance(position, int) \
                or not -1 <= position < size:
            raise PriorFormatError(f"{where}: position must be -1 or an index below {size}, "
                                   f"got {_short(position)}")
        for key in ("rmin", "rmax"):
            value = vote.get(key)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, float))
                                      or math.isnan(value)):
                raise PriorFormatError(f"{where}: {key} must be a number or None")


def _finite(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
