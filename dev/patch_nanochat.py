"""Give a karpathy/nanochat checkout RAP attention: copy our modules in, make small anchored edits.

    python dev/patch_nanochat.py PATH            # apply (idempotent)
    python dev/patch_nanochat.py PATH --check    # exit 0 applied, 1 not applied, 2 unrecognised
    python dev/patch_nanochat.py PATH --revert   # undo

What it does to PATH/nanochat/:
- copies our nanochat/rap_attention.py, rap_flex.py (CUDA path), rap_prior.py (the artifact
  format), artifact_spec.py (its torch-free defaults) and rap_ranks.py (the artifact read once,
  agreed on by every rank) next to gpt.py;
- edits gpt.py at fixed anchors (each an exact line of nanochat's gpt.py, each found exactly once):
  config fields, `self.rap` built in __init__ and filled in init_weights (meta-device safe), the
  layer's RapLayer passed Block -> CausalSelfAttention, where `(rap or flash_attn)` swaps the FA3
  calls (training and KV cache) for ours when a prior is on, the gates in their own AdamW group
  (never Muon) with the parameter-count assertion and num_scaling_params updated;
- edits scripts/base_train.py (when the checkout has it) in its own logging block: the gates as
  `rap/alpha/l{i}` in the wandb `log_data`, " | rap alpha: …" at the end of the console step
  line, and the model config's `rap_*` fields (the artifact's hash and source) in a real wandb
  run's config. Without that file only gpt.py is patched, and the message says so.

Design choices:
- Every edit is an (anchor, replacement) pair; revert is the reverse replacement, so no backup
  files. A file where any anchor is missing or repeated is left untouched, with the anchors named.
- Check everything, then write everything: the anchors, the modules already there, every target's
  permissions (a 0444 gpt.py is refused, not replaced; a symlinked one is refused, the link kept)
  are checked before the first write, and a write that still fails (an immutable file, a full
  disk) rolls back the ones before it. "left untouched" is then true.
- The file's own bytes are kept: CRLF line endings and a UTF-8 BOM survive apply + revert
  byte for byte; a file that is not UTF-8 is refused in one line.
- The patched text must compile before it is written; writes are atomic (temp + rename).
- With `rap_prior` empty (the default) the patched model is the original one: no parameter, no
  buffer, and the original FA3/SDPA calls.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rap_core.atomic import check_output_path, write_bytes_atomic  # noqa: E402  (keeps modes)
from rap_core.cli_parser import OneLineParser  # noqa: E402
from rap_core.errors import RapError  # noqa: E402

OURS = Path(__file__).resolve().parents[1] / "nanochat"
MODULES = ("rap_attention.py", "rap_flex.py", "rap_prior.py", "artifact_spec.py", "rap_ranks.py")


class Edit(NamedTuple):
    name: str
    anchor: str
    replacement: str


def _after(anchor: str, *lines: str) -> str:
    return anchor + "".join(line + "\n" for line in lines)


EDITS = (
    Edit("import", "from nanochat.flash_attention import flash_attn\n",
         _after("from nanochat.flash_attention import flash_attn\n",
                "from nanochat.rap_attention import RapPrior  # RAP prior")),
    Edit("config", '    window_pattern: str = "SSSL"\n',
         _after('    window_pattern: str = "SSSL"\n',
                "    rap_prior: str | None = None  # RAP: rap_prior.pt; None: $NANOCHAT_RAP_PRIOR"
                " when the model is built",
                "    rap_alpha_init: float | None = None  # RAP: overrides the file's alpha_init",
                "    rap_alpha_per_head: bool = False  # RAP: one gate per head, not per layer",
                "    rap_prior_len: int = 0  # RAP: L, recorded so checkpoints reload without the"
                " file",
                '    rap_prior_sha256: str = ""  # RAP: provenance, recorded at construction',
                '    rap_prior_source: str = ""  # RAP: the artifact\'s source (JSON)',
                "    rap_bos: int | None = None  # RAP: packed documents' BOS id; None:"
                " $NANOCHAT_RAP_BOS")),
    Edit("attention signature",
         "    def forward(self, x, ve, cos_sin, window_size, kv_cache):\n"
         "        B, T, C = x.size()\n",
         "    def forward(self, x, ve, cos_sin, window_size, kv_cache, rap=None):  # RAP\n"
         "        B, T, C = x.size()\n"),
    Edit("attention (training)",
         "            y = flash_attn.flash_attn_func(q, k, v, causal=True,"
         " window_size=window_size)\n",
         "            y = (rap or flash_attn).flash_attn_func(q, k, v, causal=True,"
         " window_size=window_size)  # RAP\n"),
    Edit("attention (KV cache)",
         "            y = flash_attn.flash_attn_with_kvcache(\n",
         "            y = (rap or flash_attn).flash_attn_with_kvcache(  # RAP: bias rows at pos\n"),
    Edit("block",
         "    def forward(self, x, ve, cos_sin, window_size, kv_cache):\n"
         "        x = x + self.attn(norm(x), ve, cos_sin, window_size, kv_cache)\n",
         "    def forward(self, x, ve, cos_sin, window_size, kv_cache, rap=None):  # RAP\n"
         "        x = x + self.attn(norm(x), ve, cos_sin, window_size, kv_cache, rap)\n"),
    Edit("model", "        self.lm_head = Linear(config.n_embd, padded_vocab_size, bias=False)\n",
         _after("        self.lm_head = Linear(config.n_embd, padded_vocab_size, bias=False)\n",
                "        # RAP: one shared prior buffer + gates (n_layer, 1 or n_head); None when"
                " off.",
                "        # Meta-safe: only the size is read here, the numbers in init_weights()",
                "        self.rap = RapPrior.from_config(config, self)")),
    Edit("init_weights", "        self.cos, self.sin = cos, sin\n",
         _after("        self.cos, self.sin = cos, sin\n",
                "        if self.rap is not None:  # RAP: bias and gates from the file",
                "            self.rap.init_weights()")),
    Edit("forward", "            x = block(x, ve, cos_sin, self.window_sizes[i], kv_cache)\n",
         "            rap = self.rap.layer(i, idx if kv_cache is None else None)"
         " if self.rap is not None else None  # RAP: packed rows\n"
         "            x = block(x, ve, cos_sin, self.window_sizes[i], kv_cache, rap)\n"),
    Edit("optimizer accounting",
         "        assert len(list(self.parameters())) == len(matrix_params) + ",
         "        rap_params = list(self.rap.parameters()) if self.rap is not None else []  # RAP\n"
         "        assert len(list(self.parameters())) == len(rap_params) + len(matrix_params) + "),
    Edit("optimizer group", "        optimizer = MuonAdamW(param_groups)\n",
         "        if rap_params:  # RAP: the gates are scalars, so AdamW (Muon takes matrices)\n"
         "            param_groups.append(dict(kind='adamw', params=rap_params,"
         " lr=scalar_lr * 0.04, betas=(0.8, 0.95), eps=1e-10, weight_decay=0.0))\n"
         "        optimizer = MuonAdamW(param_groups)\n"),
    Edit("scaling params",
         "        total = wte + value_embeds + lm_head + transformer_matrices + scalars\n",
         "        scalars += sum(p.numel() for p in self.rap.parameters()) if self.rap is not None"
         " else 0  # RAP\n"
         "        total = wte + value_embeds + lm_head + transformer_matrices + scalars\n"),
)


TRAIN_EDITS = (
    Edit("run config", "model_config_kwargs = asdict(model_config)\n",
         _after("model_config_kwargs = asdict(model_config)\n",
                "if model_config.rap_prior and hasattr(wandb_run, 'config'):  # RAP: provenance",
                "    wandb_run.config.update({k: v for k, v in model_config_kwargs.items()"
                " if k.startswith('rap_')}, allow_val_change=True)")),
    Edit("console report", 'm{eta_str}")\n',
         'm{eta_str}" + (orig_model.rap.gate_report() if orig_model.rap is not None else ""))'
         '  # RAP: gates\n'),
    Edit("wandb log", "        wandb_run.log(log_data)\n",
         "        if orig_model.rap is not None:  # RAP: per-layer gates, rap/alpha/l{i}\n"
         "            log_data.update(orig_model.rap.gate_log())\n"
         "        wandb_run.log(log_data)\n"),
)


class Target(NamedTuple):
    """A file the patch edits: where it is in a checkout, its edits, and whether it must exist."""

    path: str
    edits: tuple[Edit, ...]
    required: bool


TARGETS = (Target("nanochat/gpt.py", EDITS, True),
           Target("scripts/base_train.py", TRAIN_EDITS, False))


class PatchError(Exception):
    """One line for the user; the checkout is left as it was."""


def state(text: str, edits: tuple[Edit, ...] = EDITS) -> tuple[str, list[str]]:
    """("applied" | "clean" | "unrecognised", problems) for a target's text (gpt.py's default)."""
    applied = [e.name for e in edits if text.count(e.replacement) == 1]
    if len(applied) == len(edits):
        return "applied", []
    clean = [e.name for e in edits if text.count(e.anchor) == 1 and e.replacement not in text]
    if not applied and len(clean) == len(edits):
        return "clean", []
    problems = [f"{e.name}: anchor found {text.count(e.anchor)} times (need 1)"
                for e in edits if e.name not in clean and e.name not in applied]
    if applied:
        problems.append(f"partly patched already ({', '.join(applied)})")
    return "unrecognised", problems


def patch_text(text: str, edits: tuple[Edit, ...] = EDITS) -> str:
    for edit in edits:
        text = text.replace(edit.anchor, edit.replacement, 1)
    return text


def unpatch_text(text: str, edits: tuple[Edit, ...] = EDITS) -> str:
    for edit in reversed(edits):
        text = text.replace(edit.replacement, edit.anchor, 1)
    return text


class Source(NamedTuple):
    """A target as read: its text with LF newlines, how to write it back, and its state."""

    path: Path
    text: str
    newline: str   # "\n" or "\r\n": the file's own, restored on write
    bom: bool      # a UTF-8 byte-order mark, restored on write
    status: str    # "applied" | "clean"
    edits: tuple[Edit, ...] = EDITS


def _gpt(root: Path) -> Path:
    gpt = Path(root) / "nanochat" / "gpt.py"
    if gpt.is_symlink():
        raise PatchError(f"{gpt} is a symbolic link (to {os.path.realpath(gpt)}); patch a real "
                         f"file (replace the link with a copy); left untouched")
    if not gpt.is_file():
        raise PatchError(f"{root}: no nanochat/gpt.py here; give the root of a nanochat checkout")
    return gpt


def _ours(name: str) -> bytes:
    return (OURS / name).read_bytes()


def _is_ours(data: bytes, name: str) -> bool:
    """Our module at any version: it starts with our docstring's first line."""
    return data.split(b"\n", 1)[0] == _ours(name).split(b"\n", 1)[0]


