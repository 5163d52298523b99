"""Hostile inputs and faults, table-driven: every row is something a user (or a disk) can do.

Each row builds files in a fresh directory, runs one command in-process through its `main()`
(`rap`, `rap-studio`'s argument parsing, dev/train_rap.py, dev/patch_nanochat.py) and asserts
what a user would notice:
- the exit status;
- stderr is at most one line, holds no traceback, and (for a refusal) names the problem;
- every file that existed before is byte-identical afterwards (rows that are meant to rewrite a
  file, such as a discarded cache entry, name it in `changes`), and FIFOs/links are still
  FIFOs/links.
A few checks need a real process (the memory bound of a crafted zip, kill -9 during an export)
and run one. Docs: docs/RELIABILITY.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import random
import shutil
import stat
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from rap_core.cli import main as rap_main
from rap_core.demo import demo_path
from rap_core.export import export_prior, export_source
from rap_nanochat.rap_prior import bias_sha256, load_prior, make_prior
from tests.conftest import make_small_frame

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_GPT = ROOT / "tests" / "fixtures" / "nanochat_gpt.py"
SMALL_ARGS = ["--Cs", "4"]  # the small data's cached fit was made with these parameters
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
GARBAGE = bytes(random.Random(1).randrange(256) for _ in range(4096))


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"hostile_{name}", ROOT / "dev" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PATCHER = _load_script("patch_nanochat")
TRAIN = _load_script("train_rap")


def _studio_main(argv):
    from tui.__main__ import main

    return main(argv)


TOOLS: dict[str, Callable] = {"rap": rap_main, "patch": PATCHER.main, "train": TRAIN.main,
                              "studio": _studio_main}


# -- the workspace every row starts from ---------------------------------------------------

@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A fit cache holding the small dataset's fit (one real cutlass run for the module)."""
    base = tmp_path_factory.mktemp("warm")
    data = base / "small.csv"
    make_small_frame().to_csv(data, index=False)
    cache = base / "cache"
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(cache))
    try:
        assert rap_main(["export", str(data), *SMALL_ARGS, "--out", str(base / "p.pt")]) == 0
    finally:
        mp.undo()
    entries = list((cache / "rap-studio" / "fits").iterdir())
    assert len(entries) == 1
    return cache, (base / "p.pt").read_bytes()


