"""The headless core stays headless: importing rap_core never pulls in Textual or torch.

Checked in one fresh interpreter (this test process has both loaded), the way harlequin enforces
its core/UI split: every rap_core module (found on disk, so a new one is covered) is imported in
turn, and the first after which textual or torch is loaded is the culprit. A regression here
means slower start-up for the TUI and pipelines. The layer rules themselves are import-linter
contracts (pyproject.toml, run by .ci/run); cycles are checked in tests/test_architecture.py.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import rap_core

PROBE = """
import importlib, json, sys
first = {}
for name in %r:
    importlib.import_module(name)
    for heavy in ("textual", "torch"):
        if heavy in sys.modules and heavy not in first:
            first[heavy] = name
print(json.dumps(first))
"""


def core_modules() -> list[str]:
    return ["rap_core", *sorted(f"rap_core.{m.name}"
                                for m in pkgutil.iter_modules(rap_core.__path__))]


def _first_importer(modules: list[str]) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-c", PROBE % (modules,)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_no_core_module_imports_textual_or_torch():
    modules = core_modules()
    assert "rap_core.opening" in modules and len(modules) > 30
    first = _first_importer(modules)
    assert "textual" not in first, f"{first['textual']} imports textual: rap_core stays headless"
    assert "torch" not in first, (f"{first['torch']} imports torch at import time: import it "
                                  f"inside the export entry")


def test_nanochat_prior_format_needs_only_torch():
    code = ("import sys, rap_nanochat.rap_prior; "
            "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert "torch" in loaded
    assert "rap_core" not in loaded and "textual" not in loaded