def _decode(gpt: Path) -> tuple[str, str, bool]:
    """(text with LF newlines, the file's newline, had a BOM); PatchError if not patchable text."""
    data = gpt.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3 if bom else 0:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PatchError(f"{gpt}: not UTF-8 text (invalid byte at offset {exc.start}); "
                         f"left untouched") from None
    crlf, lf = text.count("\r\n"), text.count("\n")
    if crlf and crlf != lf:
        raise PatchError(f"{gpt}: mixed line endings ({crlf} CRLF, {lf - crlf} LF); normalise "
                         f"them first; left untouched")
    return text.replace("\r\n", "\n"), ("\r\n" if crlf else "\n"), bom


def _encode(source: Source, text: str) -> bytes:
    data = text.replace("\n", source.newline).encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if source.bom else data


def _optional(root: Path, target: Target) -> Path | None:
    """An optional target's path, None when the checkout has no such file."""
    path = Path(root) / target.path
    if path.is_symlink():
        raise PatchError(f"{path} is a symbolic link (to {os.path.realpath(path)}); patch a real "
                         f"file (replace the link with a copy); left untouched")
    return path if path.is_file() else None


def _targets(root: Path) -> list[tuple[Path, Target]]:
    """The checkout's files to patch: gpt.py (required), then those of the others it has."""
    found = [(_gpt(root), TARGETS[0])]
    for target in TARGETS[1:]:
        path = _optional(root, target)
        if path is not None:
            found.append((path, target))
    return found