class W:
    """Builders for one row's files, all under `root`."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        self.cache = cache

    def p(self, name: str) -> str:
        return str(self.root / name)

    def demo(self, name: str = "demo.csv.gz") -> str:
        shutil.copy(demo_path(), self.root / name)
        return self.p(name)

    def small(self, name: str = "small.csv") -> str:
        make_small_frame().to_csv(self.root / name, index=False)
        return self.p(name)

    def nolag(self, name: str = "nolag.csv") -> str:
        frame = make_small_frame()
        frame.columns = [c.replace("_t", "_lag_") if c != "INDC" else c for c in frame.columns]
        frame = frame.rename(columns={c: c.replace("_lag_", "x") + "v" for c in frame.columns
                                      if c != "INDC"})
        frame.to_csv(self.root / name, index=False)
        return self.p(name)

    def text(self, name: str, content: str | bytes) -> str:
        path = self.root / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)

    def fifo(self, name: str) -> str:
        os.mkfifo(self.root / name)
        return self.p(name)

    def dir(self, name: str) -> str:
        (self.root / name).mkdir()
        return self.p(name)

    def readonly(self, name: str, content: bytes = b"keep me") -> str:
        path = Path(self.text(name, content))
        path.chmod(0o444)
        return str(path)

    def session(self, name: str, payload) -> str:
        text = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        return self.text(name, text)

    def cache_entry(self) -> Path:
        return next((self.cache / "rap-studio" / "fits").iterdir())

    def prior(self, name: str = "p.pt", mutate=None, *, rehash: bool = False, raw=None) -> str:
        bias = torch.zeros(6, 6)
        bias[1, 2] = bias[2, 1] = 1.0
        bias[3, 3] = -0.5
        prior = make_prior(bias, [f"V{i}_t0" for i in range(6)], "features", 1.0, 2.5,
                           [{"feature": "V1_t0", "sign": 1, "weight": 1.0, "position": 1,
                             "rmin": 0.0, "rmax": None}], {"data_sha256": "ab"})
        if mutate is not None:
            mutate(prior)
        if rehash:
            prior["bias_sha256"] = bias_sha256(prior["bias"])
        torch.save(raw if raw is not None else prior, self.root / name)
        return self.p(name)


def good_session(data_sha: str) -> dict:
    return {"format": "rap-session", "version": 1, "data_sha256": data_sha, "target": "INDC",
            "fit_params": None, "statistic": "cpmi", "edits": [], "redo": []}


DEMO_SHA = None


def demo_sha() -> str:
    global DEMO_SHA
    if DEMO_SHA is None:
        from rap_core.dataset import load_dataset

        DEMO_SHA = load_dataset(demo_path()).sha256
    return DEMO_SHA


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[W], list[str]]
    code: int = 2
    fragment: str = ""
    tool: str = "rap"
    changes: tuple[str, ...] = ()      # files (relative to the root) that may change
    check: Callable[[W], None] | None = None


def E(w: W, *extra: str) -> list[str]:
    """`rap export` of the demo copy into out.pt with `extra` arguments."""
    return ["export", w.demo(), "--out", w.p("out.pt"), *extra]


# -- the table ------------------------------------------------------------------------------

def _crafted_zip(w: W, name: str, *, stored: bool) -> str:
    """A small zip shaped like a prior whose bias entry declares 3 GiB."""
    good = Path(w.prior("good.pt"))
    declared = 3 << 30
    buffer = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(buffer, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data/0"):
                method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                dst.writestr(info.filename, b"\0" * (1 << 20), compress_type=method)
            else:
                dst.writestr(info.filename, data, compress_type=zipfile.ZIP_STORED)
    raw = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        target = next(i for i in zf.infolist() if i.filename.endswith("/data/0"))
    # Patch the sizes in the local header (at 18) and in its central directory entry (at 20).
    sizes = struct.pack("<II", declared if stored else target.compress_size, declared)
    raw[target.header_offset + 18:target.header_offset + 26] = sizes
    eocd = raw.rfind(b"PK\x05\x06")
    entry = struct.unpack("<I", raw[eocd + 16:eocd + 20])[0]
    while raw[entry:entry + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack("<HHH", raw[entry + 28:entry + 34])
        if raw[entry + 46:entry + 46 + name_len] == target.filename.encode():
            raw[entry + 20:entry + 28] = sizes
        entry += 46 + name_len + extra_len + comment_len
    good.unlink()
    return w.text(name, bytes(raw))


def _pickle_declares_3gib(w: W) -> str:
    """data.pkl rewritten to declare 805,306,368 float32 values (3 GiB) for a 144-byte entry."""
    good = Path(w.prior("good.pt"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(buffer, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data.pkl"):
                assert b"K$t" in data  # BININT1 36, TUPLE: the storage's element count
                data = data.replace(b"K$t", b"J" + struct.pack("<i", 805306368) + b"t", 1)
            dst.writestr(info.filename, data)
    good.unlink()
    return w.text("big.pt", buffer.getvalue())


def _two_storages(w: W) -> str:
    return w.prior(mutate=lambda p: p["source"].update(extra=torch.ones(3)))


def _sparse(p):
    p["bias"] = p["bias"].to_sparse()


def _grad(p):
    p["bias"] = p["bias"].clone().requires_grad_(True)


def _set(key, value):
    def mutate(p):
        p[key] = value
    return mutate


def _bias(value):
    def mutate(p):
        p["bias"] = value
    return mutate


def _vote(**fields):
    def mutate(p):
        p["rules"] = [{"feature": "V1_t0", "sign": 1, "weight": 1.0, "position": 1, **fields}]
    return mutate


def _gz(w: W, name: str, cut: float | None = None, corrupt: bool = False) -> str:
    data = demo_path().read_bytes()  # the bundled demo is itself a .csv.gz
    if cut is not None:
        data = data[:int(len(data) * cut)]
    if corrupt:
        middle = len(data) // 2
        data = data[:middle] + b"\x55" * 64 + data[middle + 64:]
    return w.text(name, data)


DATA = [
    Case("data-missing", lambda w: ["export", w.p("nope.csv")], fragment="no such file"),
    Case("data-directory", lambda w: ["export", w.dir("d.csv")], fragment="is a directory"),
    Case("data-fifo", lambda w: ["export", w.fifo("pipe.csv")], fragment="not a regular file"),
    Case("data-empty", lambda w: ["export", w.text("e.csv", "")], fragment="empty"),
    Case("data-header-only", lambda w: ["export", w.text("h.csv", "a,b,INDC\n")],
         fragment="no data rows"),
    Case("data-gz-truncated", lambda w: ["export", _gz(w, "t.csv.gz", cut=0.5)],
         fragment="truncated"),
    Case("data-gz-corrupt-body", lambda w: ["export", _gz(w, "c.csv.gz", corrupt=True)],
         fragment="gzip"),
    Case("data-gz-not-gzip", lambda w: ["export", w.text("n.csv.gz", "a,b,INDC\n1,2,0\n")],
         fragment="gzip"),
    Case("data-binary-garbage", lambda w: ["export", w.text("g.csv", GARBAGE)],
         fragment="g.csv"),
    Case("data-invalid-utf8", lambda w: ["export", w.text("u.csv", b"a,b,INDC\n1,\xff\xfe,0\n")],
         fragment="u.csv"),
    Case("data-no-target", lambda w: ["export", w.text("nt.csv", "a,b\n1,2\n3,4\n")],
         fragment="target column 'INDC' not found"),
    Case("data-target-not-binary",
         lambda w: ["export", w.text("nb.csv", "a,b,INDC\n1,2,0\n3,4,2\n5,6,1\n")],
         fragment="INDC"),
    Case("data-one-class", lambda w: ["export", w.text("oc.csv", "a,b,INDC\n1,2,0\n3,4,0\n")],
         fragment="INDC"),
    Case("data-duplicate-columns",
         lambda w: ["export", w.text("dc.csv", "a,a,INDC\n1,2,0\n3,4,1\n")],
         fragment="duplicate column"),
    Case("data-parquet-not-parquet",
         lambda w: ["export", w.text("x.parquet", "a,b,INDC\n1,2,0\n")], fragment="Parquet"),
    Case("data-unknown-target", lambda w: ["export", w.demo(), "--target", "NOPE"],
         fragment="'NOPE' not found"),
]

ARGUMENTS = [
    Case("arg-alpha-huge", lambda w: E(w, "--alpha-init", "1e38"), fragment="--alpha-init"),
    Case("arg-alpha-nan", lambda w: E(w, "--alpha-init", "nan"), fragment="--alpha-init"),
    Case("arg-alpha-inf", lambda w: E(w, "--alpha-init", "-inf"), fragment="--alpha-init"),
    Case("arg-alpha-text", lambda w: E(w, "--alpha-init", "big"), fragment="--alpha-init"),
    Case("arg-cv-one", lambda w: E(w, "--cv", "1"), fragment="cv"),
    Case("arg-cv-text", lambda w: E(w, "--cv", "x"), fragment="--cv"),
    Case("arg-cs-zero", lambda w: E(w, "--Cs", "0"), fragment="Cs"),
    Case("arg-k-negative", lambda w: E(w, "--K", "-1"), fragment="K"),
    Case("arg-snap-big", lambda w: E(w, "--snap", "0.7"), fragment="snap"),
    Case("arg-m-zero", lambda w: E(w, "--m", "0"), fragment="m"),
    Case("arg-intercept-bad", lambda w: E(w, "--intercept", "median"), fragment="--intercept"),
    Case("arg-layout-bad", lambda w: E(w, "--layout", "rows"), fragment="--layout"),
    Case("arg-layout-lags-without-lags",
         lambda w: ["export", w.nolag(), "--layout", "lags", "--out", w.p("o.pt")],
         fragment="lag number"),
    Case("arg-statistic-bad", lambda w: E(w, "--statistic", "mi"), fragment="--statistic"),
    Case("arg-unknown-option", lambda w: E(w, "--fast"), fragment="unrecognized arguments"),
    Case("arg-no-data", lambda w: ["export"], fragment="required"),
    Case("arg-no-command", lambda w: [], fragment="required"),
    Case("arg-bad-command", lambda w: ["exprot"], fragment="invalid choice"),
    Case("arg-inspect-size-zero", lambda w: ["inspect", w.prior(), "--size", "0"],
         fragment="--size"),
    Case("arg-out-empty", lambda w: E(w, "--out", ""), fragment="empty"),
    Case("arg-session-empty", lambda w: E(w, "--session", ""), fragment="empty"),
    Case("arg-demo-out-empty", lambda w: ["demo", "--out", ""], fragment="empty"),
    Case("arg-studio-unknown", lambda w: ["--bogus"], tool="studio", fragment="--bogus"),
    Case("arg-studio-two-data", lambda w: ["a.csv", "b.csv"], tool="studio",
         fragment="unrecognized"),
]

SESSIONS = [
    Case("session-missing", lambda w: E(w, "--session", w.p("s.json")), fragment="no such file"),
    Case("session-directory", lambda w: E(w, "--session", w.dir("s.json")),
         fragment="directory"),
    Case("session-fifo", lambda w: E(w, "--session", w.fifo("s.json")),
         fragment="not a regular file"),
    Case("session-not-json", lambda w: E(w, "--session", w.session("s.json", "{edits: [")),
         fragment="not valid JSON"),
    Case("session-binary", lambda w: E(w, "--session", w.session("s.json", b"\x80\x81\xfe")),
         fragment="not UTF-8"),
    Case("session-1e400", lambda w: E(w, "--session", w.session(
        "s.json", '{"format": "rap-session", "version": 1, "data_sha256": "ab", "target": '
                  '"INDC", "edits": [{"kind": "K", "feature": null, "value": 1e400}]}')),
         fragment="overflows"),
    Case("session-huge-int", lambda w: E(w, "--session", w.session(
        "s.json", '{"format": "rap-session", "version": ' + "9" * 5000 + "}")),
         fragment="digit integer"),
    Case("session-nan", lambda w: E(w, "--session", w.session(
        "s.json", '{"format": "rap-session", "version": NaN}')), fragment="NaN"),
    Case("session-deep", lambda w: E(w, "--session", w.session(
        "s.json", "[" * 100000 + "]" * 100000)), fragment="nested too deeply"),
    Case("session-not-object", lambda w: E(w, "--session", w.session("s.json", "[1, 2]")),
         fragment="not a RAP Studio session"),
    Case("session-wrong-version", lambda w: E(w, "--session", w.session(
        "s.json", {**good_session("ab"), "version": 9})), fragment="version 9"),
    Case("session-other-data", lambda w: E(w, "--session", w.session(
        "s.json", good_session("ab" * 32))), fragment="different data"),
    Case("session-unknown-feature", lambda w: E(w, "--session", w.session(
        "s.json", {**good_session(demo_sha()),
                   "edits": [{"kind": "weight", "feature": "Q9", "value": 1}]})),
         fragment="'Q9'"),
    Case("session-edits-not-list", lambda w: E(w, "--session", w.session(
        "s.json", {**good_session(demo_sha()), "edits": {"kind": "K"}})),
         fragment="must be a list"),
    Case("session-bad-kind", lambda w: E(w, "--session", w.session(
        "s.json", {**good_session(demo_sha()),
                   "edits": [{"kind": "italic", "feature": "V1_t0", "value": 1}]})),
         fragment="unknown edit kind"),
    Case("session-negative-weight", lambda w: E(w, "--session", w.session(
        "s.json", {**good_session(demo_sha()),
                   "edits": [{"kind": "weight", "feature": "V1_t0", "value": -3}]})),
         fragment="from 0 to 100 (0 turns the vote off); got -3"),
    Case("session-sha-not-string", lambda w: E(w, "--session", w.session(
        "s.json", {**good_session(demo_sha()), "data_sha256": 12})), fragment="data_sha256"),
    Case("session-target-list", lambda w: E(w, "--session", w.session(
        "s.json", {**good_session(demo_sha()), "target": ["INDC"]})), fragment="target"),
    Case("session-too-big", lambda w: E(w, "--session", w.session(
        "s.json", " " * (17 << 20))), fragment="bytes"),
]


def _corrupt_entry(edit: Callable[[dict], object] | str) -> Callable[[W], list[str]]:
    """The small data's cache entry damaged by `edit` (a dict mutation, or raw text)."""
    def setup(w: W) -> list[str]:
        entry = w.cache_entry()
        if isinstance(edit, str):
            entry.write_text(edit)
        else:
            data = json.loads(entry.read_text())
            edit(data)
            entry.write_text(json.dumps(data))
        return ["export", w.small(), *SMALL_ARGS, "--out", w.p("out.pt")]
    return setup