def _absent(root: Path) -> str:
    """A note naming the optional targets the checkout lacks ("" when it has them all)."""
    missing = [t.path for t in TARGETS[1:] if not (Path(root) / t.path).is_file()]
    return (f" (no {', '.join(missing)} in this checkout: the gates are not added to its "
            f"log)") if missing else ""


def _recognised(root: Path) -> list[Source]:
    """Every target read and recognised (gpt.py first); one unrecognised file refuses them all,
    untouched."""
    sources = []
    for path, target in _targets(root):
        text, newline, bom = _decode(path)
        status, problems = state(text, target.edits)
        if status == "unrecognised":
            raise PatchError(f"{path}: structure not recognised, left untouched "
                             f"({'; '.join(problems)})")
        sources.append(Source(path, text, newline, bom, status, target.edits))
    return sources


def _writable(path: Path) -> None:
    """Refuse (one line, nothing written yet) a target we may not replace: read-only, a link
    to elsewhere, not a regular file, or in a directory we cannot write."""
    if path.is_symlink():
        raise PatchError(f"{path} is a symbolic link; left untouched (replace it with a file)")
    try:
        check_output_path(path, example=path.name)
    except RapError as exc:
        raise PatchError(f"{exc}; left untouched") from None


class _Transaction:
    """Writes that all happen or none: each file's old bytes are kept, and restored on failure."""

    def __init__(self) -> None:
        self.undo: list[tuple[Path, bytes | None]] = []

    def write(self, path: Path, data: bytes) -> None:
        old = path.read_bytes() if path.exists() else None
        if old == data:
            return
        write_bytes_atomic(path, data)
        self.undo.append((path, old))

    def remove(self, path: Path) -> None:
        old = path.read_bytes()
        path.unlink()
        self.undo.append((path, old))

    def rollback(self) -> None:
        for path, old in reversed(self.undo):
            with contextlib.suppress(OSError, RapError):
                if old is None:
                    path.unlink()
                else:
                    write_bytes_atomic(path, old)


def _commit(steps, what: str, gpt: Path) -> None:
    """Run `steps(transaction)`; on any failure undo what was done and raise one line."""
    transaction = _Transaction()
    try:
        steps(transaction)
    except (OSError, RapError) as exc:
        transaction.rollback()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        raise PatchError(f"{gpt}: {what} failed{where}: {reason}; rolled back, left untouched") \
            from None


def apply(root: Path) -> str:
    sources = _recognised(root)
    gpt = sources[0].path
    # Check everything first: no module is copied into a checkout whose gpt.py we then refuse.
    for name in MODULES:
        target = gpt.parent / name
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise PatchError(f"{target}: exists and is not a regular file; left untouched")
        if target.exists() and not _is_ours(target.read_bytes(), name):
            raise PatchError(f"{target}: exists and is not ours; left untouched")
        if not target.exists() or target.read_bytes() != _ours(name):
            _writable(target)
    todo = [source for source in sources if source.status == "clean"]
    if not todo:
        _commit(lambda t: [t.write(gpt.parent / n, _ours(n)) for n in MODULES], "apply", gpt)
        return f"{gpt}: already applied (modules up to date){_absent(root)}"
    patched = []
    for source in todo:
        text = patch_text(source.text, source.edits)
        compile(text, str(source.path), "exec")  # never write a file that does not parse
        _writable(source.path)
        patched.append((source, text))

    def steps(t: _Transaction) -> None:
        for name in MODULES:  # modules first: the patched file imports them
            t.write(gpt.parent / name, _ours(name))
        for source, text in patched:
            t.write(source.path, _encode(source, text))

    _commit(steps, "apply", gpt)
    done = "; ".join(f"{source.path}: applied {len(source.edits)} edits "
                     f"(+{changed_lines(source.text, text)} lines changed or added)"
                     for source, text in patched)
    return f"{done}; copied {', '.join(MODULES)}{_absent(root)}"


def changed_lines(before: str, after: str) -> int:
    """Lines of `after` that are new or different (the size of the change)."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm="")
    return sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))


def revert(root: Path) -> str:
    sources = _recognised(root)
    gpt = sources[0].path
    ours = [gpt.parent / n for n in MODULES
            if (gpt.parent / n).is_file() and not (gpt.parent / n).is_symlink()
            and _is_ours((gpt.parent / n).read_bytes(), n)]
    applied = [source for source in sources if source.status == "applied"]
    for source in applied:
        _writable(source.path)

    def steps(t: _Transaction) -> None:
        for source in applied:
            t.write(source.path, _encode(source, unpatch_text(source.text, source.edits)))
        for module in ours:
            t.remove(module)

    _commit(steps, "revert", gpt)
    what = (f"reverted {', '.join(str(s.path) for s in applied)}" if applied
            else f"{gpt}: was not applied")
    return f"{what}; removed {', '.join(m.name for m in ours) or 'no modules'}"


def check(root: Path) -> tuple[int, str]:
    targets = _targets(root)
    gpt = targets[0][0]
    statuses = []
    for path, target in targets:
        status, problems = state(_decode(path)[0], target.edits)
        if status == "unrecognised":
            return 2, f"{path}: structure not recognised ({'; '.join(problems)})"
        statuses.append((path, status))
    modules = all((gpt.parent / n).is_file() and (gpt.parent / n).read_bytes() == _ours(n)
                  for n in MODULES)
    if all(status == "applied" for _, status in statuses):
        note = "" if modules else " (our modules are missing or outdated: apply again)"
        return (0 if modules else 1), f"{gpt}: applied{note}{_absent(root)}"
    if all(status == "clean" for _, status in statuses):
        return 1, f"{gpt}: not applied"
    clean = ", ".join(str(path) for path, status in statuses if status == "clean")
    return 1, f"{gpt}: partly applied ({clean} not yet): apply again"


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="root of a nanochat checkout")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report whether it is applied")
    mode.add_argument("--revert", action="store_true", help="undo the patch")
    args = parser.parse_args(argv)
    try:
        if args.check:
            code, message = check(args.path)
            print(message)
            return code
        print(revert(args.path) if args.revert else apply(args.path))
        return 0
    except (PatchError, RapError, SyntaxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or args.path}: {exc.strerror or exc}; left untouched",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