def _rebuilt(w: W) -> None:
    """The discarded entry was replaced by a valid fit, and the prior is the good one."""
    from rap_core.cache import read_json
    from rap_core.fit import Fit

    Fit.from_json_dict(read_json(w.cache_entry()))
    assert (w.root / "out.pt").read_bytes() == w.good_prior, "same prior as from a valid cache"


def _entry_set(key, value):
    def edit(data):
        data[key] = value
    return edit


CACHE = [
    Case(f"cache-{name}", _corrupt_entry(edit), code=0, changes=("@cache",), check=_rebuilt)
    for name, edit in [
        ("null-coefficients", lambda d: d.update(coef=[None] * len(d["coef"]))),
        ("string-coefficient", lambda d: d["coef"].__setitem__(0, "1.0")),
        ("short-coefficients", lambda d: d.update(l1_coef=d["l1_coef"][:-1])),
        ("huge-coefficient", lambda d: d["coef"].__setitem__(0, 1e300)),
        ("null-intercept", _entry_set("intercept", None)),
        ("j-order-out-of-range", lambda d: d["j_order"].append(999)),
        ("k-chosen-negative", _entry_set("k_chosen", -1)),
        ("adopted-string", _entry_set("adopted", "yes")),
        ("ranges-reversed", lambda d: d["ranges"].update(
            rmin=[5.0] * len(d["coef"]), rmax=[1.0] * len(d["coef"]))),
        ("features-not-strings", lambda d: d["ranges"].update(
            features=list(range(len(d["coef"]))))),
        ("params-list", _entry_set("params", [1, 2])),
        ("not-an-object", lambda d: d.clear()),
    ]
] + [
    Case(f"cache-{name}", _corrupt_entry(text), code=0, changes=("@cache",), check=_rebuilt)
    for name, text in [
        ("1e400", '{"format": "rap-studio-fit", "version": 1, "K": 1e400}'),
        ("nan-constant", '{"format": "rap-studio-fit", "version": NaN}'),
        ("deep-nesting", "[" * 100000 + "]" * 100000),
        ("truncated", '{"format": "rap-studio-fit", "vers'),
        ("empty", ""),
        ("binary", "\x00\x01\x02garbage"),
    ]
] + [
    Case("cache-fifo", lambda w: _replace_entry(w, "fifo"), fragment="cache entry"),
    Case("cache-directory", lambda w: _replace_entry(w, "dir"), fragment="cache entry"),
]


def _replace_entry(w: W, kind: str) -> list[str]:
    entry = w.cache_entry()
    entry.unlink()
    if kind == "fifo":
        os.mkfifo(entry)
    else:
        entry.mkdir()
    return ["export", w.small(), *SMALL_ARGS, "--out", w.p("out.pt")]


def ins(mutate=None, **kw) -> Callable[[W], list[str]]:
    """`rap inspect` of the small valid prior changed by `mutate`."""
    return lambda w: ["inspect", w.prior("bad.pt", mutate, **kw)]


ARTIFACTS = [
    Case("artifact-labels-int", ins(_set("labels", list(range(6)))), fragment="labels"),
    Case("artifact-labels-count", ins(_set("labels", ["a"])), fragment="labels"),
    Case("artifact-labels-string", ins(_set("labels", "abcdef")), fragment="labels"),
    Case("artifact-rules-dict", ins(_set("rules", {"V1": 1})), fragment="rules must be a list"),
    Case("artifact-rules-of-ints", ins(_set("rules", [1, 2])), fragment="rules[0]"),
    Case("artifact-vote-sign", ins(_vote(sign=2)), fragment="sign"),
    Case("artifact-vote-position", ins(_vote(position=99)), fragment="position"),
    Case("artifact-vote-weight-nan", ins(_vote(weight=float("nan"))), fragment="weight"),
    Case("artifact-vote-feature-int", ins(_vote(feature=3)), fragment="feature"),
    Case("artifact-source-list", ins(_set("source", [1, 2])), fragment="source must be a dict"),
    Case("artifact-bias-grad", ins(_grad, rehash=True), fragment="grad"),
    Case("artifact-bias-sparse", ins(_sparse), fragment="bad.pt"),
    Case("artifact-bias-1e30", ins(_bias(torch.full((6, 6), 1e30)), rehash=True),
         fragment="max |bias|"),
    Case("artifact-bias-half", ins(_bias(torch.full((6, 6), 0.5)), rehash=True),
         fragment="max |bias|"),
    Case("artifact-bias-float64", ins(_bias(torch.zeros(6, 6, dtype=torch.float64))),
         fragment="float32"),
    Case("artifact-bias-3d", ins(_bias(torch.zeros(2, 3, 3)), rehash=True), fragment="square"),
    Case("artifact-bias-inf", ins(_bias(torch.full((6, 6), float("inf"))), rehash=True),
         fragment="non-finite"),
    Case("artifact-bias-list", ins(_bias([[1.0]])), fragment="tensor"),
    Case("artifact-alpha-huge", ins(_set("alpha_init", 1e38)), fragment="alpha_init"),
    Case("artifact-alpha-bool", ins(_set("alpha_init", True)), fragment="alpha_init"),
    Case("artifact-alpha-string", ins(_set("alpha_init", "1")), fragment="alpha_init"),
    Case("artifact-scale-negative", ins(_set("scale", -1.0)), fragment="scale"),
    Case("artifact-scale-inf", ins(_set("scale", float("inf"))), fragment="scale"),
    Case("artifact-layout-int", ins(_set("layout", 3)), fragment="layout"),
    Case("artifact-version-string", ins(_set("version", "1")), fragment="version"),
    Case("artifact-version-true", ins(_set("version", True)), fragment="version"),
    Case("artifact-hash-int", ins(_set("bias_sha256", 5)), fragment="bias_sha256"),
    Case("artifact-hash-mismatch", ins(_set("bias_sha256", "0" * 64)), fragment="mismatch"),
    Case("artifact-missing-key", ins(lambda p: p.pop("rules")), fragment="missing key"),
    Case("artifact-not-a-dict", lambda w: ["inspect", w.prior("bad.pt", raw=[1, 2])],
         fragment="expected a dict"),
    Case("artifact-two-tensors", lambda w: ["inspect", _two_storages(w)],
         fragment="storages"),
    Case("artifact-zip-deflated-3gib", lambda w: ["inspect", _crafted_zip(w, "z.pt",
                                                                          stored=False)],
         fragment="compressed"),
    Case("artifact-zip-stored-3gib", lambda w: ["inspect", _crafted_zip(w, "z.pt",
                                                                        stored=True)],
         fragment="more than the file holds"),
    Case("artifact-pickle-declares-3gib", lambda w: ["inspect", _pickle_declares_3gib(w)],
         fragment="declares 805306368"),
    Case("artifact-truncated", lambda w: ["inspect", w.text(
        "t.pt", Path(w.prior("full.pt")).read_bytes()[:300])], fragment="not a loadable prior"),
    Case("artifact-empty-file", lambda w: ["inspect", w.text("e.pt", b"")],
         fragment="not a loadable prior"),
    Case("artifact-text-file", lambda w: ["inspect", w.text("t.pt", "hello")],
         fragment="not a loadable prior"),
    Case("artifact-fifo", lambda w: ["inspect", w.fifo("f.pt")], fragment="not a regular file"),
    Case("artifact-directory", lambda w: ["inspect", w.dir("d.pt")], fragment="directory"),
    Case("artifact-missing", lambda w: ["inspect", w.p("none.pt")], fragment="no such prior"),
]


def _symlinked_out(w: W) -> list[str]:
    real = Path(w.text("real.pt", b"old"))
    (w.root / "link.pt").symlink_to(real)
    return E(w)[:-2] + ["--out", w.p("link.pt")]


def _link_kept(w: W) -> None:
    link = w.root / "link.pt"
    assert link.is_symlink(), "the link stays a link"
    assert load_prior(link)["bias"].shape == (80, 80), "the file it points at was written"


def _stale_temp(w: W) -> list[str]:
    w.text(".out.pt.abcd1234.tmp", b"half a prior")
    w.text(".out.pt.keepmine.txt", b"not our pattern")
    return E(w)


def _no_stale_temp(w: W) -> None:
    assert not (w.root / ".out.pt.abcd1234.tmp").exists(), "a dead writer's temp is cleaned"
    assert (w.root / ".out.pt.keepmine.txt").exists(), "only our own pattern is touched"


def _long_name(w: W) -> list[str]:
    return E(w)[:-2] + ["--out", w.p("p" * 250 + ".pt")]


def _long_written(w: W) -> None:
    assert load_prior(w.root / ("p" * 250 + ".pt"))["bias"].shape == (80, 80)


def _hardlink(source: str, w: W, name: str) -> str:
    os.link(source, w.root / name)
    return w.p(name)


def _in_cache(w: W) -> list[str]:
    fits = Path(os.environ["XDG_CACHE_HOME"]) / "rap-studio" / "fits"
    fits.mkdir(parents=True, exist_ok=True)
    return E(w)[:-2] + ["--out", str(fits / "mine.pt")]


def _cache_hardlink(w: W) -> list[str]:
    link = _hardlink(str(w.cache_entry()), w, "entry.pt")
    return ["export", w.small(), *SMALL_ARGS, "--out", link]


def _session_out(w: W) -> list[str]:
    s = w.session("s.json", good_session(demo_sha()))
    return E(w)[:-2] + ["--session", s, "--out", s]


def _session_hardlink_out(w: W) -> list[str]:
    s = w.session("s.json", good_session(demo_sha()))
    return E(w)[:-2] + ["--session", s, "--out", _hardlink(s, w, "s2.json")]


def _readonly_dir(w: W) -> list[str]:
    locked = Path(w.dir("locked"))
    locked.chmod(0o555)
    return E(w)[:-2] + ["--out", str(locked / "p.pt")]


OUTPUTS = [
    Case("out-is-data", lambda w: ["export", w.demo(), "--out", w.p("demo.csv.gz")],
         fragment="is the input"),
    Case("out-hardlinks-data", lambda w: ["export", w.demo(), "--out",
                                          _hardlink(w.p("demo.csv.gz"), w, "h.gz")],
         fragment="is the input"),
    Case("out-symlinks-data", lambda w: (w.demo(), os.symlink(w.p("demo.csv.gz"),
                                                                w.p("l.pt")),
                                         ["export", w.p("demo.csv.gz"), "--out", w.p("l.pt")])[2],
         fragment="is the input"),
    Case("out-is-session", _session_out, fragment="is the input"),
    Case("out-hardlinks-session", _session_hardlink_out, fragment="is the input"),
    Case("out-hardlinks-cache-entry", _cache_hardlink, fragment="is the input"),
    Case("out-inside-cache", _in_cache, fragment="fit cache"),
    Case("out-directory", lambda w: E(w)[:-2] + ["--out", w.dir("outdir")],
         fragment="is a directory"),
    Case("out-fifo", lambda w: E(w)[:-2] + ["--out", w.fifo("o.pt")], fragment="FIFO"),
    Case("out-device", lambda w: E(w)[:-2] + ["--out", "/dev/null"], fragment="device"),
    Case("out-readonly-file", lambda w: E(w)[:-2] + ["--out", w.readonly("ro.pt")],
         fragment="read-only"),
    Case("out-parent-is-file", lambda w: E(w)[:-2] + ["--out", w.text("f", "x") + "/p.pt"],
         fragment="not a directory"),
    Case("out-name-too-long", lambda w: E(w)[:-2] + ["--out", w.p("n" * 300 + ".pt")],
         fragment="name"),
    Case("out-symlink-written-through", _symlinked_out, code=0, changes=("real.pt",),
         check=_link_kept),
    Case("out-stale-temp-cleaned", _stale_temp, code=0, changes=(".out.pt.abcd1234.tmp",),
         check=_no_stale_temp),
    Case("out-253-char-name", _long_name, code=0, check=_long_written),
    Case("demo-out-directory", lambda w: ["demo", "--out", w.dir("dd")], fragment="directory"),
    Case("demo-out-readonly-file", lambda w: ["demo", "--out", w.readonly("d.csv")],
         fragment="read-only"),
    Case("demo-out-fifo", lambda w: ["demo", "--out", w.fifo("d.csv")], fragment="FIFO"),
]
if not IS_ROOT:  # root may write anywhere: the directory's mode cannot refuse it
    OUTPUTS.append(Case("out-readonly-dir", _readonly_dir, fragment="not writable"))
    OUTPUTS.append(Case("demo-out-readonly-dir",
                        lambda w: ["demo", "--out", _readonly_dir(w)[-1]],
                        fragment="not writable"))


def _train(case_id: str, setup, fragment: str) -> Case:
    return Case(case_id, setup, tool="train", fragment=fragment)


TRAINING = [
    _train("train-data-missing", lambda w: ["--data", w.p("none.csv")], "no such file"),
    _train("train-data-fifo", lambda w: ["--data", w.fifo("f.csv")], "not a regular file"),
    _train("train-data-not-csv", lambda w: ["--data", w.text("x.csv", GARBAGE),
                                            "--steps", "1"], "x.csv"),
    _train("train-json-directory", lambda w: ["--json", w.dir("out")], "is a directory"),
    _train("train-json-readonly", lambda w: ["--json", w.readonly("m.json")], "read-only"),
    _train("train-batch-zero", lambda w: ["--batch", "0"], "--batch"),
    _train("train-steps-zero", lambda w: ["--steps", "0"], "--steps"),
    _train("train-bins-one", lambda w: ["--bins", "1"], "--bins"),
    _train("train-n-head-not-dividing", lambda w: ["--n-head", "3"], "--n-head"),
    _train("train-alpha-huge", lambda w: ["--alpha-init", "1e38"], "--alpha-init"),
    _train("train-prior-missing", lambda w: ["--prior", w.p("no.pt")], "no such file"),
    _train("train-steps-text", lambda w: ["--steps", "many"], "--steps"),
    _train("train-unknown-option", lambda w: ["--epochs", "3"], "unrecognized"),
]


def _checkout(w: W, *, crlf: bool = False, bom: bool = False, raw: bytes | None = None) -> Path:
    package = w.root / "co" / "nanochat"
    package.mkdir(parents=True)
    text = FIXTURE_GPT.read_bytes()
    if crlf:
        text = text.replace(b"\n", b"\r\n")
    if bom:
        text = b"\xef\xbb\xbf" + text
    (package / "gpt.py").write_bytes(raw if raw is not None else text)
    return w.root / "co"


def _patch_then_revert(w: W, **kw) -> list[str]:
    root = _checkout(w, **kw)
    assert PATCHER.main([str(root)]) == 0
    return [str(root), "--revert"]


def _others_module(w: W) -> list[str]:
    root = _checkout(w)
    (root / "nanochat" / "rap_prior.py").write_text("# someone else's rap_prior\n")
    return [str(root)]


def _readonly_gpt(w: W) -> list[str]:
    root = _checkout(w)
    (root / "nanochat" / "gpt.py").chmod(0o444)
    return [str(root)]


def _symlinked_gpt(w: W) -> list[str]:
    root = _checkout(w)
    real = w.root / "shared_gpt.py"
    (root / "nanochat" / "gpt.py").rename(real)
    (root / "nanochat" / "gpt.py").symlink_to(real)
    return [str(root)]


def _module_is_dir(w: W) -> list[str]:
    root = _checkout(w)
    (root / "nanochat" / "rap_flex.py").mkdir()
    return [str(root)]


def _mixed_newlines(w: W) -> list[str]:
    text = FIXTURE_GPT.read_bytes().replace(b"\n", b"\r\n", 3)
    return [str(_checkout(w, raw=text))]


def _bad_utf8(w: W, *mode: str) -> list[str]:
    return [str(_checkout(w, raw=FIXTURE_GPT.read_bytes() + b"\n# \xff\xfe\n")), *mode]


def _unchanged_after_round_trip(original: Callable[[], bytes]):
    def check(w: W) -> None:
        gpt = w.root / "co" / "nanochat" / "gpt.py"
        assert gpt.read_bytes() == original(), "apply + revert gives back the exact bytes"
        assert sorted(p.name for p in gpt.parent.iterdir()) == ["gpt.py"]
    return check


PATCHES = [
    Case("patch-crlf-round-trip", lambda w: _patch_then_revert(w, crlf=True), code=0,
         tool="patch", changes=("co",),
         check=_unchanged_after_round_trip(
             lambda: FIXTURE_GPT.read_bytes().replace(b"\n", b"\r\n"))),
    Case("patch-bom-round-trip", lambda w: _patch_then_revert(w, bom=True), code=0,
         tool="patch", changes=("co",),
         check=_unchanged_after_round_trip(lambda: b"\xef\xbb\xbf" + FIXTURE_GPT.read_bytes())),
    Case("patch-invalid-utf8-apply", lambda w: _bad_utf8(w), tool="patch", fragment="UTF-8"),
    Case("patch-invalid-utf8-check", lambda w: _bad_utf8(w, "--check"), tool="patch",
         fragment="UTF-8"),
    Case("patch-invalid-utf8-revert", lambda w: _bad_utf8(w, "--revert"), tool="patch",
         fragment="UTF-8"),
    Case("patch-someone-elses-module", _others_module, tool="patch", fragment="not ours"),
    Case("patch-readonly-gpt", _readonly_gpt, tool="patch", fragment="read-only"),
    Case("patch-symlinked-gpt", _symlinked_gpt, tool="patch", fragment="symbolic link"),
    Case("patch-module-is-directory", _module_is_dir, tool="patch",
         fragment="not a regular file"),
    Case("patch-mixed-newlines", _mixed_newlines, tool="patch", fragment="mixed line endings"),
    Case("patch-no-checkout", lambda w: [w.dir("empty")], tool="patch", fragment="no nanochat"),
    Case("patch-unknown-option", lambda w: [w.p("x"), "--force"], tool="patch",
         fragment="unrecognized"),
]

CASES = DATA + ARGUMENTS + SESSIONS + CACHE + ARTIFACTS + OUTPUTS + TRAINING + PATCHES


def test_the_table_is_large_enough():
    assert len(CASES) >= 80
    assert len({case.id for case in CASES}) == len(CASES), "case ids are unique"


# -- running one row ------------------------------------------------------------------------

def snapshot(root: Path, skip: tuple[str, ...]) -> dict[str, tuple]:
    """rel path -> (kind, content) for every entry under root (links and FIFOs not followed)."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            rel = str(path.relative_to(root))
            if any(rel == s or rel.startswith(s.rstrip("/") + "/") for s in skip):
                continue
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                found[rel] = ("file", path.read_bytes())
            else:
                found[rel] = (stat.S_IFMT(mode), None)
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_input(case, tmp_path, monkeypatch, capsys, warm_cache):
    root = tmp_path / "w"
    root.mkdir()
    cache_src, good_prior = warm_cache
    cache = tmp_path / "cache"
    shutil.copytree(cache_src, cache)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.chdir(root)
    w = W(root, cache)
    w.good_prior = good_prior
    argv = case.setup(w)
    capsys.readouterr()
    skip = tuple(c for c in case.changes if not c.startswith("@"))
    before = snapshot(root, skip)
    cache_before = snapshot(cache, ())
    try:
        with _no_fit_runs(case, cache_src):
            code = TOOLS[case.tool](argv)
    except SystemExit as exc:  # argparse and friends
        code = exc.code
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == case.code, f"exit {code}, stderr: {err}"
    assert "Traceback" not in err
    assert len(err.splitlines()) <= 1, f"one line on stderr, got:\n{err}"
    if case.code != 0:
        assert err, "a refusal says why"
        assert case.fragment.lower() in err.lower(), err
    after = snapshot(root, skip)
    for rel, content in before.items():
        assert after.get(rel) == content, f"{rel} changed"
    if case.code != 0:
        assert set(after) <= set(before), \
            f"a refusal writes nothing: new {sorted(set(after) - set(before))}"
    if "@cache" not in case.changes:
        assert snapshot(cache, ()) == cache_before, "the fit cache is untouched"
    if case.check is not None:
        case.check(w)


@contextlib.contextmanager
def _no_fit_runs(case: Case, warm: Path):
    """Rows answer from the (warm) cache or refuse before fitting: a cutlass run is a failure,
    except where a damaged cache entry must be rebuilt — there the "refit" is the module's own
    fit, read from the warm cache, so the row checks the policy (discard, rebuild, store)."""
    import rap_core.fit as fit_module

    real = fit_module.run_fit
    rebuild = "@cache" in case.changes

    def stand_in(dataset, params=None, **kwargs):
        assert rebuild, "this row must not need a fit"
        entry = next((warm / "rap-studio" / "fits").iterdir())
        return fit_module.Fit.from_json_dict(json.loads(entry.read_text()))

    fit_module.run_fit = stand_in
    try:
        yield
    finally:
        fit_module.run_fit = real


# -- checks that need a real process -------------------------------------------------------

def test_crafted_zip_is_refused_with_bounded_memory(tmp_path):
    """A zip declaring a 3 GiB bias: refused by the archive check, never inflated."""
    w = W(tmp_path, tmp_path)
    crafted = _crafted_zip(w, "crafted.pt", stored=False)
    code = ("import resource, sys\n"
            "from rap_core.cli import main\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "code = main(['inspect', sys.argv[1]])\n"
            "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
            "print(code, grown)\n")
    proc = subprocess.run([sys.executable, "-c", code, crafted], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    status, grown_kib = proc.stdout.split()
    assert status == "2" and "compressed" in proc.stderr
    assert int(grown_kib) < 256 * 1024, "memory stays bounded (far below the declared 3 GiB)"


def test_a_real_subprocess_reports_one_line(tmp_path):
    """The console entry point (not just main()) answers a bad --out in one line, exit 2."""
    (tmp_path / "d").mkdir()
    proc = subprocess.run([sys.executable, "-m", "rap_core.cli", "export", str(demo_path()),
                           "--out", str(tmp_path / "d")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "is a directory" in proc.stderr and "Traceback" not in proc.stderr


def test_full_disk_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, capsys):
    out = tmp_path / "p.pt"
    out.write_bytes(b"the old prior")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert rap_main(["export", str(demo_path()), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "No space left" in err and len(err.splitlines()) == 1
    assert out.read_bytes() == b"the old prior"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.pt"], "no temp file left"


def test_demo_on_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space")))
    assert rap_main(["demo", "--out", str(tmp_path / "demo.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "No space" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_patch_write_failure_rolls_back_the_modules(tmp_path, monkeypatch, capsys):
    """gpt.py cannot be replaced after the modules were copied (an immutable file, a full
    disk): the copies are removed again, so "left untouched" is true."""
    w = W(tmp_path, tmp_path)
    root = _checkout(w)
    before = snapshot(root, ())
    real = PATCHER.write_bytes_atomic

    def failing(path, data, **kwargs):
        if Path(path).name == "gpt.py":
            raise OSError(1, "Operation not permitted", str(path))
        return real(path, data, **kwargs)

    monkeypatch.setattr(PATCHER, "write_bytes_atomic", failing)
    assert PATCHER.main([str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert "rolled back" in err and len(err.splitlines()) == 1
    assert snapshot(root, ()) == before


def test_training_stops_on_a_non_finite_loss(monkeypatch, capsys):
    forward = TRAIN.GPT.forward

    def diverging(self, idx, targets=None, **kwargs):
        out = forward(self, idx, targets=targets, **kwargs)
        return out * float("nan") if targets is not None else out

    monkeypatch.setattr(TRAIN.GPT, "forward", diverging)
    code = TRAIN.main(["--synthetic", "128", "--steps", "3", "--n-layer", "1", "--n-embd",
                       "16", "--n-head", "2"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "training diverged" in err and len(err.splitlines()) == 1


def test_l_without_lag_numbers_stays_in_features(tmp_path):
    """In the TUI, `l` on data without lag numbers keeps the features layout and says why;
    the export dialog does not offer lags."""
    import asyncio

    from rap_core.fit import FitParams, run_fit
    from rap_core.split import train_dataset
    from tui.app import RapStudioApp
    from tui.screens.modals import ExportScreen

    data = W(tmp_path, tmp_path).nolag()
    from rap_core.dataset import load_dataset

    fitted = run_fit(train_dataset(load_dataset(data)), FitParams(Cs=4))

    def fit_fn(dataset, params, *, progress=None, cancel=None):
        return fitted

    async def body():
        app = RapStudioApp(data, fit_fn=fit_fn, deterministic=True)
        notes = []
        app.notify = lambda message, **kw: notes.append(message)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.state == "ready"
            await pilot.press("3", "l")
            await pilot.pause()
            assert app.studio.layout == "features"
            assert any("lag number" in note for note in notes)
            await pilot.press("e")
            await pilot.pause()
            assert isinstance(app.screen, ExportScreen)
            select = app.screen.query_one("#export-layout")
            assert [value for _, value in select._options] == ["features"]

    asyncio.run(body())


# -- kill -9 at random moments -------------------------------------------------------------

def test_kill_9_during_export_never_leaves_a_torn_file(tmp_path, warm_cache):
    """`rap export` killed with SIGKILL 10 times: at random moments (seeded), and — since the
    write itself lasts milliseconds — as soon as its temp file appears. The output is always
    the previous good file or a complete new one, and the next export removes the temp files
    the dead writers left."""
    import time

    out = tmp_path / "prior.pt"
    data = W(tmp_path, tmp_path).small()
    shutil.copytree(warm_cache[0], tmp_path / "cache")  # the fit is cached: no cutlass run
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    command = [sys.executable, "-m", "rap_core.cli", "export", data, *SMALL_ARGS, "--out",
               str(out)]
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    runtime = time.monotonic() - started
    good = load_prior(out)["bias_sha256"]
    rng = random.Random(10)
    for attempt in range(10):
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if attempt % 3:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=runtime * (0.2 + 0.8 * rng.random()))
        else:  # poll (bounded by the process's life) for the writer's temp file
            while proc.poll() is None and not any(
                    name.endswith(".tmp") for name in os.listdir(tmp_path)):
                os.sched_yield()
        proc.kill()
        proc.wait(timeout=30)
        assert load_prior(out)["bias_sha256"] == good, f"torn or changed file after kill {attempt}"
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    assert load_prior(out)["bias_sha256"] == good
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], f"stale temporaries left: {leftovers}"


def test_the_studio_never_writes_over_its_data(tmp_path):
    """The TUI's paths: exporting onto the data (or its session) and autosaving the session
    onto the data are refused in one line, and the data is unchanged."""
    from rap_core.dataset import load_dataset
    from rap_core.errors import RapError
    from rap_core.fit import cached_fit
    from rap_core.split import train_dataset
    from rap_core.studio import Studio

    data = Path(W(tmp_path, tmp_path).demo())
    before = data.read_bytes()
    dataset = load_dataset(data)
    fit = cached_fit(train_dataset(dataset))
    session = tmp_path / "s.json"
    studio = Studio.from_fit(dataset, fit, session_path=session)
    studio.save_session()
    for target in (data, session):
        with pytest.raises(RapError, match="is the input") as info:
            export_prior(export_source(studio), target)
        assert "\n" not in str(info.value)
    with pytest.raises(RapError, match="the data file itself"):
        Studio.from_fit(dataset, fit, session_path=data)
    assert data.read_bytes() == before
